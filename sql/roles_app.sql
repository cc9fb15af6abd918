--
-- roles_app: what an application role (no biotoken role, owner of its own
-- tables) can and cannot do.  A superuser installed the extension.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_app CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_app AUTHORIZATION regress_biotoken_app;

-- ------------------------------------------------------------------
-- discover() runs no code of a table owner as the admin who calls it
-- ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_biotoken_app;
SET search_path = regress_app;
GRANT USAGE ON SCHEMA regress_app TO PUBLIC;
CREATE TABLE ra_spy (who name, via text);
GRANT INSERT ON ra_spy TO PUBLIC;
-- records who runs it; as an admin it would also grant its owner a grant
CREATE FUNCTION ra_steal(via text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO regress_app.ra_spy VALUES (current_user, via);
  BEGIN
    PERFORM biotoken.grant_audit('regress_biotoken_app', 'stolen by ' || via);
  EXCEPTION WHEN OTHERS THEN NULL;
  END;
  RETURN true;
END
$$;
-- a row-level security policy
CREATE TABLE ra_people (person_id int, national_id text);
INSERT INTO ra_people VALUES (1, '11010519491231002X'), (2, '110105194912310029');
ALTER TABLE ra_people ENABLE ROW LEVEL SECURITY;
CREATE POLICY ra_people_spy ON ra_people USING (ra_steal('policy'));
GRANT SELECT ON ra_people TO PUBLIC;
-- no policy here: the sample query is what would call the operator below
CREATE TABLE ra_cards (card_no text);
INSERT INTO ra_cards VALUES ('4111111111111111'), ('5500000000000004');
GRANT SELECT ON ra_cards TO PUBLIC;
ANALYZE ra_cards;
-- an operator that matches the discovery queries' types better than
-- pg_catalog's (real / integer), on the admin's search_path
CREATE FUNCTION public.ra_div(real, integer) RETURNS double precision
  LANGUAGE sql AS $$ SELECT CASE WHEN regress_app.ra_steal('operator') THEN $1::float8 / $2 END $$;
CREATE OPERATOR public./ (LEFTARG = real, RIGHTARG = integer, FUNCTION = public.ra_div);
RESET SESSION AUTHORIZATION;
RESET search_path;

SET SESSION AUTHORIZATION regress_biotoken_admin;
SET client_min_messages = warning;	-- notices name other tests' tables
SELECT relation, column_name, suggested_category
  FROM biotoken.discover() WHERE relation::text LIKE 'regress_app.%';
RESET client_min_messages;
RESET SESSION AUTHORIZATION;
-- nothing ran as the admin, and no grant was made
SELECT who, via FROM regress_app.ra_spy;
SELECT count(*) AS stolen_grants FROM biotoken.audit_grants WHERE purpose LIKE 'stolen%';
DROP OPERATOR public./ (real, integer);
DROP FUNCTION public.ra_div(real, integer);

-- ------------------------------------------------------------------
-- enroll and verify; verify answers yes or no at the threshold in force
-- and is no score oracle
-- ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_biotoken_app;
SET search_path = regress_app, public;
CREATE TABLE ra_faces (person_id int PRIMARY KEY, face biometric);
INSERT INTO ra_faces VALUES (1, regress_emb(1)), (2, regress_emb(2));
SELECT person_id, biometric_verify(face, regress_emb(1, 128, 0.2)) AS same_face
  FROM ra_faces ORDER BY person_id;
SHOW biotoken.match_threshold;
SELECT biometric_verify(face, regress_emb(1), 0.2) FROM ra_faces WHERE person_id = 1;
SELECT biometric_verify(face, regress_emb(3), 0.38) FROM ra_faces WHERE person_id = 1;
-- the first steps of a binary search for the distance are refused
SELECT biometric_verify(face, regress_emb(3), 0.5) FROM ra_faces WHERE person_id = 1;	-- fail (above the threshold)
SELECT biometric_verify(face, regress_emb(3), 1.0) FROM ra_faces WHERE person_id = 1;	-- fail (above the threshold)
SELECT biometric_verify(face, regress_emb(3), 0.380001) FROM ra_faces WHERE person_id = 1;	-- fail (above the threshold)
-- and the threshold cannot be widened
SET biotoken.match_threshold = 0.9;	-- fail (superuser only)
SELECT set_config('biotoken.match_threshold', '0.9', true);	-- fail (superuser only)
CREATE FUNCTION ra_wide(t biometric, p float4[]) RETURNS boolean LANGUAGE sql
  SET biotoken.match_threshold = 0.9 AS $$ SELECT biometric_verify(t, p) $$;	-- fail (superuser only)
SELECT biometric_distance(face, regress_emb(3)) FROM ra_faces WHERE person_id = 1;	-- fail (no score)
RESET SESSION AUTHORIZATION;
-- a threshold a superuser sets (here for the session; ALTER ROLE or
-- ALTER DATABASE ... SET for good) is the new limit
SET biotoken.match_threshold = 0.45;
SET SESSION AUTHORIZATION regress_biotoken_app;
SELECT biometric_verify(face, regress_emb(3), 0.45) FROM ra_faces WHERE person_id = 1;
SELECT biometric_verify(face, regress_emb(3), 0.46) FROM ra_faces WHERE person_id = 1;	-- fail (above the threshold)
RESET SESSION AUTHORIZATION;
RESET biotoken.match_threshold;

-- ------------------------------------------------------------------
-- model profiles: an admin (not a superuser) registers one, the
-- application enrolls and verifies with it
-- ------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.register_model('regress_app_model', 128,
         (SELECT array_agg(0.01::float4) FROM generate_series(1, 128))) > 0 AS registered;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_app;
SET search_path = regress_app, public;
SET biotoken.model = 'regress_app_model';
CREATE TABLE ra_profiled (person_id int, face biometric);
INSERT INTO ra_profiled VALUES (1, regress_emb(1)), (2, regress_emb(2));
SELECT person_id, (biometric_info(face)).model, biometric_verify(face, regress_emb(1, 128, 0.2)) AS same_face
  FROM ra_profiled ORDER BY person_id;
-- a template records its profile: verify uses it whatever biotoken.model says
RESET biotoken.model;
SELECT person_id, biometric_verify(face, regress_emb(1, 128, 0.2)) AS same_face
  FROM ra_profiled ORDER BY person_id;
-- the mean itself stays unreadable
SELECT mean FROM biotoken.model_profiles;	-- fail (no SELECT on mean)
SELECT name, dims FROM biotoken.model_profiles WHERE name = 'regress_app_model';
SET biotoken.model = 'regress_no_such_model';
SELECT biometric_enroll(regress_emb(1));	-- fail (no such profile)
RESET biotoken.model;
RESET SESSION AUTHORIZATION;

-- the profile cache is bounded: 200 profiles used in one session keep at
-- most 64 in memory (2.4 kB each here; 200 would be 480 kB)
SET client_min_messages = warning;
SELECT count(biotoken.register_model('regress_app_m' || i, 600,
         array_fill(0.01::float4, ARRAY[600])))
  FROM generate_series(1, 200) i;
RESET client_min_messages;
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    PERFORM set_config('biotoken.model', 'regress_app_m' || i, true);
    PERFORM biometric_enroll(regress_emb(i, 600));
  END LOOP;
END
$$;
SELECT total_bytes < 300000 AS cache_bounded
  FROM pg_backend_memory_contexts WHERE name = 'biotoken model cache';
