-- tests/02_template_inputs.sql: thousands of mutated and random inputs
-- through the real input functions in a backend: each is accepted or
-- refused with one of the documented SQLSTATEs, and the backend survives.
-- (The parsers alone are fuzzed by libFuzzer in tests/fuzz/.)
BEGIN;
SELECT plan(6);

SELECT setseed(0.42);

CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(replace(replace(encode(b, 'base64'), E'\n', ''), '=', ''), '+/', '-_')
$$;

-- SQLSTATE of running q, or 'ok'
CREATE FUNCTION pg_temp.state_of(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END
$$;

CREATE TEMP TABLE valid AS
  SELECT biometric_send(biometric_enroll(
           (SELECT array_agg((random() - 0.5)::float4) FROM generate_series(1, d)))) AS rec
    FROM (VALUES (1), (7), (128), (512)) AS v(d);

-- one to three random bytes of a valid record replaced
CREATE TEMP TABLE mutated AS
  SELECT m.rec AS rec
    FROM (SELECT v.rec, g FROM valid v, generate_series(1, 500) g) s,
         LATERAL (SELECT set_byte(set_byte(s.rec,
                    (random() * (length(s.rec) - 1))::int, (random() * 255)::int),
                    (random() * 14)::int, (random() * 255)::int) AS rec) m;

CREATE TEMP TABLE text_results AS
  SELECT pg_temp.state_of(format('SELECT %L::biometric', 'bt1:' || pg_temp.b64url(rec))) AS st
    FROM mutated;
SELECT is((SELECT count(*) FROM text_results WHERE st NOT IN ('ok', '22P02', '22023')), 0::bigint,
          '2000 mutated records as text: accepted, 22P02 or 22023');
SELECT cmp_ok((SELECT count(*) FROM text_results WHERE st <> 'ok'), '>', 0::bigint,
              'some mutations are refused');

-- random strings over the base64url alphabet and beyond
CREATE TEMP TABLE random_text AS
  SELECT 'bt1:' || string_agg(substr('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ',
                                     (random() * 67)::int + 1, 1), '') AS t
    FROM generate_series(1, 1000) g, generate_series(1, (g % 97) + 1) i
   GROUP BY g;
SELECT is((SELECT count(*) FROM random_text
            WHERE pg_temp.state_of(format('SELECT %L::biometric', t)) NOT IN ('ok', '22P02', '22023')),
          0::bigint, '1000 random strings: accepted, 22P02 or 22023');

-- random embeddings with NaN, infinities, zeros and NULLs mixed in
CREATE TEMP TABLE random_emb AS
  SELECT array_agg(CASE (random() * 20)::int
                     WHEN 0 THEN 'NaN'::float4
                     WHEN 1 THEN 'Infinity'::float4
                     WHEN 2 THEN NULL
                     WHEN 3 THEN 0
                     ELSE (random() - 0.5)::float4 END) AS e
    FROM generate_series(1, 1000) g, generate_series(1, (g % 40) + 1) i
   GROUP BY g;
CREATE TEMP TABLE emb_results AS
  SELECT pg_temp.state_of(format('SELECT biometric_enroll(%L::float4[])', e)) AS st FROM random_emb;
SELECT is((SELECT count(*) FROM emb_results WHERE st NOT IN ('ok', '22023', '22000')), 0::bigint,
          '1000 random embeddings: enrolled, 22023 or 22000');
SELECT cmp_ok((SELECT count(*) FROM emb_results WHERE st = 'ok'), '>', 0::bigint,
              'some random embeddings enroll');

-- every probe against every valid template: verified or refused properly
SELECT is((SELECT count(*) FROM valid v, random_emb r
            WHERE pg_temp.state_of(format('SELECT biometric_verify(%L::biometric, %L::float4[])',
                                          'bt1:' || pg_temp.b64url(v.rec), r.e))
                  NOT IN ('ok', '22023', '22000')),
          0::bigint, '4000 template/probe pairs: answered, 22023 or 22000');

SELECT * FROM finish();
ROLLBACK;
