-- tests/21_grants.sql: audit grants through pgTAP: who may grant, the
-- checks on each argument, coverage, the two-person rule, relation lists,
-- expiry, revocation, SET ROLE and SECURITY DEFINER, active_grants.
BEGIN;
SELECT plan(42);

SET LOCAL client_min_messages = warning;
CREATE ROLE regress_biotoken_tga1 IN ROLE biotoken_admin;
CREATE ROLE regress_biotoken_tga2 IN ROLE biotoken_admin;
CREATE ROLE regress_biotoken_tgteam;
CREATE ROLE regress_biotoken_tgana IN ROLE regress_biotoken_tgteam;
CREATE ROLE regress_biotoken_tgoth;
CREATE ROLE regress_biotoken_tgaud IN ROLE biotoken_auditor;

CREATE SCHEMA tap_grants;
GRANT USAGE, CREATE ON SCHEMA tap_grants TO PUBLIC;
SET LOCAL search_path = tap_grants, public;
CREATE TABLE tq_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE tq_ids (person_id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN tq_ids.national_id IS 'identity';
CREATE TABLE tq_cards (person_id int, card text);
SECURITY LABEL FOR biotoken ON COLUMN tq_cards.card IS 'financial';
CREATE TABLE tq_notes (person_id int, note text);
CREATE TABLE tq_parent (person_id int, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN tq_parent.national_id IS 'identity';
CREATE TABLE tq_child () INHERITS (tq_parent);
CREATE VIEW tq_v AS SELECT person_id, national_id FROM tq_ids;
INSERT INTO tq_faces VALUES (1, array_fill(0.5::float4, ARRAY[16]));
INSERT INTO tq_ids VALUES (1, 'A1');
INSERT INTO tq_cards VALUES (1, '4111');
INSERT INTO tq_notes VALUES (1, 'n');
INSERT INTO tq_child VALUES (1, 'A1', array_fill(0.5::float4, ARRAY[16]));
GRANT SELECT ON ALL TABLES IN SCHEMA tap_grants TO PUBLIC;

CREATE FUNCTION tq_combine() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(f.face) FROM tap_grants.tq_faces f
	  JOIN tap_grants.tq_ids i USING (person_id) WHERE i.national_id = 'A1'
$$;
CREATE FUNCTION tq_combine_cards() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(f.face) FROM tap_grants.tq_faces f
	  JOIN tap_grants.tq_cards c USING (person_id) WHERE c.card = '4111'
$$;
CREATE FUNCTION tq_combine_child() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(face) FROM tap_grants.tq_child WHERE national_id = 'A1'
$$;
CREATE FUNCTION tq_combine_notes() RETURNS bigint LANGUAGE sql AS $$
	SELECT count(p.face) FROM tap_grants.tq_parent p
	  JOIN tap_grants.tq_notes n USING (person_id) WHERE p.national_id = 'A1'
$$;
CREATE FUNCTION pg_temp.id_msg() RETURNS text LANGUAGE sql
	AS $$ SELECT 'cannot combine biometric data with identity data' $$;

SELECT has_function('biotoken', 'grant_audit', ARRAY['regrole', 'text', 'interval', 'regclass[]'],
	'biotoken.grant_audit exists');
SELECT has_function('biotoken', 'revoke_audit', ARRAY['bigint'], 'biotoken.revoke_audit exists');
SELECT has_view('biotoken', 'active_grants', 'biotoken.active_grants exists');
SELECT is((SELECT prosecdef FROM pg_proc WHERE oid = 'biotoken.grant_audit'::regproc), true,
	'grant_audit is SECURITY DEFINER');
SELECT ok((SELECT proconfig FROM pg_proc WHERE oid = 'biotoken.grant_audit'::regproc)
	@> ARRAY['search_path=pg_catalog, pg_temp'], 'grant_audit pins its search_path');
SELECT ok(NOT has_function_privilege('public', 'biotoken.grant_audit(regrole, text, interval, regclass[])',
	'EXECUTE'), 'PUBLIC cannot execute grant_audit');
SELECT ok(NOT has_table_privilege('public', 'biotoken.audit_grants', 'INSERT')
	AND NOT has_table_privilege('public', 'biotoken.audit_grants', 'UPDATE'),
	'PUBLIC cannot write the grants table');

-- who may grant
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgoth;
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', 'c1')$$, '42501', NULL,
	'a non-admin cannot grant');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', 'c1')$$, '42501',
	'permission denied to give an audit grant', 'a superuser outside biotoken_admin cannot grant');

-- arguments
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga1;
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', ' ')$$, '22023',
	'purpose must not be empty', 'a purpose is required');
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', 'c1', '25 hours')$$, '22023',
	'valid_for exceeds biotoken.max_grant_duration', 'valid_for above the cap is refused, not shortened');
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', 'c1', '-5 minutes')$$, '22023',
	'valid_for must be positive', 'valid_for must be positive');
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tgana', 'c1', '1 hour',
	ARRAY['tap_grants.tq_v']::regclass[])$$, '22023', '"tq_v" is a view', 'a view cannot be listed');
SELECT throws_ok($$SELECT biotoken.grant_audit('regress_biotoken_tga1', 'c1')$$, '42501',
	'cannot give an audit grant to yourself or to a role you belong to', 'two-person rule: not to oneself');
SELECT throws_ok($$SELECT biotoken.grant_audit('biotoken_admin', 'c1')$$, '42501',
	'cannot give an audit grant to yourself or to a role you belong to',
	'two-person rule: not to a role one belongs to');
RESET SESSION AUTHORIZATION;

