--
-- roles_owner: what a database owner (not a superuser) can and cannot do.
-- A superuser installs the extension, as in production.  The owner may
-- classify and use its own tables; it may not hijack the install by
-- making the schema "biotoken" first, nor steer the backend to a table of
-- its own named like biotoken's.
--
SET client_min_messages = warning;
DROP DATABASE IF EXISTS regress_biotoken_owned;
DROP ROLE IF EXISTS regress_biotoken_dbowner;
DROP ROLE IF EXISTS regress_biotoken_accomplice;
RESET client_min_messages;
CREATE ROLE regress_biotoken_dbowner;
CREATE ROLE regress_biotoken_accomplice;
CREATE DATABASE regress_biotoken_owned OWNER regress_biotoken_dbowner;
\c regress_biotoken_owned

-- the attack: the owner makes the schema before the superuser installs
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
CREATE SCHEMA biotoken;
RESET SESSION AUTHORIZATION;
CREATE EXTENSION biotoken;	-- fail (the schema exists)
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'biotoken';
-- only dropping the schema lets the install go on
DROP SCHEMA biotoken;
CREATE EXTENSION biotoken;
SELECT n.nspname, pg_get_userbyid(n.nspowner) = current_user AS owned_by_installer,
       d.deptype
  FROM pg_namespace n
  JOIN pg_depend d ON d.classid = 'pg_namespace'::regclass AND d.objid = n.oid
                  AND d.refclassid = 'pg_extension'::regclass
 WHERE n.nspname = 'biotoken';

-- what the owner can do: make tables, classify its own columns, use them
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
CREATE TABLE ro_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE ro_ids (person_id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN ro_ids.national_id IS 'identity';
INSERT INTO ro_faces VALUES (1, array_fill(0.5::float4, ARRAY[16]));
INSERT INTO ro_ids VALUES (1, 'A1');
SELECT count(*) FROM ro_faces;
SELECT national_id FROM ro_ids;
-- what it cannot do: combine, or touch biotoken's objects
SELECT count(f.face) FROM ro_faces f JOIN ro_ids i USING (person_id) WHERE i.national_id = 'A1';	-- fail (guard)
ALTER SCHEMA biotoken RENAME TO biotoken_old;	-- fail (not the owner)
CREATE TABLE biotoken.audit_grants (x int);	-- fail (no CREATE on the schema)
DROP TABLE biotoken.access_log;	-- fail (not the owner)
DROP EXTENSION biotoken;	-- fail (not the owner)
SELECT biotoken.grant_audit('regress_biotoken_accomplice', 'own case');	-- fail (not an admin)
SELECT count(*) FROM biotoken.access_log;	-- fail (not an auditor)
RESET SESSION AUTHORIZATION;

-- biotoken's tables are found by extension membership, not by name: even
-- a superuser who renames the grants table and puts a table of the same
-- name and layout, holding a grant, in its place gives the owner no grant
ALTER TABLE biotoken.audit_grants RENAME TO audit_grants_real;
CREATE TABLE biotoken.audit_grants (LIKE biotoken.audit_grants_real);
INSERT INTO biotoken.audit_grants VALUES
  (1, 'regress_biotoken_dbowner', 'regress_biotoken_accomplice', 'forged',
   now() - interval '1 minute', now() + interval '1 hour', NULL, NULL, NULL);
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
SELECT count(f.face) FROM ro_faces f JOIN ro_ids i USING (person_id) WHERE i.national_id = 'A1';	-- fail (guard: the copy is no grant table)
RESET SESSION AUTHORIZATION;
DROP TABLE biotoken.audit_grants;
ALTER TABLE biotoken.audit_grants_real RENAME TO audit_grants;
-- a member table given to another owner is not trusted either
ALTER TABLE biotoken.audit_grants OWNER TO regress_biotoken_dbowner;
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
SELECT count(f.face) FROM ro_faces f JOIN ro_ids i USING (person_id) WHERE i.national_id = 'A1';	-- fail (the grants table is not the extension's)
RESET SESSION AUTHORIZATION;
ALTER TABLE biotoken.audit_grants OWNER TO CURRENT_USER;
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
SELECT count(f.face) FROM ro_faces f JOIN ro_ids i USING (person_id) WHERE i.national_id = 'A1';	-- fail (guard)
RESET SESSION AUTHORIZATION;
SELECT event, count(*) FROM biotoken.access_log GROUP BY event ORDER BY event;

-- the owner cannot turn the log's settings; a superuser's changes of
-- log_reads and audit_timeout are 'setting' events like guard and scope
SET SESSION AUTHORIZATION regress_biotoken_dbowner;
SET biotoken.log_reads = on;	-- fail (superuser only)
SET biotoken.audit_timeout = '1s';	-- fail (superuser only)
SET biotoken.allow_drop = on;	-- fail (superuser only)
RESET SESSION AUTHORIZATION;
SET biotoken.log_reads = on;
SET biotoken.audit_timeout = '7s';
RESET biotoken.log_reads;
RESET biotoken.audit_timeout;
-- (those records are queued, like reads; a guard change is waited for,
-- and is written after them)
SET biotoken.guard = off;
RESET biotoken.guard;
SELECT detail->>'setting' AS setting, detail->>'old' AS old, detail->>'new' AS new
  FROM biotoken.access_log WHERE event = 'setting' ORDER BY id;

-- DROP EXTENSION would drop the log with its rows: refused, even for a
-- superuser, unless one allows it for that one transaction
SET client_min_messages = warning;	-- no list of what CASCADE drops
DROP EXTENSION biotoken CASCADE;	-- fail (the log holds rows)
SET biotoken.allow_drop = on;
DROP EXTENSION biotoken CASCADE;	-- fail (allowed in another transaction)
RESET biotoken.allow_drop;
BEGIN;
SET LOCAL biotoken.allow_drop = on;
DROP EXTENSION biotoken CASCADE;
ROLLBACK;
SELECT count(*) AS still_installed FROM pg_extension WHERE extname = 'biotoken';
BEGIN;
SET LOCAL biotoken.allow_drop = on;
DROP EXTENSION biotoken CASCADE;
COMMIT;
SELECT count(*) AS installed FROM pg_extension WHERE extname = 'biotoken';
RESET client_min_messages;

\c contrib_regression
DROP DATABASE regress_biotoken_owned;
DROP ROLE regress_biotoken_dbowner;
DROP ROLE regress_biotoken_accomplice;
