--
-- template_typmod: biometric(N) fixes a column's template size, and
-- embeddings arrive as real[] or double precision[] -- as an ordinary
-- application role, which cannot change biotoken.template_bits
--
CREATE ROLE regress_biotoken_dev;
GRANT CREATE ON SCHEMA public TO regress_biotoken_dev;
SET ROLE regress_biotoken_dev;

-- the modifier: a multiple of 64 in range, one of it
CREATE TABLE regress_sized (id int PRIMARY KEY, face biometric(256));
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'regress_sized'::regclass AND attname = 'face';
CREATE TABLE regress_bad (face biometric(100));   -- fail
CREATE TABLE regress_bad (face biometric(0));     -- fail
CREATE TABLE regress_bad (face biometric(65536)); -- fail
CREATE TABLE regress_bad (face biometric(256, 2)); -- fail

-- the application role cannot pick the size per session
SET biotoken.template_bits = 512;  -- fail (superuser setting)

-- assigning an embedding enrolls at the column's size: 128 dims would give
-- 256 bits by default, 64 dims 128 bits; both get 256 here
INSERT INTO regress_sized VALUES (1, regress_emb(1)), (2, regress_emb(2, 64));
SELECT id, (biometric_info(face)).dims, (biometric_info(face)).bits
  FROM regress_sized ORDER BY id;

-- double precision[] (what psycopg 3 and most drivers send for floats)
-- enrolls by the same cast, and matches a real[] probe of the same face
INSERT INTO regress_sized VALUES (3, regress_emb(3)::float8[]);
PREPARE enroll(int, float8[]) AS INSERT INTO regress_sized VALUES ($1, $2);
EXECUTE enroll(4, regress_emb(4)::float8[]);
SELECT id, (biometric_info(face)).bits,
       biometric_verify(face, regress_emb(id)) AS same,
       biometric_verify(face, regress_emb(id + 1)) AS other
  FROM regress_sized WHERE id IN (3, 4) ORDER BY id;
-- a double beyond real's range is refused like infinity, naming no value
INSERT INTO regress_sized VALUES (5, ARRAY[1e300, 1]::float8[]);  -- fail
UPDATE regress_sized SET face = regress_emb(5)::float8[] WHERE id = 4;
SELECT biometric_verify(face, regress_emb(5)) FROM regress_sized WHERE id = 4;
RESET ROLE;

-- a template of another size does not fit, by any path
SET biotoken.template_bits = 512;
SET ROLE regress_biotoken_dev;
INSERT INTO regress_sized VALUES (6, biometric_enroll(regress_emb(6)));  -- fail
SELECT regress_sqlstate($$INSERT INTO regress_sized VALUES (6, biometric_enroll(regress_emb(6)))$$);
CREATE TABLE regress_wide (face biometric);
INSERT INTO regress_wide VALUES (regress_emb(7));
SELECT (biometric_info(face)).bits FROM regress_wide;
INSERT INTO regress_sized SELECT 7, face FROM regress_wide;  -- fail
UPDATE regress_sized SET face = (SELECT face FROM regress_wide) WHERE id = 1;  -- fail
SELECT regress_sqlstate($$SELECT face::biometric(256) FROM regress_wide$$);
SELECT count(*) FROM regress_wide WHERE face::biometric(512) IS NOT NULL;
-- the text form (COPY, pg_restore) is checked too
CREATE TEMP TABLE regress_txt AS SELECT face::text AS t FROM regress_wide;
SELECT regress_sqlstate($$INSERT INTO regress_sized SELECT 8, t::biometric FROM regress_txt$$);
SELECT regress_sqlstate(format('INSERT INTO regress_sized VALUES (8, %L)', t)) FROM regress_txt;
-- an ALTER to a fixed size checks every row
SELECT regress_sqlstate($$ALTER TABLE regress_wide ALTER COLUMN face TYPE biometric(256)$$);
ALTER TABLE regress_wide ALTER COLUMN face TYPE biometric(512);
SELECT format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'regress_wide'::regclass AND attname = 'face';
-- rekey keeps the size, so it fits the column
UPDATE regress_sized SET face = biometric_rekey(face);
SELECT count(*) AS still_256 FROM regress_sized WHERE (biometric_info(face)).bits = 256;
RESET ROLE;
RESET biotoken.template_bits;

-- the one-argument enroll still takes an untyped array literal
SELECT (biometric_info(biometric_enroll('{0.5,0.25,0.125}'))).dims;

DROP TABLE regress_sized, regress_wide, regress_txt;
REVOKE CREATE ON SCHEMA public FROM regress_biotoken_dev;
DROP ROLE regress_biotoken_dev;
