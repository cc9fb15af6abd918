--
-- roles_nobody: a role with no rights at all gets nothing from biotoken:
-- no log, no grants, no scores, no discovery, no settings, no profiles'
-- means.
--
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_biotoken_nobody;
RESET client_min_messages;
CREATE ROLE regress_biotoken_nobody;
SET SESSION AUTHORIZATION regress_biotoken_nobody;
-- harmless and open: enroll and verify an embedding it brings itself
SELECT (biometric_info(biometric_enroll(regress_emb(1)))).dims;
SELECT biometric_verify(biometric_enroll(regress_emb(1)), regress_emb(1, 128, 0.2));
SELECT count(*) >= 0 AS visible FROM biotoken.classified_columns;
-- everything else is refused
SELECT biometric_verify(biometric_enroll(regress_emb(1)), regress_emb(2), 0.5);	-- fail (above the threshold)
SELECT biometric_distance(biometric_enroll(regress_emb(1)), regress_emb(2));	-- fail (no score)
SELECT count(*) FROM biotoken.access_log;	-- fail (not an auditor)
SELECT count(*) FROM biotoken.verify_access_log();	-- fail (not an auditor)
SELECT count(*) FROM biotoken.audit_grants;	-- fail (no privilege)
SELECT biotoken.grant_is_visible('regress_biotoken_app', 'regress_biotoken_admin') AS sees_others_grants;
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'mine');	-- fail (not an admin)
SELECT biotoken.revoke_audit(1);	-- fail (not an admin)
SELECT count(*) FROM biotoken.discover(0);	-- fail (admins only)
SELECT * FROM biotoken.separation_report();	-- fail (admins only)
SELECT biotoken.register_model('rn_model', 2, '{0,0}');	-- fail (admins only)
SELECT mean FROM biotoken.model_profiles;	-- fail (no SELECT on mean)
SET biotoken.match_threshold = 1;	-- fail (superuser only)
SET biotoken.guard = off;	-- fail (superuser only)
SET biotoken.allow_drop = on;	-- fail (superuser only)
CREATE SCHEMA biotoken_x;	-- fail (no CREATE on the database)
RESET SESSION AUTHORIZATION;
DROP ROLE regress_biotoken_nobody;
