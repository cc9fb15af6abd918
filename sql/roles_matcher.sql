--
-- roles_matcher: a member of biotoken_matcher identifies (scores, ORDER
-- BY face <~> probe LIMIT k, verify at any distance) but gains nothing
-- else: no combining, no grants, no log, no settings.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_match CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_match;
GRANT USAGE ON SCHEMA regress_match TO PUBLIC;
CREATE TABLE regress_match.rm_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE regress_match.rm_ids (person_id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN regress_match.rm_ids.national_id IS 'identity';
INSERT INTO regress_match.rm_faces SELECT i, regress_emb(i) FROM generate_series(1, 5) i;
INSERT INTO regress_match.rm_ids VALUES (1, 'A1');
GRANT SELECT ON ALL TABLES IN SCHEMA regress_match TO PUBLIC;

SET SESSION AUTHORIZATION regress_biotoken_matcher;
SET search_path = regress_match, public;
-- what it is for
SELECT person_id FROM rm_faces ORDER BY face <~> regress_emb(3, 128, 0.2) LIMIT 1;
SELECT round(biometric_distance(face, regress_emb(3))::numeric, 2) FROM rm_faces WHERE person_id = 3;
SELECT biometric_verify(face, regress_emb(4), 0.9) FROM rm_faces WHERE person_id = 3;
-- what it is not for
SELECT count(f.face) FROM rm_faces f JOIN rm_ids i USING (person_id) WHERE i.national_id = 'A1';	-- fail (guard)
SET biotoken.match_threshold = 0.9;	-- fail (superuser only)
SET biotoken.guard = off;	-- fail (superuser only)
SELECT biotoken.grant_audit('regress_biotoken_app', 'case');	-- fail (not an admin)
SELECT count(*) FROM biotoken.access_log;	-- fail (not an auditor)
SELECT count(*) FROM biotoken.audit_grants;	-- fail (no privilege)
SELECT biotoken.register_model('rm_model', 2, '{0,0}');	-- fail (not an admin)
RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_match CASCADE;
