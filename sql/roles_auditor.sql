--
-- roles_auditor: a member of biotoken_auditor reads and verifies the
-- access log and sees every grant in force, and can do nothing else.
--
-- a record to read, whatever ran before
SET biotoken.guard = off;
RESET biotoken.guard;
SET SESSION AUTHORIZATION regress_biotoken_auditor;
-- what it is for
SELECT count(*) > 0 AS log_readable FROM biotoken.access_log;
SELECT rows_checked > 0 AS verified FROM biotoken.verify_access_log();
SELECT biotoken.grant_is_visible('regress_biotoken_app', 'regress_biotoken_admin') AS sees_others_grants;
-- what it is not for
INSERT INTO biotoken.access_log (id, logged_at, event, key_id, row_hash)
  VALUES (1000000, now(), 'grant', 1, '\x00');	-- fail (no INSERT)
UPDATE biotoken.access_log SET statement = NULL;	-- fail (no UPDATE)
DELETE FROM biotoken.access_log;	-- fail (no DELETE)
SELECT biotoken.grant_audit('regress_biotoken_app', 'case');	-- fail (not an admin)
SELECT count(*) FROM biotoken.audit_grants;	-- fail (no privilege on the table)
SET biotoken.guard = off;	-- fail (superuser only)
SET biotoken.log_reads = off;	-- fail (superuser only)
SET biotoken.match_threshold = 0.9;	-- fail (superuser only)
SELECT count(*) FROM biotoken.discover(0);	-- fail (admins only)
SELECT biotoken.register_model('ra_model', 2, '{0,0}');	-- fail (admins only)
RESET SESSION AUTHORIZATION;
