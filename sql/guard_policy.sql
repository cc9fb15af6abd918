--
-- guard_policy: who may change the guard's settings and who may give and
-- use an audit grant.  GRANT SET ON PARAMETER does not let a role that is
-- not a superuser change biotoken's superuser settings; a grantor who can
-- act as the grantee (CREATEROLE, ADMIN OPTION) cannot give it a grant;
-- a login that gave a grant cannot use it under another name.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_gpol CASCADE;
DROP ROLE IF EXISTS regress_biotoken_cradmin;
RESET client_min_messages;
CREATE SCHEMA regress_gpol;
GRANT USAGE ON SCHEMA regress_gpol TO PUBLIC;
SET search_path = regress_gpol, public;
CREATE TABLE gpo_people (id int PRIMARY KEY, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN gpo_people.national_id IS 'identity';
INSERT INTO gpo_people VALUES (1, 'A1', regress_emb(1));
GRANT SELECT ON gpo_people TO regress_biotoken_app;

-- GRANT SET ON PARAMETER: PostgreSQL would let the grantee change these
GRANT SET ON PARAMETER biotoken.guard, biotoken.scope, biotoken.log_reads,
	biotoken.audit_timeout, biotoken.max_grant_duration,
	biotoken.template_bits TO regress_biotoken_app;
SET SESSION AUTHORIZATION regress_biotoken_app;
SET biotoken.guard = off;	-- fail
BEGIN;
SET LOCAL biotoken.guard = off;	-- fail
ROLLBACK;
SELECT set_config('biotoken.guard', 'off', false);	-- fail
SET biotoken.scope = statement;	-- fail
SET biotoken.log_reads = off;	-- fail
SET biotoken.audit_timeout = '1h';	-- fail
SET biotoken.max_grant_duration = '30d';	-- fail
SET biotoken.template_bits = 64;	-- fail
CREATE FUNCTION public.gpo_unguarded() RETURNS bigint LANGUAGE sql
	SET biotoken.guard = off
	AS 'SELECT count(face) FROM regress_gpol.gpo_people WHERE national_id = ''A1''';	-- fail
ALTER ROLE regress_biotoken_app SET biotoken.guard = off;	-- fail
SHOW biotoken.guard;
SELECT count(face) FROM gpo_people WHERE national_id = 'A1';	-- fail (guard on)
RESET SESSION AUTHORIZATION;
ALTER ROLE regress_biotoken_app RESET biotoken.guard;
DROP FUNCTION IF EXISTS public.gpo_unguarded();
REVOKE SET ON PARAMETER biotoken.guard, biotoken.scope, biotoken.log_reads,
	biotoken.audit_timeout, biotoken.max_grant_duration,
	biotoken.template_bits FROM regress_biotoken_app;
-- a superuser still can
SET biotoken.scope = statement;
RESET biotoken.scope;

-- a CREATEROLE admin can become any role that is not a superuser: one
-- person, so it cannot give such a role a grant, and the attempt is logged
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
CREATE ROLE regress_biotoken_cradmin CREATEROLE;
GRANT biotoken_admin TO regress_biotoken_cradmin;
SET SESSION AUTHORIZATION regress_biotoken_cradmin;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case P-1');	-- fail
RESET SESSION AUTHORIZATION;
SELECT event, detail FROM biotoken.access_log WHERE id > :mark ORDER BY id;
-- (an admin without CREATEROLE can)
ALTER ROLE regress_biotoken_cradmin NOCREATEROLE;
SET SESSION AUTHORIZATION regress_biotoken_cradmin;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case P-2') AS gid \gset
SELECT biotoken.revoke_audit(:gid);
RESET SESSION AUTHORIZATION;

-- a superuser who gives a grant and then becomes the grantee is still the
-- grantor: the grant does not cover that login
GRANT biotoken_admin TO CURRENT_USER;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case P-3') AS gid \gset
SET SESSION AUTHORIZATION regress_biotoken_app;
SELECT count(face) FROM gpo_people WHERE national_id = 'A1';	-- fail (grantor)
RESET SESSION AUTHORIZATION;
SELECT biotoken.revoke_audit(:gid);
REVOKE biotoken_admin FROM CURRENT_USER;
-- a grant from another admin covers the same login
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case P-4') AS gid \gset
SET SESSION AUTHORIZATION regress_biotoken_app;
SELECT count(face) FROM gpo_people WHERE national_id = 'A1';
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.revoke_audit(:gid);
RESET SESSION AUTHORIZATION;

-- out of the guard's reach: logical replication sends whole published
-- rows; separation_report() names the publications that carry both kinds
-- of columns of a mixed table
SET client_min_messages = error;
CREATE PUBLICATION gpo_pub_all FOR TABLE gpo_people;
CREATE PUBLICATION gpo_pub_faces FOR TABLE gpo_people (id, face);
CREATE PUBLICATION gpo_pub_ids FOR TABLE gpo_people (id, national_id);
RESET client_min_messages;
SELECT relation, biometric_columns, other_columns, publications
  FROM biotoken.separation_report() WHERE relation = 'gpo_people'::regclass;
DROP PUBLICATION gpo_pub_all, gpo_pub_faces, gpo_pub_ids;
SELECT relation, publications
  FROM biotoken.separation_report() WHERE relation = 'gpo_people'::regclass;

DROP ROLE regress_biotoken_cradmin;
DROP SCHEMA regress_gpol CASCADE;
