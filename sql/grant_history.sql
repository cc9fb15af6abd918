--
-- grant_history: auditors read every grant (active, expired, revoked) and
-- how often it was used, without reconstructing it from the log; others
-- cannot read it.  Grant ids and times are never printed.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_gh CASCADE;
DROP ROLE IF EXISTS regress_biotoken_ghadmin;
DROP ROLE IF EXISTS regress_biotoken_ghuser;
DROP ROLE IF EXISTS regress_biotoken_ghauditor;
RESET client_min_messages;

CREATE ROLE regress_biotoken_ghadmin IN ROLE biotoken_admin;
CREATE ROLE regress_biotoken_ghuser;
CREATE ROLE regress_biotoken_ghauditor IN ROLE biotoken_auditor;

CREATE SCHEMA regress_gh;
GRANT USAGE ON SCHEMA regress_gh TO PUBLIC;
CREATE TABLE regress_gh.people (id int PRIMARY KEY, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN regress_gh.people.national_id IS 'identity';
INSERT INTO regress_gh.people VALUES (1, 'A1', regress_emb(1));
GRANT SELECT ON regress_gh.people TO regress_biotoken_ghuser;

SET SESSION AUTHORIZATION regress_biotoken_ghadmin;
SELECT biotoken.grant_audit('regress_biotoken_ghuser', 'case GH-1', '1 hour') AS g_used \gset
SELECT biotoken.grant_audit('regress_biotoken_ghuser', 'case GH-2', '1 hour',
                            ARRAY['regress_gh.people'::regclass]) AS g_revoked \gset
SELECT biotoken.grant_audit('regress_biotoken_ghuser', 'case GH-3', '1 second') AS g_expired \gset
RESET SESSION AUTHORIZATION;

-- the grantee uses the grants: three combining statements
SET SESSION AUTHORIZATION regress_biotoken_ghuser;
SELECT count(face) FROM regress_gh.people WHERE national_id = 'A1';
SELECT count(face) FROM regress_gh.people WHERE national_id = 'A1';
SELECT count(face) FROM regress_gh.people WHERE national_id = 'A1';
-- an ordinary role cannot read the history, nor the monitoring
SELECT count(*) FROM biotoken.grant_history;  -- fail
SELECT count(*) FROM biotoken.access_log_hourly;  -- fail
SELECT * FROM biotoken.access_log_status();  -- fail
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_biotoken_ghadmin;
SELECT biotoken.revoke_audit(:g_revoked);
RESET SESSION AUTHORIZATION;
SELECT pg_sleep(1.2);  -- let the one-second grant expire

-- the auditor sees all three, with their state; the uses of all three add
-- up to the three statements (which grant covered which is not fixed)
SET SESSION AUTHORIZATION regress_biotoken_ghauditor;
SELECT grant_id = :g_used AS used, grant_id = :g_revoked AS revoked_one,
       grant_id = :g_expired AS expired_one,
       grantee, grantor, purpose, relations, state,
       revoked_by, (revoked_at IS NOT NULL) AS has_revoked_at,
       expires_at > granted_at AS sane_times
  FROM biotoken.grant_history
 WHERE grant_id IN (:g_used, :g_revoked, :g_expired)
 ORDER BY grant_id;
SELECT sum(uses) AS uses, bool_and(uses = 0 OR last_used >= first_used) AS times_ordered
  FROM biotoken.grant_history
 WHERE grant_id IN (:g_used, :g_revoked, :g_expired);
-- the grant and revoke records name the admin as current user, not the
-- owner of the SECURITY DEFINER functions
SELECT event, session_user_name, current_user_name
  FROM biotoken.access_log
 WHERE grant_id IN (:g_used, :g_revoked, :g_expired) AND event IN ('grant', 'revoke')
 ORDER BY id;
-- monitoring: events per hour and the writer's queue, for auditors
SELECT sum(allowed) >= 3 AS allowed_counted, sum(grants) >= 3 AS grants_counted,
       sum(events) = (SELECT count(*) FROM biotoken.access_log) AS all_counted
  FROM biotoken.access_log_hourly;
SELECT queued >= 0 AS has_queue_depth, writer_state IN ('none', 'starting', 'running') AS has_state
  FROM biotoken.access_log_status();
-- "who used grant N, for what, when": the log rows behind the count
SELECT count(*) = (SELECT uses FROM biotoken.grant_history WHERE grant_id = :g_used) AS log_agrees
  FROM biotoken.access_log
 WHERE grant_id = :g_used AND event = 'allowed';
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_biotoken_ghadmin;
SELECT biotoken.revoke_audit(:g_used);
RESET SESSION AUTHORIZATION;

-- a grant that does not list a table the statement reads: the hint and
-- the refused record name the grant and the table it leaves out
CREATE TABLE regress_gh.accounts (id int, iban text);
SECURITY LABEL FOR biotoken ON COLUMN regress_gh.accounts.iban IS 'financial';
CREATE FUNCTION regress_gh.hint_of(q text, gid bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  h text;
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN SQLSTATE || ': ' || replace(h, gid::text, 'N');
END
$$;
GRANT EXECUTE ON FUNCTION regress_gh.hint_of(text, bigint) TO PUBLIC;
SET SESSION AUTHORIZATION regress_biotoken_ghadmin;
SELECT biotoken.grant_audit('regress_biotoken_ghuser', 'case GH-4', '1 hour',
                            ARRAY['regress_gh.accounts'::regclass]) AS g_partial \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_ghuser;
SELECT regress_gh.hint_of($$SELECT count(face) FROM regress_gh.people WHERE national_id = 'A1'$$,
                          :g_partial);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_ghauditor;
SELECT (detail->>'grant_not_covering')::bigint = :g_partial AS names_the_grant,
       detail->>'relation_not_listed' AS relation_not_listed
  FROM biotoken.access_log
 WHERE event = 'refused' ORDER BY id DESC LIMIT 1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_ghadmin;
SELECT biotoken.revoke_audit(:g_partial);
RESET SESSION AUTHORIZATION;
-- with no grant at all, the usual hint
SET SESSION AUTHORIZATION regress_biotoken_ghuser;
SELECT regress_gh.hint_of($$SELECT count(face) FROM regress_gh.people WHERE national_id = 'A1'$$,
                          0);
RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_gh CASCADE;
DROP ROLE regress_biotoken_ghadmin, regress_biotoken_ghuser, regress_biotoken_ghauditor;
