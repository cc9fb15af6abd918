--
-- template_io: the biometric type's storage, text and binary forms, and
-- every malformed input with its SQLSTATE.  Templates are salted: this
-- file never prints one, only booleans, lengths and biometric_info().
--
CREATE TABLE regress_tio (id int PRIMARY KEY, face biometric);

-- enrollment through the function and through the assignment cast
INSERT INTO regress_tio VALUES (1, biometric_enroll(regress_emb(1)));
INSERT INTO regress_tio VALUES (2, regress_emb(2));
INSERT INTO regress_tio SELECT g, regress_emb(g, 512) FROM generate_series(3, 4) g;
INSERT INTO regress_tio VALUES (5, regress_emb(5, 3));
INSERT INTO regress_tio VALUES (6, NULL::float4[]);

SELECT id, (biometric_info(face)).* FROM regress_tio ORDER BY id;

-- stored size: bits/8 + 26 bytes of header and salt (+ 1 byte varlena header)
SELECT id, pg_column_size(face) AS bytes, (biometric_info(face)).bits / 8 AS bit_bytes
  FROM regress_tio WHERE face IS NOT NULL ORDER BY id;

-- text form: versioned prefix, printable, round-trips exactly
SELECT id, left(face::text, 4) AS prefix, face::text ~ '^bt1:[A-Za-z0-9_-]+$' AS printable,
       face::text::biometric::text = face::text AS text_round_trip
  FROM regress_tio WHERE face IS NOT NULL ORDER BY id;

-- binary form round-trips through COPY (FORMAT binary)
SELECT '/tmp/biotoken_regress_tio_' || pg_backend_pid() || '.bin' AS binfile,
       'rm -f /tmp/biotoken_regress_tio_' || pg_backend_pid() || '.bin' AS binfile_rm \gset
COPY regress_tio TO :'binfile' (FORMAT binary);
CREATE TABLE regress_tio_copy (LIKE regress_tio);
COPY regress_tio_copy FROM :'binfile' (FORMAT binary);
SELECT count(*) AS rows,
       count(*) FILTER (WHERE biometric_send(a.face) = biometric_send(b.face)) AS same_binary,
       count(*) FILTER (WHERE a.face::text = b.face::text) AS same_text
  FROM regress_tio a JOIN regress_tio_copy b USING (id);

-- and through text COPY
COPY regress_tio TO :'binfile';
TRUNCATE regress_tio_copy;
COPY regress_tio_copy FROM :'binfile';
SELECT count(*) FILTER (WHERE a.face::text = b.face::text) AS same_text,
       count(*) FILTER (WHERE a.face IS NULL AND b.face IS NULL) AS both_null
  FROM regress_tio a JOIN regress_tio_copy b USING (id);

-- the binary form is the record of the text form
SELECT bool_and(regress_b64url(biometric_send(face)) = substr(face::text, 5)) AS binary_is_text_payload
  FROM regress_tio WHERE face IS NOT NULL;

-- two enrollments of the same embedding: different salts, so different
-- stored templates, with the same info, and they still match
SELECT a::text <> b::text AS salted,
       substr(biometric_send(a), 15, 12) <> substr(biometric_send(b), 15, 12) AS different_salt,
       biometric_info(a) = biometric_info(b) AS same_info,
       biometric_verify(a, regress_emb(7)) AND biometric_verify(b, regress_emb(7)) AS both_match
  FROM (SELECT biometric_enroll(regress_emb(7)) AS a, biometric_enroll(regress_emb(7)) AS b) s;

-- the stored bits are masked: no two templates share their bits even for
-- the same face, and the raw embedding's bytes appear nowhere in them
SELECT position(float4send((regress_emb(7))[1]) IN biometric_send(biometric_enroll(regress_emb(7)))) AS embedding_bytes_found;

-- template_bits: auto is 2 x dims; a fixed size can be set by a superuser
SET biotoken.template_bits = 1024;
SELECT (biometric_info(biometric_enroll(regress_emb(1)))).bits;
SET biotoken.template_bits = 64;
SELECT (biometric_info(biometric_enroll(regress_emb(1)))).bits;
RESET biotoken.template_bits;
SELECT (biometric_info(biometric_enroll(regress_emb(1, 100)))).bits AS auto_bits_for_100_dims;
SET biotoken.template_bits = 100;  -- fail (not a multiple of 64)
SET biotoken.template_bits = 32832;  -- fail (too large)
SET biotoken.template_bits = 'many';  -- fail (not a number)
SET ROLE regress_biotoken_app;
SET biotoken.template_bits = 512;  -- fail (superuser only)
RESET ROLE;

--
-- malformed text input: 22P02, and the message never echoes the input
--
SELECT '{0.1,0.2,0.3}'::biometric;  -- fail (a raw embedding is never text input)
SELECT 'bt2:AQAAAQABAIAAQAAAAAA'::biometric;  -- fail (unknown version prefix)
SELECT 'bt1:'::biometric;  -- fail (empty)
SELECT 'bt1:$$$$'::biometric;  -- fail (not base64url)
SELECT ' bt1:AAAA'::biometric;  -- fail (leading space)

