--
-- secrets_checks: the smaller holes of issue 16
--   N'...' is normalized as one literal; grant_audit refuses a grantee
--   that is no role; register_model's dimension limit is 54000, as the
--   README's table says.
--

-- N'...' (national character literal) is written $n, not N$n
CREATE FUNCTION regress_sc_guard_off(national_id text)
RETURNS int LANGUAGE sql SET biotoken.guard = off
AS $$ SELECT length(national_id) $$;
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
SELECT regress_sc_guard_off(N'11010519491231002X') AS a,
       regress_sc_guard_off(n'x') AS b;
SELECT DISTINCT statement FROM biotoken.access_log WHERE id > :mark;
DROP FUNCTION regress_sc_guard_off(text);

-- a grant to a role that does not exist, as an admin
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.grant_audit(0::oid::regrole, 'case 1');  -- fail (no such role)
SELECT biotoken.grant_audit(4000000000::oid::regrole, 'case 1');  -- fail (no such role)
SELECT count(*) AS grants_to_nobody FROM biotoken.active_grants
 WHERE grantee::oid NOT IN (SELECT oid FROM pg_roles);

-- register_model: more than 16000 dimensions is a size limit (54000)
\set VERBOSITY sqlstate
SELECT biotoken.register_model('regress_big', 16001, array_fill(0.5::real, ARRAY[16001]));  -- fail (54000)
SELECT biotoken.register_model('regress_big', 0, '{}'::real[]);  -- fail (22023)
\set VERBOSITY default
RESET SESSION AUTHORIZATION;

-- plans show a probe constant as redacted, also a custom plan's folded
-- parameter; other real[] constants are shown as they are
CREATE TABLE test_sc_faces (id int, face biometric);
GRANT SELECT ON test_sc_faces TO regress_biotoken_app;
SET ROLE regress_biotoken_app;
PREPARE sc_p(real[]) AS SELECT id FROM test_sc_faces WHERE biometric_verify(face, $1);
EXPLAIN (COSTS OFF) EXECUTE sc_p('{0.25,0.5,0.75,0.125}');
EXPLAIN (COSTS OFF)
  SELECT id FROM test_sc_faces WHERE biometric_verify(face, '{0.25,0.5}'::real[], 0.3);
EXPLAIN (COSTS OFF)
  SELECT id FROM test_sc_faces WHERE array_cat('{1,2}'::real[], ARRAY[id::real]) IS NULL;
DEALLOCATE sc_p;
RESET ROLE;
DROP TABLE test_sc_faces;
-- nothing can be entered as the stand-in type
SELECT 'x'::biotoken.redacted_probe;  -- fail (no input)
