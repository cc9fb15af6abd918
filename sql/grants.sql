--
-- grants: audit grants let a named role combine categories, for a purpose,
-- for a while, on listed tables; the two-person rule; revocation.
-- Grant ids are kept in psql variables and not printed, except in one
-- hint that names the grant (ids start at 1 in the fresh test database).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS biotoken;
DROP SCHEMA IF EXISTS regress_grants CASCADE;
DROP ROLE IF EXISTS regress_biotoken_gadmin1;
DROP ROLE IF EXISTS regress_biotoken_gadmin2;
DROP ROLE IF EXISTS regress_biotoken_analyst;
DROP ROLE IF EXISTS regress_biotoken_team;
DROP ROLE IF EXISTS regress_biotoken_other;
DROP ROLE IF EXISTS regress_biotoken_gauditor;
RESET client_min_messages;

CREATE ROLE regress_biotoken_gadmin1 IN ROLE biotoken_admin;
CREATE ROLE regress_biotoken_gadmin2 IN ROLE biotoken_admin;
CREATE ROLE regress_biotoken_team;
CREATE ROLE regress_biotoken_analyst IN ROLE regress_biotoken_team;
CREATE ROLE regress_biotoken_other;
CREATE ROLE regress_biotoken_gauditor IN ROLE biotoken_auditor;

CREATE SCHEMA regress_grants;
GRANT USAGE, CREATE ON SCHEMA regress_grants TO PUBLIC;
SET search_path = regress_grants, public;
CREATE TABLE gr_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE gr_ids (person_id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN gr_ids.national_id IS 'identity';
CREATE TABLE gr_notes (person_id int, note text);
CREATE TABLE gr_part (person_id int, national_id text, face biometric)
	PARTITION BY RANGE (person_id);
SECURITY LABEL FOR biotoken ON COLUMN gr_part.national_id IS 'identity';
CREATE TABLE gr_part_1 PARTITION OF gr_part FOR VALUES FROM (0) TO (100);
CREATE VIEW gr_v AS SELECT person_id, national_id FROM gr_ids;
INSERT INTO gr_faces VALUES (1, array_fill(0.5::float4, ARRAY[16]));
INSERT INTO gr_ids VALUES (1, 'A1');
INSERT INTO gr_notes VALUES (1, 'note');
INSERT INTO gr_part VALUES (1, 'A1', array_fill(0.5::float4, ARRAY[16]));
GRANT SELECT ON ALL TABLES IN SCHEMA regress_grants TO PUBLIC;

-- the combining statement used throughout
CREATE FUNCTION gr_combine() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(f.face) FROM regress_grants.gr_faces f
	  JOIN regress_grants.gr_ids i USING (person_id) WHERE i.national_id = 'A1'
$$;

-- only biotoken_admin members may grant and revoke; superuser status is
-- not membership
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1');	-- fail (no EXECUTE)
RESET SESSION AUTHORIZATION;
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1');	-- fail (superuser, not admin)
SELECT biotoken.revoke_audit(1);	-- fail (superuser, not admin)

-- argument checks
SET SESSION AUTHORIZATION regress_biotoken_gadmin1;
SELECT biotoken.grant_audit('regress_biotoken_analyst', '');	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', '   ');	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', NULL);	-- fail
SELECT biotoken.grant_audit(NULL, 'case 1');	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', NULL);	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '25 hours');	-- fail (not shortened)
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '0');	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '-1 hour');	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '1 hour',
							ARRAY[]::regclass[]);	-- fail
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '1 hour',
							ARRAY['regress_grants.gr_v']::regclass[]);	-- fail (a view)
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '1 hour',
							ARRAY['regress_grants.gr_faces', NULL]::regclass[]);	-- fail
-- two-person rule
SELECT biotoken.grant_audit('regress_biotoken_gadmin1', 'case 1');	-- fail (self)
SELECT biotoken.grant_audit('biotoken_admin', 'case 1');	-- fail (own role)
RESET SESSION AUTHORIZATION;
SET biotoken.max_grant_duration = '1h';
SET SESSION AUTHORIZATION regress_biotoken_gadmin1;
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '2 hours');	-- fail
RESET SESSION AUTHORIZATION;
RESET biotoken.max_grant_duration;
-- the grants table is not for writing
SET SESSION AUTHORIZATION regress_biotoken_analyst;
INSERT INTO biotoken.audit_grants (grantee, grantor, purpose, granted_at, expires_at)
	VALUES ('regress_biotoken_analyst', 'regress_biotoken_gadmin1', 'forged',
			now(), now() + interval '1 hour');	-- fail
SELECT count(*) FROM biotoken.audit_grants;	-- fail
RESET SESSION AUTHORIZATION;

-- without a grant: refused
SET SESSION AUTHORIZATION regress_biotoken_analyst;
SELECT gr_combine();	-- fail
RESET SESSION AUTHORIZATION;

-- a grant covers its grantee
SET SESSION AUTHORIZATION regress_biotoken_gadmin1;
SELECT biotoken.grant_audit('regress_biotoken_analyst', 'case 1', '1 hour') AS g1 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_analyst;
SELECT gr_combine();
SELECT count(*) FROM gr_part WHERE face IS NOT NULL AND national_id = 'A1';
-- SECURITY DEFINER lends no grant: the session user counts
CREATE FUNCTION gr_combine_definer() RETURNS bigint LANGUAGE sql
	SECURITY DEFINER AS 'SELECT regress_grants.gr_combine()';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT gr_combine_definer();	-- fail
