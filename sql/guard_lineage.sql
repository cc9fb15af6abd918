--
-- guard_lineage: what copies carry, as an application role.  EXCLUDED in
-- an upsert is the values being written, not a read of the stored row;
-- a multi-column assignment labels each column with its own source; a
-- target column's own label counts in the mixing check.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_glin CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_glin;
GRANT USAGE, CREATE ON SCHEMA regress_glin TO regress_biotoken_app;
SET search_path = regress_glin, public;
CREATE TABLE gl_people (id int PRIMARY KEY, national_id text, phone text,
						face biometric);
SECURITY LABEL FOR biotoken ON COLUMN gl_people.national_id IS 'identity';
INSERT INTO gl_people VALUES (1, 'A1', '555-1', regress_emb(1));
GRANT SELECT, INSERT, UPDATE ON gl_people TO regress_biotoken_app;
SET SESSION AUTHORIZATION regress_biotoken_app;

-- an upsert of a new person from VALUES writes both and reads neither
INSERT INTO gl_people VALUES (2, 'B2', '555-2', regress_emb(2))
	ON CONFLICT (id) DO UPDATE
	SET face = EXCLUDED.face, national_id = EXCLUDED.national_id;
INSERT INTO gl_people VALUES (2, 'B2', '555-2', regress_emb(2))
	ON CONFLICT (id) DO UPDATE
	SET face = EXCLUDED.face, national_id = EXCLUDED.national_id;
-- reading the stored row in DO UPDATE is a read
INSERT INTO gl_people VALUES (2, 'B2', '555-2', regress_emb(2))
	ON CONFLICT (id) DO UPDATE
	SET phone = gl_people.national_id
	WHERE gl_people.face IS NOT NULL;	-- fail
-- EXCLUDED.y carries what is written into y: its source, not y's label
CREATE TABLE gl_copy (id int PRIMARY KEY, a text, b text);
INSERT INTO gl_copy SELECT id, phone, phone FROM gl_people;
INSERT INTO gl_copy SELECT id, phone, national_id FROM gl_people
	ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.b;
SELECT column_name, category, source FROM biotoken.classified_columns
 WHERE relation = 'gl_copy'::regclass ORDER BY column_name;
INSERT INTO gl_copy VALUES (1, 'x', 'y')
	ON CONFLICT (id) DO UPDATE SET b = EXCLUDED.a;

-- UPDATE ... SET (a, b) = (SELECT ...) labels each column by its source
CREATE TABLE gl_multi (id int PRIMARY KEY, a text, b text);
INSERT INTO gl_multi VALUES (1, NULL, NULL);
UPDATE gl_multi m SET (a, b) = (SELECT p.national_id, p.phone
								  FROM gl_people p WHERE p.id = m.id);
SELECT column_name, category, source FROM biotoken.classified_columns
 WHERE relation = 'gl_multi'::regclass ORDER BY column_name;

-- copying ID numbers into a column labelled biometric would mix them
CREATE TABLE gl_target (id int, b text);
RESET SESSION AUTHORIZATION;
SECURITY LABEL FOR biotoken ON COLUMN regress_glin.gl_target.b IS 'biometric';
SET SESSION AUTHORIZATION regress_biotoken_app;
INSERT INTO gl_target SELECT id, national_id FROM gl_people;	-- fail
INSERT INTO gl_target SELECT id, phone FROM gl_people;

-- a copy that changes no label takes no lock on its target (the lock
-- conflicts with itself: concurrent copies would wait for each other)
RESET SESSION AUTHORIZATION;
CREATE TABLE gl_acct (id int PRIMARY KEY, iban text);
SECURITY LABEL FOR biotoken ON COLUMN gl_acct.iban IS 'financial';
INSERT INTO gl_acct VALUES (1, 'DE01'), (2, 'DE02');
GRANT SELECT ON gl_acct TO regress_biotoken_app;
SET SESSION AUTHORIZATION regress_biotoken_app;
CREATE TABLE gl_lock (id int, v text);
INSERT INTO gl_lock SELECT id, national_id FROM gl_people;
BEGIN;
INSERT INTO gl_lock SELECT p.id, p.national_id || a.iban
  FROM gl_people p JOIN gl_acct a USING (id);