-- coverage
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT throws_ok('SELECT tq_combine()', '42501', pg_temp.id_msg(), 'no grant: refused');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga1;
SELECT ok(biotoken.grant_audit('regress_biotoken_tgana', 'case A', '1 hour') > 0, 'grant to the analyst');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT lives_ok('SELECT tq_combine()', 'the grant covers its grantee');
SELECT lives_ok('SELECT tq_combine_cards()', 'a grant without a relation list covers financial too');
SELECT lives_ok($$CREATE TABLE tap_grants.tq_bundle AS SELECT f.person_id, f.face, i.national_id
	FROM tap_grants.tq_faces f JOIN tap_grants.tq_ids i USING (person_id)$$,
	'the grantee may copy both into one table');
GRANT SELECT ON tq_bundle TO PUBLIC;
SELECT throws_ok($$CREATE TABLE tap_grants.tq_mixed AS SELECT f.face::text || i.national_id AS code
	FROM tap_grants.tq_faces f JOIN tap_grants.tq_ids i USING (person_id)$$, '42501',
	'cannot copy biometric data and identity data into one column',
	'but not into one column, grant or no grant');
SELECT is((SELECT array_agg(purpose::text) FROM biotoken.active_grants), ARRAY['case A'],
	'the grantee sees the grant that covers it');
SELECT is((SELECT count(*) FROM biotoken.active_grants WHERE grantor = 'regress_biotoken_tga1'::regrole),
	1::bigint, 'with its grantor');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgoth;
SELECT throws_ok('SELECT tq_combine()', '42501', pg_temp.id_msg(), 'it covers nobody else');
SELECT is((SELECT count(*) FROM biotoken.active_grants), 0::bigint, 'others see no grant');
SELECT throws_ok($$SELECT count(face) FROM tap_grants.tq_bundle WHERE national_id = 'A1'$$, '42501',
	pg_temp.id_msg(), 'a copy made under a grant is labelled all the same');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgaud;
SELECT is((SELECT count(*) FROM biotoken.active_grants), 1::bigint, 'auditors see every grant');
RESET SESSION AUTHORIZATION;

-- SET ROLE and SECURITY DEFINER lend no grant
SET LOCAL ROLE regress_biotoken_tgana;
SELECT throws_ok('SELECT tap_grants.tq_combine()', '42501', pg_temp.id_msg(),
	'SET ROLE to the grantee lends no grant');
RESET ROLE;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
CREATE FUNCTION tq_definer() RETURNS bigint LANGUAGE sql SECURITY DEFINER
	AS 'SELECT tap_grants.tq_combine()';
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgoth;
SELECT throws_ok('SELECT tap_grants.tq_definer()', '42501', pg_temp.id_msg(),
	'a SECURITY DEFINER function of the grantee lends no grant');
RESET SESSION AUTHORIZATION;

-- a grant to a role covers its members; a relation list limits it
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga2;
SELECT ok(biotoken.grant_audit('regress_biotoken_tgteam', 'case B', '30 minutes',
	ARRAY['tap_grants.tq_parent', 'tap_grants.tq_faces']::regclass[]) > 0, 'a grant to the team on two tables');
RESET SESSION AUTHORIZATION;
-- revoke the analyst's own grant so that only the team's applies
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga2;
SELECT lives_ok($$SELECT biotoken.revoke_audit(grant_id) FROM biotoken.active_grants
	WHERE purpose = 'case A'$$, 'another admin revokes case A');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT throws_ok('SELECT tq_combine()', '42501', pg_temp.id_msg(),
	'revoked at once; and tq_ids is not in the team''s list');
SELECT lives_ok('SELECT tq_combine_child()', 'a listed parent covers its children');
SELECT lives_ok('SELECT tq_combine_notes()', 'unclassified tables need no listing');
RESET SESSION AUTHORIZATION;

-- the two-person rule is checked again at each use
GRANT regress_biotoken_tgteam TO regress_biotoken_tga2;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT throws_ok('SELECT tq_combine_child()', '42501', pg_temp.id_msg(),
	'a grantor who joins the grantee role voids the grant');
RESET SESSION AUTHORIZATION;
REVOKE regress_biotoken_tgteam FROM regress_biotoken_tga2;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT lives_ok('SELECT tq_combine_child()', 'and it holds again once the grantor leaves');
RESET SESSION AUTHORIZATION;

-- expiry: a grant whose time is over covers nothing
UPDATE biotoken.audit_grants SET granted_at = now() - interval '2 hours',
	expires_at = now() - interval '1 hour' WHERE purpose = 'case B';
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT throws_ok('SELECT tq_combine_child()', '42501', pg_temp.id_msg(), 'an expired grant covers nothing');
SELECT is((SELECT count(*) FROM biotoken.active_grants), 0::bigint, 'and is not active');
RESET SESSION AUTHORIZATION;

-- revoke: only admins, only once
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tgana;
SELECT throws_ok($$SELECT biotoken.revoke_audit(1)$$, '42501', NULL, 'a non-admin cannot revoke');
RESET SESSION AUTHORIZATION;
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga1;
SELECT throws_ok($$SELECT biotoken.revoke_audit(grant_id) FROM biotoken.audit_grants WHERE purpose = 'case A'$$,
	'42501', NULL, 'admins read grants through active_grants, not the table');
RESET SESSION AUTHORIZATION;
SELECT throws_ok($$SELECT biotoken.revoke_audit(-1)$$, '42501', NULL,
	'superusers outside biotoken_admin cannot revoke either');
SET LOCAL SESSION AUTHORIZATION regress_biotoken_tga1;
SELECT throws_ok($$SELECT biotoken.revoke_audit(-1)$$, '42704', 'audit grant -1 does not exist',
	'revoking a grant that does not exist');
RESET SESSION AUTHORIZATION;

SELECT * FROM finish();
ROLLBACK;