SELECT gr_combine();	-- fail
RESET SESSION AUTHORIZATION;
-- SET ROLE lends no grant either (nor does superuser status)
SET ROLE regress_biotoken_analyst;
SELECT gr_combine();	-- fail
RESET ROLE;
SELECT gr_combine();	-- fail

-- a copy made under a grant is labelled all the same
SET SESSION AUTHORIZATION regress_biotoken_analyst;
CREATE TABLE gr_bundle AS
	SELECT f.person_id, f.face, i.national_id FROM gr_faces f JOIN gr_ids i USING (person_id);
GRANT SELECT ON gr_bundle TO PUBLIC;
-- not into one column, though, grant or no grant
CREATE TABLE gr_mixed AS
	SELECT f.face::text || i.national_id AS code
	  FROM gr_faces f JOIN gr_ids i USING (person_id);	-- fail
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT count(person_id) FROM gr_bundle;
SELECT count(face) FROM gr_bundle WHERE national_id = 'A1';	-- fail
RESET SESSION AUTHORIZATION;

-- active_grants: admins and auditors see every grant, others theirs
SET SESSION AUTHORIZATION regress_biotoken_gadmin2;
SELECT biotoken.grant_audit('regress_biotoken_team', 'case 2', '1 hour',
							ARRAY['regress_grants.gr_faces', 'regress_grants.gr_part']::regclass[]) AS g2 \gset
SELECT grantee, grantor, purpose, relations FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_gauditor;
SELECT grantee, purpose FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_analyst;
SELECT grantee, purpose FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT grantee, purpose FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;

-- revoke: at once
SET SESSION AUTHORIZATION regress_biotoken_gadmin2;
SELECT biotoken.revoke_audit(:g1);
-- (the SQLSTATE only: the message holds the grant id)
\set VERBOSITY sqlstate
SELECT biotoken.revoke_audit(:g1);	-- fail (already revoked)
\set VERBOSITY default
SELECT biotoken.revoke_audit(-1);	-- fail (no such grant)
RESET SESSION AUTHORIZATION;

-- a relation list: every classified table touched must be listed (a
-- listed parent covers its partitions); unclassified ones need not be
SET SESSION AUTHORIZATION regress_biotoken_analyst;
SELECT gr_combine();	-- fail (gr_ids is not listed)
SELECT count(*) FROM gr_part WHERE face IS NOT NULL AND national_id = 'A1';
SELECT count(*) FROM gr_part_1 p JOIN gr_notes n USING (person_id)
	WHERE p.face IS NOT NULL AND p.national_id = 'A1';
RESET SESSION AUTHORIZATION;

-- a grantor who joins the grantee role voids the grant
GRANT regress_biotoken_team TO regress_biotoken_gadmin2;
SET SESSION AUTHORIZATION regress_biotoken_analyst;
SELECT count(*) FROM gr_part WHERE face IS NOT NULL AND national_id = 'A1';	-- fail
-- ... and the grantee no longer sees it as covering
SELECT grantee, purpose FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;
-- (admins still see it)
SET SESSION AUTHORIZATION regress_biotoken_gadmin1;
SELECT grantee, purpose FROM biotoken.active_grants ORDER BY purpose;
RESET SESSION AUTHORIZATION;
-- and the same grantor could not give it now
SET SESSION AUTHORIZATION regress_biotoken_gadmin2;
SELECT biotoken.grant_audit('regress_biotoken_team', 'case 3');	-- fail (belongs to it)
RESET SESSION AUTHORIZATION;
REVOKE regress_biotoken_team FROM regress_biotoken_gadmin2;
SET SESSION AUTHORIZATION regress_biotoken_gadmin2;
SELECT biotoken.revoke_audit(:g2);
RESET SESSION AUTHORIZATION;

-- expiry: an expired grant covers nothing
INSERT INTO biotoken.audit_grants (grantee, grantor, purpose, granted_at, expires_at)
	VALUES ('regress_biotoken_other', 'regress_biotoken_gadmin1', 'expired',
			now() - interval '2 hours', now() - interval '1 hour');
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT gr_combine();	-- fail
SELECT grantee, purpose FROM biotoken.active_grants;
RESET SESSION AUTHORIZATION;
-- and a short one lapses while in use, even within one long statement
SET SESSION AUTHORIZATION regress_biotoken_gadmin1;
SELECT biotoken.grant_audit('regress_biotoken_other', 'short', '3 seconds') AS g3 \gset
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_other;
SELECT gr_combine();
DO $$
BEGIN
	RAISE NOTICE 'first: %', regress_grants.gr_combine();
	PERFORM pg_sleep(3.5);
	RAISE NOTICE 'second: %', regress_grants.gr_combine();
END
$$;	-- fail (at the second)
RESET SESSION AUTHORIZATION;

-- clean up
DROP SCHEMA regress_grants CASCADE;
DELETE FROM biotoken.audit_grants
	WHERE grantee::text LIKE 'regress_biotoken_%' OR grantor::text LIKE 'regress_biotoken_%';
DROP ROLE regress_biotoken_gadmin1;
DROP ROLE regress_biotoken_gadmin2;
DROP ROLE regress_biotoken_analyst;
DROP ROLE regress_biotoken_team;
DROP ROLE regress_biotoken_other;
DROP ROLE regress_biotoken_gauditor;
