--
-- upgrade: install at the oldest version and walk every update path, in a
-- database of its own so the other tests' objects are not disturbed
--
CREATE DATABASE regress_biotoken_upgrade;
\c regress_biotoken_upgrade
SET client_min_messages = warning;

CREATE EXTENSION biotoken VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'biotoken';

-- step by step to the newest version (each new version adds an
-- ALTER EXTENSION ... UPDATE TO line here)
ALTER EXTENSION biotoken UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'biotoken';
SELECT biotoken.library_version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'biotoken';

-- the updated extension works
CREATE TABLE regress_up (face biometric);
INSERT INTO regress_up VALUES (array_fill(0.5::float4, ARRAY[4]));
SELECT (biometric_info(face)).dims FROM regress_up;

-- and drops cleanly, leaving the cluster-wide roles in place
DROP EXTENSION biotoken CASCADE;
SELECT count(*) FROM pg_roles WHERE rolname LIKE 'biotoken\_%';
SELECT count(*) FROM pg_namespace WHERE nspname = 'biotoken';

\c contrib_regression
DROP DATABASE regress_biotoken_upgrade;
