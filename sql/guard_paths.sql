--
-- guard_paths: every path by which a statement reads or writes a column,
-- each with a refused case and, where one exists, an allowed look-alike.
-- The superuser running this is guarded like everyone else.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS biotoken;
DROP SCHEMA IF EXISTS regress_guard CASCADE;
DROP ROLE IF EXISTS regress_biotoken_user;
RESET client_min_messages;
CREATE SCHEMA regress_guard;
SET search_path = regress_guard, public;

-- people: one mixed table; faces and ids: the two halves apart
CREATE TABLE gp_people (id int PRIMARY KEY, name text, national_id text,
						iban text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN gp_people.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN gp_people.iban IS 'financial';
CREATE TABLE gp_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE gp_ids (person_id int PRIMARY KEY, national_id text UNIQUE);
SECURITY LABEL FOR biotoken ON COLUMN gp_ids.national_id IS 'identity';

-- writing both categories without reading them is allowed
INSERT INTO gp_people VALUES
	(1, 'ada', 'A1', 'DE01', array_fill(0.5::float4, ARRAY[16])),
	(2, 'bob', 'B2', 'DE02', NULL);
INSERT INTO gp_faces VALUES (1, array_fill(0.5::float4, ARRAY[16])),
							(2, array_fill(-0.5::float4, ARRAY[16]));
INSERT INTO gp_ids VALUES (1, 'A1'), (2, 'B2');

-- unclassified columns of a mixed table, count(*), one category, and
-- identity with financial are fine
SELECT id, name FROM gp_people ORDER BY id;
SELECT count(*) FROM gp_people;
SELECT count(face) FROM gp_people;
SELECT national_id, iban FROM gp_people ORDER BY id;

-- target list
SELECT face IS NOT NULL, national_id FROM gp_people;	-- fail (face, id)
SELECT (biometric_info(face)).dims, iban FROM gp_people;	-- fail (face, iban)
SELECT (biometric_info(face)).dims, name FROM gp_people ORDER BY id;

-- WHERE
SELECT count(*) FROM gp_people WHERE face IS NOT NULL AND national_id = 'A1';	-- fail
SELECT count(*) FROM gp_people WHERE face IS NOT NULL AND name = 'ada';

-- JOIN
SELECT count(f.face) FROM gp_faces f JOIN gp_ids i
	ON i.person_id = f.person_id AND i.national_id LIKE 'A%';	-- fail
SELECT count(f.face) FROM gp_faces f JOIN gp_ids i USING (person_id);

-- GROUP BY, HAVING
SELECT count(face) FROM gp_people GROUP BY national_id;	-- fail
SELECT name FROM gp_people GROUP BY name
	HAVING count(face) > 0 AND max(iban) > '';	-- fail
SELECT name, count(face) FROM gp_people GROUP BY name ORDER BY name;

-- ORDER BY
SELECT face IS NULL FROM gp_people ORDER BY national_id;	-- fail
SELECT face IS NULL FROM gp_people ORDER BY name;

-- window clauses
SELECT face IS NULL, row_number() OVER (PARTITION BY iban) FROM gp_people;	-- fail
SELECT face IS NULL, row_number() OVER (ORDER BY name) FROM gp_people ORDER BY 2;

-- RETURNING
UPDATE gp_people SET name = name WHERE id = 1 RETURNING face IS NULL, national_id;	-- fail
UPDATE gp_people SET name = name WHERE id = 1 RETURNING face IS NULL, name;

-- subqueries: IN, EXISTS, scalar
SELECT count(face) FROM gp_faces
	WHERE person_id IN (SELECT person_id FROM gp_ids WHERE national_id = 'A1');	-- fail
SELECT count(face) FROM gp_faces f
	WHERE EXISTS (SELECT 1 FROM gp_ids i WHERE i.person_id = f.person_id
				  AND i.national_id <> '');	-- fail
SELECT (SELECT i.national_id FROM gp_ids i WHERE i.person_id = f.person_id),
	   f.face IS NULL FROM gp_faces f;	-- fail
SELECT count(face) FROM gp_faces WHERE person_id IN (SELECT person_id FROM gp_ids);

-- CTEs, also data-modifying ones
WITH wanted AS (SELECT person_id FROM gp_ids WHERE national_id = 'A1')
SELECT count(face) FROM gp_faces JOIN wanted USING (person_id);	-- fail
WITH gone AS (DELETE FROM gp_ids WHERE person_id = 99 RETURNING national_id)
SELECT count(face) FROM gp_faces, gone;	-- fail
WITH wanted AS (SELECT person_id FROM gp_ids)
SELECT count(face) FROM gp_faces JOIN wanted USING (person_id);

-- views count as the tables under them
CREATE VIEW gp_v_ids AS SELECT person_id, national_id FROM gp_ids;
CREATE VIEW gp_v_faces AS SELECT person_id, face FROM gp_faces;
CREATE VIEW gp_v_mixed AS SELECT id, face, national_id FROM gp_people;
SELECT count(*) FROM gp_v_faces f JOIN gp_v_ids i USING (person_id)
	WHERE i.national_id = 'A1' AND f.face IS NOT NULL;	-- fail
SELECT count(f.face) FROM gp_v_faces f JOIN gp_ids i USING (person_id);
-- a view reads every column its definition references, used or not
SELECT count(f.face) FROM gp_v_faces f JOIN gp_v_ids i USING (person_id);	-- fail
SELECT count(id) FROM gp_v_mixed;	-- fail

-- rules: the action reads OLD's columns
CREATE TABLE gp_log (a text, b text);
CREATE RULE gp_rule AS ON UPDATE TO gp_people
	DO ALSO INSERT INTO gp_log VALUES (OLD.face::text, OLD.national_id);
UPDATE gp_people SET name = name WHERE id = 2;	-- fail
DROP RULE gp_rule ON gp_people;
CREATE RULE gp_rule AS ON UPDATE TO gp_people
	DO ALSO INSERT INTO gp_log VALUES (OLD.name, NULL);
UPDATE gp_people SET name = name WHERE id = 2;
DROP RULE gp_rule ON gp_people;

-- set-returning functions
SELECT count(face) FROM gp_people, LATERAL unnest(ARRAY[national_id]) AS u;	-- fail
CREATE FUNCTION gp_all_ids() RETURNS SETOF text LANGUAGE sql
	AS 'SELECT national_id FROM regress_guard.gp_ids';
SELECT count(f.face) FROM gp_faces f, gp_all_ids() AS x;	-- fail
SELECT count(f.face) FROM gp_faces f, generate_series(1, 2) AS g
	WHERE g = f.person_id;

-- whole-row references: every column
SELECT p IS NOT NULL FROM gp_people p;	-- fail
SELECT row_to_json(p) IS NOT NULL FROM gp_people p;	-- fail
SELECT length(p::text) > 0 FROM gp_people p;	-- fail
SELECT f IS NOT NULL FROM gp_faces f;

-- many classified columns and tables in one statement
CREATE TABLE gp_wide (id int, face biometric, n1 text, n2 text, n3 text, n4 text,
					  n5 text, n6 text, n7 text, n8 text, n9 text);
DO $$
BEGIN
	FOR i IN 1..9 LOOP
		EXECUTE format('SECURITY LABEL FOR biotoken ON COLUMN regress_guard.gp_wide.n%s IS %L',
					   i, CASE WHEN i % 2 = 0 THEN 'identity' ELSE 'financial' END);
	END LOOP;
END
$$;
CREATE TABLE gp_w1 (n text);
CREATE TABLE gp_w2 (n text);
CREATE TABLE gp_w3 (n text);
CREATE TABLE gp_w4 (n text);
SECURITY LABEL FOR biotoken ON COLUMN gp_w1.n IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN gp_w2.n IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN gp_w3.n IS 'financial';
SECURITY LABEL FOR biotoken ON COLUMN gp_w4.n IS 'financial';
SELECT w IS NULL FROM gp_wide w;	-- fail
SELECT count(*) FROM gp_w1, gp_w2, gp_w3, gp_w4, gp_wide w
	WHERE w.n1 IS NULL AND w.n9 IS NULL;
DO $$
DECLARE
	c bigint;
BEGIN
	SELECT count(*) INTO c FROM regress_guard.gp_w1, regress_guard.gp_w2
		WHERE gp_w1.n = gp_w2.n;
	SELECT count(*) INTO c FROM regress_guard.gp_w3, regress_guard.gp_w4
		WHERE gp_w3.n = gp_w4.n;
	SELECT count(*) INTO c FROM regress_guard.gp_wide
		WHERE n1 || n2 || n3 || n4 || n5 || n6 || n7 || n8 || n9 IS NULL;
	SELECT count(face) INTO c FROM regress_guard.gp_faces;
END
$$;	-- fail (at the last)
SELECT count(*) FROM gp_w1;

-- MERGE
CREATE TABLE gp_target (person_id int, face biometric, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN gp_target.national_id IS 'identity';
MERGE INTO gp_target t USING gp_faces f ON t.person_id = f.person_id
	WHEN NOT MATCHED THEN INSERT VALUES (f.person_id, f.face, 'X');	-- fail (writes identity)
MERGE INTO gp_target t USING gp_ids i ON t.person_id = i.person_id
	WHEN NOT MATCHED THEN INSERT VALUES (i.person_id, NULL, i.national_id);
MERGE INTO gp_target t USING gp_faces f ON t.person_id = f.person_id
	WHEN MATCHED THEN UPDATE SET face = f.face;	-- enrollment: allowed
MERGE INTO gp_target t USING gp_faces f ON t.person_id = f.person_id
	WHEN MATCHED AND t.national_id = 'A1' THEN UPDATE SET face = f.face;	-- fail

-- COPY table TO and COPY (query) TO
COPY gp_people TO stdout;	-- fail
COPY gp_people (id, face) TO '/dev/null';
COPY (SELECT face, national_id FROM gp_people) TO stdout;	-- fail
COPY (SELECT id, face IS NULL FROM gp_people ORDER BY id) TO stdout;

-- cursors
BEGIN;
DECLARE c1 CURSOR FOR SELECT face, national_id FROM gp_people;	-- fail
ROLLBACK;
BEGIN;
DECLARE c1 CURSOR FOR SELECT face IS NULL FROM gp_people ORDER BY id;
FETCH 1 FROM c1;
CLOSE c1;
COMMIT;

-- PREPARE / EXECUTE: judged at every execution, cached plans too
PREPARE gp_q(text) AS SELECT count(face) FROM gp_people WHERE national_id = $1;
EXECUTE gp_q('A1');	-- fail
SET plan_cache_mode = force_generic_plan;
EXECUTE gp_q('A1');	-- fail
EXECUTE gp_q('B2');	-- fail
RESET plan_cache_mode;
DEALLOCATE gp_q;

-- functions: what they run counts toward the calling statement
CREATE FUNCTION gp_two_reads(p int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM regress_guard.gp_faces WHERE person_id = p;
	SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = p;
	RETURN length(n);
END
$$;
SELECT gp_two_reads(1);	-- fail
CREATE FUNCTION gp_id_of(n text) RETURNS int LANGUAGE sql
	AS 'SELECT person_id FROM regress_guard.gp_ids WHERE national_id = n';
SELECT count(face) FROM gp_faces WHERE person_id = gp_id_of('A1');	-- fail
SELECT gp_id_of('A1');
-- an immutable function is folded while the statement is planned
CREATE FUNCTION gp_id_of_imm(n text) RETURNS int LANGUAGE sql IMMUTABLE
	AS 'SELECT person_id FROM regress_guard.gp_ids WHERE national_id = n';
SELECT count(face) FROM gp_faces WHERE person_id = gp_id_of_imm('A1');	-- fail
SELECT count(name) FROM gp_people WHERE id = gp_id_of_imm('A1');
-- a refusal caught inside a function leaves the function's own reads alone
CREATE FUNCTION gp_caught() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n text;
BEGIN
	PERFORM count(face) FROM regress_guard.gp_faces;
	BEGIN
		SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = 1;
	EXCEPTION WHEN insufficient_privilege THEN
		RETURN 'refused inside';
	END;
	RETURN n;
END
$$;
SELECT gp_caught();
-- an error caught in a function does not make it forget what it read
CREATE FUNCTION gp_forget() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n text;
BEGIN
	PERFORM count(face) FROM regress_guard.gp_faces;
	BEGIN
		PERFORM 1 / 0;
	EXCEPTION WHEN division_by_zero THEN
		NULL;
	END;
	SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = 1;
	RETURN n;
END
$$;
SELECT gp_forget();	-- fail

-- procedures, also across their own COMMIT and ROLLBACK
CREATE PROCEDURE gp_proc(do_commit bool) LANGUAGE plpgsql AS $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM regress_guard.gp_faces WHERE person_id = 1;
	IF do_commit THEN
		COMMIT;
	ELSE
		ROLLBACK;
	END IF;
	SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = 1;
END
$$;
CALL gp_proc(true);	-- fail
CALL gp_proc(false);	-- fail

-- triggers
CREATE FUNCTION gp_peek_faces() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM count(face) FROM regress_guard.gp_faces;
	RETURN NEW;
END
$$;
CREATE TRIGGER gp_peek AFTER INSERT ON gp_ids
	FOR EACH ROW EXECUTE FUNCTION gp_peek_faces();
INSERT INTO gp_ids VALUES (3, 'C3');	-- fail (writes identity, trigger reads faces)
DROP TRIGGER gp_peek ON gp_ids;
-- enrollment with a trigger that looks the person up by ID number
CREATE FUNCTION gp_check_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM regress_guard.gp_ids
				   WHERE person_id = NEW.person_id AND national_id IS NOT NULL) THEN
		RAISE EXCEPTION 'unknown person';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER gp_check BEFORE INSERT ON gp_faces
	FOR EACH ROW EXECUTE FUNCTION gp_check_id();
INSERT INTO gp_ids VALUES (3, 'C3');
INSERT INTO gp_faces VALUES (3, array_fill(0.25::float4, ARRAY[16]));
DROP TRIGGER gp_check ON gp_faces;

-- deferred triggers fire at COMMIT, outside any statement: all they run
-- counts as one
CREATE TABLE gp_queue (x int);
CREATE FUNCTION gp_deferred_peek() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	f text;
	n text;
BEGIN
	SELECT face::text INTO f FROM regress_guard.gp_faces WHERE person_id = 1;
	SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = 1;
	RAISE NOTICE 'both: %', f IS NOT NULL AND n IS NOT NULL;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER gp_deferred AFTER INSERT ON gp_queue
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gp_deferred_peek();
INSERT INTO gp_queue VALUES (1);	-- fail (at its commit)
BEGIN;
INSERT INTO gp_queue VALUES (2);
COMMIT;	-- fail
SELECT count(*) FROM gp_queue;
DROP TABLE gp_queue;

-- DO blocks
DO $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM regress_guard.gp_faces WHERE person_id = 1;
	SELECT national_id INTO n FROM regress_guard.gp_ids WHERE person_id = 1;
END
$$;	-- fail
DO $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM regress_guard.gp_faces WHERE person_id = 1;
	SELECT name INTO n FROM regress_guard.gp_people WHERE id = 1;
END
$$;

-- EXPLAIN runs nothing; EXPLAIN ANALYZE is judged like the statement
EXPLAIN (COSTS OFF) SELECT face, national_id FROM gp_people;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
	SELECT face, national_id FROM gp_people;	-- fail

-- several statements in one query string are several statements
SELECT count(face) FROM gp_faces \; SELECT count(national_id) FROM gp_ids;

-- writes: INSERT ... SELECT, UPDATE, DELETE
INSERT INTO gp_people (id, national_id, face)
	SELECT person_id + 10, 'N', face FROM gp_faces;	-- fail (reads face, writes identity)
UPDATE gp_people SET national_id = 'A1' WHERE face IS NULL AND id = 2;	-- fail
UPDATE gp_people SET face = array_fill(0.75::float4, ARRAY[16])
	WHERE national_id = 'B2';	-- enrollment by ID number
DELETE FROM gp_people WHERE face IS NULL AND national_id = 'none';	-- fail
DELETE FROM gp_people WHERE id = 99 RETURNING face IS NULL, national_id;	-- fail
DELETE FROM gp_people WHERE national_id = 'none';
DELETE FROM gp_people WHERE id = 99 RETURNING face IS NULL;

-- the refused statement left no effect
SELECT id, name, national_id FROM gp_people ORDER BY id;
SELECT count(*) FROM gp_log;

-- RI checks, catalog queries
CREATE TABLE gp_accounts (iban text PRIMARY KEY,
						  national_id text REFERENCES gp_ids (national_id));
SECURITY LABEL FOR biotoken ON COLUMN gp_accounts.iban IS 'financial';
INSERT INTO gp_accounts VALUES ('DE01', 'A1');
ALTER TABLE gp_faces ADD FOREIGN KEY (person_id) REFERENCES gp_ids (person_id);
DELETE FROM gp_faces WHERE person_id = 3;
DELETE FROM gp_ids WHERE person_id = 3;	-- the RI check reads gp_faces.person_id
SELECT count(*) > 0 FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid;

-- parallel workers: a function run in a worker counts too
CREATE FUNCTION gp_nid_len(p int) RETURNS int LANGUAGE sql STABLE PARALLEL SAFE
	AS 'SELECT length(national_id) FROM regress_guard.gp_ids WHERE person_id = p';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
-- terse: the CONTEXT says whether a worker ran it, which depends on load
\set VERBOSITY terse
SELECT count(face) FROM gp_faces WHERE gp_nid_len(person_id) = 2;	-- fail
\set VERBOSITY default
SELECT count(face) FROM gp_faces WHERE person_id > 0;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- biotoken.scope = transaction
SET biotoken.scope = transaction;
BEGIN;
SELECT count(face) FROM gp_faces;
SELECT count(national_id) FROM gp_ids;	-- fail (the transaction read faces)
ROLLBACK;
BEGIN;
SELECT count(face) FROM gp_faces;
SAVEPOINT s1;
SELECT count(*) FROM gp_faces;
ROLLBACK TO SAVEPOINT s1;
SELECT count(national_id) FROM gp_ids;	-- fail (rows seen before stay seen)
ROLLBACK;
BEGIN;
DECLARE c2 CURSOR FOR SELECT face IS NULL FROM gp_faces;
DECLARE c3 CURSOR FOR SELECT national_id FROM gp_ids;	-- fail
ROLLBACK;
-- a new transaction starts empty
SELECT count(national_id) FROM gp_ids;
-- a procedure's COMMIT starts a new transaction, not a new statement
CREATE PROCEDURE gp_proc_commit() LANGUAGE plpgsql AS $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM regress_guard.gp_faces WHERE person_id = 1;
	COMMIT;
	SELECT name INTO n FROM regress_guard.gp_people WHERE id = 1;
	COMMIT;
	SELECT count(*) INTO n FROM regress_guard.gp_people;
END
$$;
CALL gp_proc_commit();
CALL gp_proc(true);	-- fail
RESET biotoken.scope;
-- statement scope: separate statements are separate
BEGIN;
SELECT count(face) FROM gp_faces;
SELECT count(national_id) FROM gp_ids;
COMMIT;

-- biotoken.guard and biotoken.scope are for superusers only
CREATE ROLE regress_biotoken_user;
GRANT USAGE, CREATE ON SCHEMA regress_guard TO regress_biotoken_user;
GRANT SELECT ON gp_people TO regress_biotoken_user;
SET ROLE regress_biotoken_user;
SET biotoken.guard = off;	-- fail
BEGIN;
SET LOCAL biotoken.guard = off;	-- fail
ROLLBACK;
SET biotoken.scope = statement;	-- fail
ALTER ROLE regress_biotoken_user SET biotoken.guard = off;	-- fail
CREATE FUNCTION regress_guard.gp_unguard() RETURNS int LANGUAGE sql
	SET biotoken.guard = off AS 'SELECT 1';	-- fail
SELECT count(face) FROM gp_people WHERE national_id = 'A1';	-- fail
RESET ROLE;
-- a superuser's function with the setting does not lend it
CREATE FUNCTION gp_unguarded_count() RETURNS bigint LANGUAGE sql
	SET biotoken.guard = off
	AS 'SELECT count(face) FROM regress_guard.gp_people WHERE national_id = ''A1''';
GRANT EXECUTE ON FUNCTION gp_unguarded_count() TO regress_biotoken_user;
SET ROLE regress_biotoken_user;
SELECT gp_unguarded_count();	-- fail
RESET ROLE;
-- off: nothing is refused
SET biotoken.guard = off;
SELECT count(face) FROM gp_people WHERE national_id = 'A1';
RESET biotoken.guard;
SELECT count(face) FROM gp_people WHERE national_id = 'A1';	-- fail

-- lineage: copies carry the category of what they copy, and cannot be
-- joined with faces afterwards
CREATE TABLE gp_copy1 AS SELECT person_id, national_id AS n FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_copy1 c USING (person_id)
	WHERE c.n = 'A1';	-- fail (gp_copy1.n is identity now)
SELECT person_id, md5(national_id) AS h INTO gp_copy2 FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_copy2 c USING (person_id)
	WHERE c.h <> '';	-- fail (derived through md5)
CREATE MATERIALIZED VIEW gp_mv AS
	SELECT person_id, substr(national_id, 1, 1) AS initial FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_mv m USING (person_id)
	WHERE m.initial = 'A';	-- fail
CREATE TABLE gp_launder (person_id int, code text);
INSERT INTO gp_launder SELECT person_id, national_id || '' FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_launder l USING (person_id)
	WHERE l.code = 'A1';	-- fail (the laundered copy is identity)
CREATE TABLE gp_launder2 (person_id int, code text);
INSERT INTO gp_launder2 (person_id) SELECT person_id FROM gp_ids;
UPDATE gp_launder2 l SET code = (SELECT i.national_id::varchar FROM gp_ids i
								 WHERE i.person_id = l.person_id);
SELECT count(f.face) FROM gp_faces f JOIN gp_launder2 l USING (person_id)
	WHERE l.code = 'A1';	-- fail
CREATE TABLE gp_launder3 (person_id int, code text);
INSERT INTO gp_launder3
	SELECT 0, 'constant' UNION ALL SELECT person_id, national_id FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_launder3 l USING (person_id)
	WHERE l.code = 'A1';	-- fail (through the second arm of a UNION)
CREATE TABLE gp_launder4 (person_id int, code text);
WITH src AS (SELECT person_id, national_id FROM gp_ids)
INSERT INTO gp_launder4 SELECT person_id, upper(national_id) FROM src;
SELECT count(f.face) FROM gp_faces f JOIN gp_launder4 l USING (person_id)
	WHERE l.code = 'A1';	-- fail (through a CTE)
CREATE TABLE gp_launder5 AS SELECT person_id, national_id AS code FROM gp_v_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_launder5 l USING (person_id)
	WHERE l.code = 'A1';	-- fail (through a view)
CREATE TABLE gp_launder6 (person_id int PRIMARY KEY, code text);
MERGE INTO gp_launder6 t USING gp_ids i ON t.person_id = i.person_id
	WHEN NOT MATCHED THEN INSERT VALUES (i.person_id, lower(i.national_id));
SELECT count(f.face) FROM gp_faces f JOIN gp_launder6 l USING (person_id)
	WHERE l.code = 'a1';	-- fail (through MERGE)
CREATE TABLE gp_launder7 (person_id int PRIMARY KEY, code text);
INSERT INTO gp_launder7 SELECT person_id, 'x' FROM gp_ids;
INSERT INTO gp_launder7 SELECT person_id, 'y' FROM gp_ids
	ON CONFLICT (person_id) DO UPDATE SET code = (SELECT national_id FROM gp_ids i
												  WHERE i.person_id = excluded.person_id);
SELECT count(f.face) FROM gp_faces f JOIN gp_launder7 l USING (person_id)
	WHERE l.code = 'A1';	-- fail (through ON CONFLICT DO UPDATE)
-- only the copied column is labelled; the others stay unclassified
SELECT count(f.face) FROM gp_faces f JOIN gp_launder l USING (person_id);
-- a copy of faces is biometric: joining it with identity is refused
CREATE TABLE gp_facecopy AS SELECT person_id, face AS f FROM gp_faces;
SELECT count(c.f) FROM gp_facecopy c JOIN gp_ids i USING (person_id)
	WHERE i.national_id = 'A1';	-- fail
-- one column cannot hold both: it could carry only one label
CREATE TABLE gp_mixed_copy (code text);
INSERT INTO gp_mixed_copy SELECT face::text || national_id FROM gp_people;	-- fail
-- a view with an INSTEAD OF trigger stores nothing and takes no label
CREATE VIEW gp_v_insert AS SELECT person_id, national_id FROM gp_ids;
CREATE FUNCTION gp_v_insert_trg() RETURNS trigger LANGUAGE plpgsql
	AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER gp_v_ins INSTEAD OF INSERT ON gp_v_insert
	FOR EACH ROW EXECUTE FUNCTION gp_v_insert_trg();
INSERT INTO gp_v_insert SELECT person_id, national_id FROM gp_ids;
-- REFRESH re-derives; EXPLAIN without ANALYZE labels nothing
CREATE TABLE gp_explained (person_id int, code text);
EXPLAIN (COSTS OFF) INSERT INTO gp_explained SELECT person_id, national_id FROM gp_ids;
SELECT count(f.face) FROM gp_faces f JOIN gp_explained e USING (person_id)
	WHERE e.code IS NULL;
REFRESH MATERIALIZED VIEW gp_mv;

-- biotoken.log_reads: a 'read' record per statement for each biometric
-- column it reads, written before rows are returned; not for refusals
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
SET biotoken.log_reads = on;
SELECT count(face) FROM gp_faces;
SELECT count(*) FROM gp_faces;
CREATE FUNCTION gp_face_count(p int) RETURNS bigint LANGUAGE sql
	AS 'SELECT count(face) FROM regress_guard.gp_faces WHERE person_id = p';
SELECT sum(gp_face_count(id)) FROM gp_people;
SELECT count(face) FROM gp_people WHERE national_id = 'A1';	-- fail
-- with the guard off, reads are still logged
SET biotoken.guard = off;
SELECT count(face) FROM gp_people WHERE national_id = 'A1';
RESET biotoken.guard;
RESET biotoken.log_reads;
SELECT count(face) FROM gp_faces;
SELECT event, columns FROM biotoken.access_log
 WHERE id > :mark AND event IN ('read', 'refused') ORDER BY id;

-- clean up
DROP OWNED BY regress_biotoken_user;
DROP ROLE regress_biotoken_user;
DROP SCHEMA regress_guard CASCADE;
