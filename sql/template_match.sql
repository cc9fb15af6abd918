--
-- template_match: verify, distance, identification, rekey, model profiles
-- and the privileges of score-returning functions
--
CREATE TABLE regress_people (id int PRIMARY KEY, name text, face biometric);
INSERT INTO regress_people
  SELECT g, 'person ' || g, regress_emb(g) FROM generate_series(1, 50) g;
GRANT SELECT ON regress_people TO PUBLIC;

-- distances: 0 for the same embedding, about 0.5 for unrelated ones,
-- 1 for the negated one; small for a noisy second capture
SELECT round(biometric_distance(face, regress_emb(1))::numeric, 2) AS same,
       round(biometric_distance(face, regress_emb(1, 128, 0.3))::numeric, 1) < 0.3 AS noisy_capture_close,
       biometric_distance(face, regress_emb(2)) BETWEEN 0.35 AND 0.65 AS unrelated_near_half,
       round(biometric_distance(face, (SELECT array_agg(-x) FROM unnest(regress_emb(1)) x))::numeric, 2) AS negated,
       round(biometric_distance(face, (SELECT array_agg(x * 1000)::float4[] FROM unnest(regress_emb(1)) x))::numeric, 2) AS scaled
  FROM regress_people WHERE id = 1;

-- the operator is the same distance
SELECT bool_and(face <~> regress_emb(3) = biometric_distance(face, regress_emb(3))) AS operator_is_distance
  FROM regress_people;

-- verify: default threshold and an explicit one
SHOW biotoken.match_threshold;
SELECT biometric_verify(face, regress_emb(1)) AS same,
       biometric_verify(face, regress_emb(1, 128, 0.3)) AS noisy,
       biometric_verify(face, regress_emb(2)) AS other,
       biometric_verify(face, regress_emb(1, 128, 0.3), 0.0) AS strict,
       biometric_verify(face, regress_emb(2), 1.0) AS lax
  FROM regress_people WHERE id = 1;
SELECT biometric_verify(face, regress_emb(1), 1.5) FROM regress_people WHERE id = 1;  -- fail
SELECT biometric_verify(face, regress_emb(1), 'NaN') FROM regress_people WHERE id = 1;  -- fail
SELECT biometric_verify(face, regress_emb(1), NULL) IS NULL AS null_threshold FROM regress_people WHERE id = 1;
SET biotoken.match_threshold = 0.0;
SELECT biometric_verify(face, regress_emb(1, 128, 0.3)) AS noisy_at_zero FROM regress_people WHERE id = 1;
RESET biotoken.match_threshold;
SET biotoken.match_threshold = 2;  -- fail (out of range)