-- records built from a valid template with one field changed
CREATE TABLE regress_tio_bad (what text, rec bytea);
INSERT INTO regress_tio_bad
SELECT what, rec FROM (SELECT biometric_send(face) AS r FROM regress_tio WHERE id = 1) t,
LATERAL (VALUES
  ('valid',             r),
  ('format 2',          overlay(r PLACING '\x02'::bytea FROM 1 FOR 1)),
  ('flags set',         overlay(r PLACING '\x01'::bytea FROM 2 FOR 1)),
  ('key id 0',          overlay(r PLACING '\x0000'::bytea FROM 3 FOR 2)),
  ('key id 7',          overlay(r PLACING '\x0007'::bytea FROM 3 FOR 2)),
  ('projection key 9',  overlay(r PLACING '\x0009'::bytea FROM 5 FOR 2)),
  ('dims 0',            overlay(r PLACING '\x0000'::bytea FROM 7 FOR 2)),
  ('dims 16001',        overlay(r PLACING '\x3e81'::bytea FROM 7 FOR 2)),
  ('bits 100',          overlay(r PLACING '\x0064'::bytea FROM 9 FOR 2)),
  ('bits 0',            overlay(r PLACING '\x0000'::bytea FROM 9 FOR 2)),
  ('bits 512',          overlay(r PLACING '\x0200'::bytea FROM 9 FOR 2)),
  ('truncated',         substr(r, 1, length(r) - 1)),
  ('one byte longer',   r || '\x00'::bytea),
  ('header only',       substr(r, 1, 14)),
  ('empty',             ''::bytea)
) AS v(what, rec);

SELECT what, regress_sqlstate(format('SELECT %L::biometric', 'bt1:' || regress_b64url(rec))) AS text_input
  FROM regress_tio_bad ORDER BY what;

-- a non-canonical encoding of a valid record (unused low bits set)
SELECT regress_sqlstate(format('SELECT %L::biometric',
         'bt1:' || regress_b64url(rec) || 'B')) AS extra_char,
       regress_sqlstate(format('SELECT %L::biometric',
         'bt1:' || left(regress_b64url(rec), -1) ||
         translate(right(regress_b64url(rec), 1), 'AQgw', 'BRhx'))) AS noncanonical_tail
  FROM regress_tio_bad WHERE what = 'valid';

-- an unknown key id is a bad value, with a hint
SELECT ('bt1:' || regress_b64url(rec))::biometric FROM regress_tio_bad WHERE what = 'key id 7';  -- fail
-- a malformed record, with the default verbosity
SELECT ('bt1:' || regress_b64url(rec))::biometric FROM regress_tio_bad WHERE what = 'bits 100';  -- fail

-- the same records through binary input (COPY FORMAT binary of a bytea
-- column writes exactly the bytes biometric_recv reads)
CREATE FUNCTION regress_recv(rec bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  f text := '/tmp/biotoken_regress_recv_' || pg_backend_pid() || '.bin';
BEGIN
  EXECUTE format('COPY (SELECT %L::bytea) TO %L (FORMAT binary)', rec, f);
  CREATE TEMP TABLE regress_recv_t (face biometric);
  BEGIN
    EXECUTE format('COPY regress_recv_t FROM %L (FORMAT binary)', f);
    DROP TABLE regress_recv_t;
    EXECUTE format('COPY (SELECT WHERE false) TO PROGRAM %L', 'rm -f ' || f);
    RETURN 'ok';
  EXCEPTION WHEN OTHERS THEN
    DROP TABLE regress_recv_t;
    EXECUTE format('COPY (SELECT WHERE false) TO PROGRAM %L', 'rm -f ' || f);
    RETURN SQLSTATE || ': ' || SQLERRM;
  END;
END
$$;
SELECT what, regress_recv(rec) AS binary_input FROM regress_tio_bad ORDER BY what;

--
-- bad embeddings: 22023 / 22000 / 54000, never echoing a value
--
SELECT biometric_enroll('{}');  -- fail (empty)
SELECT biometric_enroll('{{0.5,0.25},{0.125,1.5}}');  -- fail (two-dimensional)
SELECT biometric_enroll('{0.5,NULL,0.25}');  -- fail (null element)
SELECT biometric_enroll('{0.123456,NaN}');  -- fail (NaN)
SELECT biometric_enroll('{0.123456,Infinity}');  -- fail (Infinity)
SELECT biometric_enroll('{-Infinity,0.123456}');  -- fail (-Infinity)
SELECT biometric_enroll('{0,0,0,0}');  -- fail (zero vector)
-- large but finite values are fine: the norm is computed in double precision
SELECT (biometric_info(biometric_enroll('{3e38,-3e38,3e38}'))).dims;
SELECT biometric_enroll(array_fill(0.5::float4, ARRAY[16001]));  -- fail (too many dimensions)
SELECT biometric_enroll(NULL) IS NULL AS null_in_null_out;
INSERT INTO regress_tio VALUES (99, '{0.5,NaN}'::float4[]);  -- fail (through the cast)
SELECT regress_sqlstate($$SELECT biometric_enroll('{}')$$) AS empty,
       regress_sqlstate($$SELECT biometric_enroll('{0.5,NULL}')$$) AS null_elem,
       regress_sqlstate($$SELECT biometric_enroll('{NaN}')$$) AS nan,
       regress_sqlstate($$SELECT biometric_enroll('{0,0}')$$) AS zero;
SELECT regress_sqlstate($$SELECT biometric_enroll(array_fill(0.5::float4, ARRAY[16001]))$$) AS too_big;

-- a one-element embedding and the largest supported one are fine
SELECT (biometric_info(biometric_enroll('{0.5}'))).dims;
SELECT (biometric_info(biometric_enroll(array_fill(0.5::float4, ARRAY[16000])))).bits;

DROP TABLE regress_tio_bad, regress_tio_copy;
DROP FUNCTION regress_recv(bytea);
-- remove the COPY file (the server wrote it, so the server removes it)
COPY (SELECT WHERE false) TO PROGRAM :'binfile_rm';
