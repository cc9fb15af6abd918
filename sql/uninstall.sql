--
-- uninstall: what DROP EXTENSION leaves behind, and that it can be cleaned
-- up.  Labels on columns are not extension objects: they stay in
-- pg_seclabel (and the preloaded library enforces them), so the same admins
-- as before must be able to remove them; nobody else can, and nothing new
-- can be labelled without the extension.  In a database of its own.
--
CREATE DATABASE regress_biotoken_uninstall;
\c regress_biotoken_uninstall
SET client_min_messages = warning;
CREATE EXTENSION biotoken;
CREATE ROLE regress_biotoken_un_owner;
CREATE ROLE regress_biotoken_un_admin IN ROLE biotoken_admin;
GRANT CREATE ON SCHEMA public TO regress_biotoken_un_owner;
SET ROLE regress_biotoken_un_owner;
CREATE TABLE un_people (id int, national_id text, iban text, note text);
SECURITY LABEL FOR biotoken ON COLUMN un_people.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN un_people.iban IS 'financial';
RESET ROLE;
GRANT ALL ON un_people TO regress_biotoken_un_admin;
ALTER TABLE un_people OWNER TO regress_biotoken_un_admin;

-- the access log holds rows: a superuser allows the drop for this
-- transaction (see roles_owner)
BEGIN;
SET LOCAL biotoken.allow_drop = on;
DROP EXTENSION biotoken;
COMMIT;
-- the labels are still there
SELECT a.attname, l.label FROM pg_seclabel l
  JOIN pg_attribute a ON a.attrelid = l.objoid AND a.attnum = l.objsubid
 WHERE l.provider = 'biotoken' AND l.objoid = 'un_people'::regclass ORDER BY 1;

-- a new label needs the extension, also for an admin
SET ROLE regress_biotoken_un_admin;
SECURITY LABEL FOR biotoken ON COLUMN un_people.note IS 'identity';  -- fail
SECURITY LABEL FOR biotoken ON COLUMN un_people.iban IS 'identity';  -- fail
RESET ROLE;
-- removal needs biotoken_admin, as with the extension: a superuser alone
-- is not enough, nor is a table owner outside the role
SECURITY LABEL FOR biotoken ON COLUMN un_people.iban IS NULL;  -- fail
ALTER TABLE un_people OWNER TO regress_biotoken_un_owner;
SET ROLE regress_biotoken_un_owner;
SECURITY LABEL FOR biotoken ON COLUMN un_people.iban IS NULL;  -- fail
RESET ROLE;
ALTER TABLE un_people OWNER TO regress_biotoken_un_admin;
SET SESSION AUTHORIZATION regress_biotoken_un_admin;
SECURITY LABEL FOR biotoken ON COLUMN un_people.national_id IS NULL;
SECURITY LABEL FOR biotoken ON COLUMN un_people.iban IS NULL;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS labels_left FROM pg_seclabel WHERE provider = 'biotoken';

\c contrib_regression
DROP DATABASE regress_biotoken_uninstall;
DROP ROLE regress_biotoken_un_owner, regress_biotoken_un_admin;