SELECT count(*) AS target_locks FROM pg_locks
 WHERE relation = 'gl_lock'::regclass AND pid = pg_backend_pid()
   AND mode = 'ShareUpdateExclusiveLock';
COMMIT;
SELECT column_name, category FROM biotoken.classified_columns
 WHERE relation = 'gl_lock'::regclass;

-- CREATE TABLE AS labels the table it created, even when a temporary
-- table of the same name comes first in the search path
CREATE TEMP TABLE gl_ctas (national_id text);
CREATE TABLE gl_ctas AS SELECT id, national_id FROM gl_people;
SELECT column_name, category, source FROM biotoken.classified_columns
 WHERE relation = 'regress_glin.gl_ctas'::regclass;
SELECT count(*) AS temp_labels FROM biotoken.classified_columns
 WHERE relation = 'pg_temp.gl_ctas'::regclass;
DROP TABLE pg_temp.gl_ctas;

-- ALTER COLUMN TYPE ... USING and generated columns carry what they are
-- computed from
CREATE TABLE gl_own (id int, national_id text, note text);
RESET SESSION AUTHORIZATION;
SECURITY LABEL FOR biotoken ON COLUMN regress_glin.gl_own.national_id IS 'identity';
SET SESSION AUTHORIZATION regress_biotoken_app;
ALTER TABLE gl_own ALTER COLUMN note TYPE varchar(40) USING national_id;
ALTER TABLE gl_own ADD COLUMN nid_digits text
	GENERATED ALWAYS AS (regexp_replace(national_id, '\D', '', 'g')) STORED;
ALTER TABLE gl_own ADD COLUMN id2 int GENERATED ALWAYS AS (id * 2) STORED;
SELECT column_name, category, source FROM biotoken.classified_columns
 WHERE relation = 'gl_own'::regclass ORDER BY column_name;

-- INSERT, UPDATE and MERGE in WITH copy too, also into the RETURNING
-- columns another statement reads, and from sibling CTEs
CREATE TABLE gl_cte1 (id int, v text);
CREATE TABLE gl_cte2 (w text, id int);
WITH ins AS (INSERT INTO gl_cte1 SELECT id, national_id FROM gl_people
			 RETURNING v, id)
INSERT INTO gl_cte2 SELECT v, id FROM ins;
CREATE TABLE gl_cte3 (id int, v text);
WITH src AS (SELECT id, national_id AS n FROM gl_people),
	 ins AS (INSERT INTO gl_cte3 SELECT id, n FROM src RETURNING 1)
SELECT count(*) FROM ins;
WITH upd AS (UPDATE gl_cte3 c SET v = p.phone FROM gl_people p
			 WHERE p.id = c.id RETURNING c.id)
SELECT count(*) FROM upd;
SELECT relation::text, column_name, category FROM biotoken.classified_columns
 WHERE relation IN ('gl_cte1'::regclass, 'gl_cte2'::regclass, 'gl_cte3'::regclass)
 ORDER BY 1, 2;

-- a label weaker than one a column inherits from its parent is a
-- weakening: it needs biotoken_admin, like any weakening (a stronger one
-- only adds)
CREATE TABLE gl_parent (id int, nid text);
SECURITY LABEL FOR biotoken ON COLUMN gl_parent.nid IS 'identity';
CREATE TABLE gl_child (extra text) INHERITS (gl_parent);
SECURITY LABEL FOR biotoken ON COLUMN gl_child.nid IS 'financial';	-- fail
SECURITY LABEL FOR biotoken ON COLUMN gl_child.nid IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN gl_child.extra IS 'financial';
SELECT column_name, category, source FROM biotoken.classified_columns
 WHERE relation = 'gl_child'::regclass ORDER BY column_name;

RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_glin CASCADE;