-- each row with its own probe (the per-call probe cache is keyed on the
-- probe's value, not on the call site alone)
CREATE TABLE regress_probes AS
  SELECT g AS id, regress_emb(g, 128, 0.3, 2) AS probe FROM generate_series(1, 50) g;
SELECT count(*) FILTER (WHERE biometric_verify(p.face, q.probe)) AS own_probe_matches,
       count(*) AS rows
  FROM regress_people p JOIN regress_probes q USING (id);
SELECT count(*) FILTER (WHERE biometric_verify(p.face, q.probe)) AS other_probe_matches
  FROM regress_people p JOIN regress_probes q ON q.id = p.id % 50 + 1;

-- 1:N identification: the nearest template is the right person
SELECT q.id AS probe_of,
       (SELECT p.id FROM regress_people p ORDER BY p.face <~> q.probe LIMIT 1) AS identified
  FROM regress_probes q WHERE q.id IN (5, 17, 42) ORDER BY q.id;
SELECT id FROM regress_people ORDER BY face <~> regress_emb(23, 128, 0.2) LIMIT 1;

-- two templates of the same key
SELECT round((a.face <~> b.face)::numeric, 2) AS same_face_twice
  FROM regress_people a, (SELECT biometric_enroll(regress_emb(9)) AS face) b WHERE a.id = 9;
SELECT biometric_distance(a.face, b.face) BETWEEN 0.35 AND 0.65 AS different_faces_near_half
  FROM regress_people a, regress_people b WHERE a.id = 1 AND b.id = 2;

-- probe errors
SELECT biometric_distance(face, regress_emb(1, 64)) FROM regress_people WHERE id = 1;  -- fail (dimension mismatch)
SELECT biometric_verify(face, '{}') FROM regress_people WHERE id = 1;  -- fail (empty probe)
SELECT biometric_verify(face, '{0.5,NaN}') FROM regress_people WHERE id = 1;  -- fail (NaN and mismatch: the mismatch is reported first)
SELECT biometric_verify(face, array_fill(0::float4, ARRAY[128])) FROM regress_people WHERE id = 1;  -- fail (zero probe)
SELECT face <~> biometric_enroll(regress_emb(1, 512)) FROM regress_people WHERE id = 1;  -- fail (different shapes)
SELECT regress_sqlstate($$SELECT biometric_verify(face, regress_emb(1, 64)) FROM regress_people$$) AS mismatch,
       regress_sqlstate($$SELECT biometric_verify(face, array_fill(0::float4, ARRAY[128])) FROM regress_people$$) AS zero;

-- rekey: new salt, same projection, so the same distances
SELECT a::text <> b::text AS resalted,
       biometric_info(a) = biometric_info(b) AS same_info,
       biometric_distance(a, regress_emb(4, 128, 0.3)) = biometric_distance(b, regress_emb(4, 128, 0.3)) AS same_distance,
       (a <~> b) = 0 AS same_bits
  FROM (SELECT face AS a, biometric_rekey(face) AS b FROM regress_people WHERE id = 4) s;

--
-- privileges: a score lets an attacker hill-climb, so scores are for
-- biotoken_matcher; verify (yes or no) is for everyone
--
SET ROLE regress_biotoken_app;
SELECT biometric_verify(face, regress_emb(1)) FROM regress_people WHERE id = 1;
SELECT biometric_distance(face, regress_emb(1)) FROM regress_people WHERE id = 1;  -- fail
SELECT id FROM regress_people ORDER BY face <~> regress_emb(1) LIMIT 1;  -- fail
SELECT a.face <~> b.face FROM regress_people a, regress_people b WHERE a.id = 1 AND b.id = 2;  -- fail
RESET ROLE;
SET ROLE regress_biotoken_matcher;
SELECT id FROM regress_people ORDER BY face <~> regress_emb(1) LIMIT 1;
RESET ROLE;

--
-- model profiles
--
SET ROLE regress_biotoken_app;
SELECT biotoken.register_model('regress_model', 128, array_fill(0.1::float4, ARRAY[128]));  -- fail (admins only)
RESET ROLE;
SET ROLE regress_biotoken_admin;
SELECT biotoken.register_model('regress_model', 128, array_fill(0.1::float4, ARRAY[128])) > 0 AS registered;
SELECT biotoken.register_model('regress_model', 128, array_fill(0.1::float4, ARRAY[128]));  -- fail (duplicate)
SELECT biotoken.register_model('regress_bad', 4, '{1,2,3}');  -- fail (length)
SELECT biotoken.register_model('regress_bad', 2, '{1,NaN}');  -- fail (not finite)
SELECT biotoken.register_model('', 2, '{1,2}');  -- fail (empty name)
RESET ROLE;
SELECT name, dims FROM biotoken.model_profiles ORDER BY name;
UPDATE biotoken.model_profiles SET dims = 3;  -- fail (append-only)
DELETE FROM biotoken.model_profiles;  -- fail (append-only)
TRUNCATE biotoken.model_profiles;  -- fail (append-only)

SET biotoken.model = 'regress_model';
CREATE TABLE regress_centred (id int, face biometric);
INSERT INTO regress_centred SELECT g, regress_emb(g) FROM generate_series(1, 20) g;
SELECT DISTINCT (biometric_info(face)).model FROM regress_centred;
-- probes are centred on the profile the template records, whatever the
-- session's setting
RESET biotoken.model;
SELECT count(*) FILTER (WHERE biometric_verify(face, regress_emb(id))) AS own,
       count(*) FILTER (WHERE biometric_verify(face, regress_emb(id + 1))) AS other
  FROM regress_centred;
SELECT biometric_distance(face, regress_emb(1, 128)) = 0 AS exact FROM regress_centred WHERE id = 1;
-- an embedding equal to the mean is a zero vector once centred
SET biotoken.model = 'regress_model';
SELECT biometric_enroll(array_fill(0.1::float4, ARRAY[128]));  -- fail
SELECT biometric_enroll(regress_emb(1, 64));  -- fail (dimension mismatch with the profile)
SET biotoken.model = 'regress_no_such_model';
SELECT biometric_enroll(regress_emb(1));  -- fail (unknown profile)
RESET biotoken.model;
-- templates of different profiles are not compared
SELECT a.face <~> b.face FROM regress_centred a, regress_people b WHERE a.id = 1 AND b.id = 1;  -- fail

DROP TABLE regress_centred, regress_probes;
