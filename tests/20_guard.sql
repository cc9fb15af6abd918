-- tests/20_guard.sql: the separation guard through pgTAP: every path by
-- which a statement reads or writes a column, each refused case next to
-- an allowed look-alike; lineage; scope = transaction; the settings.
BEGIN;
SELECT plan(89);

SET LOCAL client_min_messages = warning;
CREATE SCHEMA tap_guard;
SET LOCAL search_path = tap_guard, public;
CREATE TABLE tg_people (id int PRIMARY KEY, name text, national_id text,
						iban text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN tg_people.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN tg_people.iban IS 'financial';
CREATE TABLE tg_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE tg_ids (person_id int PRIMARY KEY, national_id text UNIQUE);
SECURITY LABEL FOR biotoken ON COLUMN tg_ids.national_id IS 'identity';
CREATE TABLE tg_log (a text, b text);

CREATE FUNCTION pg_temp.emb(seed int) RETURNS float4[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(sin(seed * 12.9898 + i * 78.233)::float4 ORDER BY i)
    FROM generate_series(1, 16) AS i
$$;

-- the message for each pair of categories
CREATE FUNCTION pg_temp.id_msg() RETURNS text LANGUAGE sql
	AS $$ SELECT 'cannot combine biometric data with identity data' $$;
CREATE FUNCTION pg_temp.fin_msg() RETURNS text LANGUAGE sql
	AS $$ SELECT 'cannot combine biometric data with financial data' $$;
CREATE FUNCTION pg_temp.all_msg() RETURNS text LANGUAGE sql
	AS $$ SELECT 'cannot combine biometric data with identity and financial data' $$;

-- writing both without reading: allowed
SELECT lives_ok($$INSERT INTO tg_people VALUES
	(1, 'ada', 'A1', 'DE01', pg_temp.emb(1)), (2, 'bob', 'B2', 'DE02', NULL)$$,
	'INSERT ... VALUES writes biometric and identity without reading them');
INSERT INTO tg_faces VALUES (1, pg_temp.emb(1)), (2, pg_temp.emb(2));
INSERT INTO tg_ids VALUES (1, 'A1'), (2, 'B2');

-- allowed: unclassified, count(*), one category, identity with financial
SELECT lives_ok('SELECT id, name FROM tg_people', 'unclassified columns of a mixed table');
SELECT lives_ok('SELECT count(*) FROM tg_people', 'count(*) of a mixed table');
SELECT lives_ok('SELECT count(face) FROM tg_people', 'biometric alone');
SELECT lives_ok('SELECT national_id, iban FROM tg_people', 'identity with financial');

-- target list and any reference
SELECT throws_ok('SELECT face, national_id FROM tg_people', '42501', pg_temp.id_msg(),
	'target list: face with national_id');
SELECT throws_ok('SELECT face IS NOT NULL, iban FROM tg_people', '42501', pg_temp.fin_msg(),
	'face IS NOT NULL counts as reading face');
SELECT throws_ok('SELECT count(face), max(national_id) FROM tg_people', '42501', pg_temp.id_msg(),
	'count(face) counts as reading face');
SELECT throws_ok('SELECT biometric_info(face), national_id FROM tg_people', '42501', pg_temp.id_msg(),
	'biometric_info(face) counts as reading face');
SELECT throws_ok($$SELECT biometric_verify(face, pg_temp.emb(1)) FROM tg_people WHERE national_id = 'A1'$$,
	'42501', pg_temp.id_msg(), 'verify by ID number in one statement');
SELECT lives_ok($$SELECT biometric_verify(face, pg_temp.emb(1)) FROM tg_people WHERE id = 1$$,
	'verify by person id');

-- WHERE, JOIN, GROUP BY, HAVING, ORDER BY, window
SELECT throws_ok($$SELECT count(*) FROM tg_people WHERE face IS NOT NULL AND national_id = 'A1'$$,
	'42501', pg_temp.id_msg(), 'WHERE');
SELECT lives_ok($$SELECT count(*) FROM tg_people WHERE face IS NOT NULL AND name = 'ada'$$,
	'WHERE on an unclassified column');
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_ids i
	ON i.person_id = f.person_id AND i.national_id LIKE 'A%'$$, '42501', pg_temp.id_msg(), 'JOIN condition');
SELECT lives_ok('SELECT count(f.face) FROM tg_faces f JOIN tg_ids i USING (person_id)',
	'JOIN on an unclassified key');
SELECT throws_ok('SELECT count(face) FROM tg_people GROUP BY national_id', '42501', pg_temp.id_msg(), 'GROUP BY');
SELECT throws_ok($$SELECT name FROM tg_people GROUP BY name HAVING max(iban) > '' AND count(face) > 0$$,
	'42501', pg_temp.fin_msg(), 'HAVING');
SELECT lives_ok('SELECT name, count(face) FROM tg_people GROUP BY name', 'GROUP BY an unclassified column');
SELECT throws_ok('SELECT face FROM tg_people ORDER BY national_id', '42501', pg_temp.id_msg(), 'ORDER BY');
SELECT lives_ok('SELECT face FROM tg_people ORDER BY name', 'ORDER BY an unclassified column');
SELECT throws_ok('SELECT face, rank() OVER (PARTITION BY iban) FROM tg_people', '42501', pg_temp.fin_msg(),
	'window PARTITION BY');
SELECT throws_ok('SELECT face, rank() OVER (ORDER BY national_id) FROM tg_people', '42501', pg_temp.id_msg(),
	'window ORDER BY');
SELECT lives_ok('SELECT face, rank() OVER (ORDER BY name) FROM tg_people', 'window over an unclassified column');

-- RETURNING, DELETE, UPDATE, INSERT ... SELECT
SELECT throws_ok('UPDATE tg_people SET name = name WHERE id = 1 RETURNING face, national_id',
	'42501', pg_temp.id_msg(), 'RETURNING');
SELECT lives_ok('UPDATE tg_people SET name = name WHERE id = 1 RETURNING face, name',
	'RETURNING biometric and unclassified');
SELECT throws_ok($$DELETE FROM tg_people WHERE face IS NULL AND national_id = 'none'$$,
	'42501', pg_temp.id_msg(), 'DELETE reads its WHERE');
SELECT throws_ok('DELETE FROM tg_people WHERE id = 99 RETURNING face, iban',
	'42501', pg_temp.fin_msg(), 'DELETE reads its RETURNING');
SELECT lives_ok($$DELETE FROM tg_people WHERE national_id = 'none'$$, 'DELETE by ID number');
SELECT throws_ok($$UPDATE tg_people SET national_id = 'X' WHERE face IS NULL AND id = 99$$,
	'42501', pg_temp.id_msg(), 'UPDATE reading biometric and writing identity');
SELECT lives_ok($$UPDATE tg_people SET face = pg_temp.emb(3) WHERE national_id = 'B2'$$,
	'enrollment by ID number: reads identity, writes biometric');
SELECT throws_ok($$INSERT INTO tg_people (id, national_id, face) SELECT person_id + 10, 'N', face FROM tg_faces$$,
	'42501', pg_temp.id_msg(), 'INSERT ... SELECT reading biometric and writing identity');
SELECT lives_ok($$INSERT INTO tg_faces SELECT person_id + 10, NULL FROM tg_ids WHERE national_id = 'A1'$$,
	'INSERT ... SELECT reading identity and writing biometric');

-- subqueries, CTEs, views, rules, set-returning functions
SELECT throws_ok($$SELECT count(face) FROM tg_faces WHERE person_id IN
	(SELECT person_id FROM tg_ids WHERE national_id = 'A1')$$, '42501', pg_temp.id_msg(), 'IN subquery');
SELECT throws_ok($$SELECT (SELECT national_id FROM tg_ids i WHERE i.person_id = f.person_id), f.face
	FROM tg_faces f$$, '42501', pg_temp.id_msg(), 'scalar subquery');
SELECT lives_ok('SELECT count(face) FROM tg_faces WHERE person_id IN (SELECT person_id FROM tg_ids)',
	'subquery on an unclassified column');
SELECT throws_ok($$WITH w AS (SELECT person_id FROM tg_ids WHERE national_id = 'A1')
	SELECT count(face) FROM tg_faces JOIN w USING (person_id)$$, '42501', pg_temp.id_msg(), 'CTE');
SELECT lives_ok($$WITH w AS (SELECT person_id FROM tg_ids)
	SELECT count(face) FROM tg_faces JOIN w USING (person_id)$$, 'CTE on an unclassified column');
CREATE VIEW tg_v_ids AS SELECT person_id, national_id FROM tg_ids;
CREATE VIEW tg_v_faces AS SELECT person_id, face FROM tg_faces;
SELECT throws_ok($$SELECT count(*) FROM tg_v_faces f JOIN tg_v_ids i USING (person_id)
	WHERE i.national_id = 'A1' AND f.face IS NOT NULL$$, '42501', pg_temp.id_msg(), 'views');
SELECT lives_ok('SELECT count(f.face) FROM tg_v_faces f JOIN tg_ids i USING (person_id)',
	'a view of faces joined on an unclassified key');
CREATE RULE tg_rule AS ON UPDATE TO tg_people
	DO ALSO INSERT INTO tg_log VALUES (OLD.face::text, OLD.national_id);
SELECT throws_ok('UPDATE tg_people SET name = name WHERE id = 1', '42501', pg_temp.id_msg(),
	'a rule action reading OLD columns');
DROP RULE tg_rule ON tg_people;
CREATE FUNCTION tg_all_ids() RETURNS SETOF text LANGUAGE sql
	AS 'SELECT national_id FROM tap_guard.tg_ids';
SELECT throws_ok('SELECT count(f.face) FROM tg_faces f, tg_all_ids() x', '42501', pg_temp.id_msg(),
	'a set-returning function in FROM');
SELECT throws_ok('SELECT count(face) FROM tg_people, LATERAL unnest(ARRAY[national_id]) u',
	'42501', pg_temp.id_msg(), 'LATERAL unnest');
SELECT lives_ok('SELECT count(face) FROM tg_faces, generate_series(1, 2) g WHERE g = person_id',
	'generate_series with faces');

-- whole-row references
SELECT throws_ok('SELECT p FROM tg_people p', '42501', pg_temp.all_msg(), 'SELECT t');
SELECT throws_ok('SELECT row_to_json(p) FROM tg_people p', '42501', pg_temp.all_msg(), 'row_to_json(t)');
SELECT throws_ok('SELECT p::text FROM tg_people p', '42501', pg_temp.all_msg(), 't::text');
SELECT lives_ok('SELECT f FROM tg_faces f', 'whole row of a biometric-only table');

-- MERGE, COPY, cursors, PREPARE
CREATE TABLE tg_target (person_id int, face biometric, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN tg_target.national_id IS 'identity';
SELECT throws_ok($$MERGE INTO tg_target t USING tg_faces f ON t.person_id = f.person_id
	WHEN NOT MATCHED THEN INSERT VALUES (f.person_id, f.face, 'X')$$, '42501', pg_temp.id_msg(), 'MERGE');
SELECT lives_ok($$MERGE INTO tg_target t USING tg_faces f ON t.person_id = f.person_id
	WHEN NOT MATCHED THEN INSERT (person_id, face) VALUES (f.person_id, f.face)$$,
	'MERGE of faces alone');
SELECT throws_ok($$COPY tg_people TO '/dev/null'$$, '42501', pg_temp.all_msg(), 'COPY table TO');
SELECT lives_ok($$COPY tg_people (id, face) TO '/dev/null'$$, 'COPY of face and id');
SELECT throws_ok($$COPY (SELECT face, national_id FROM tg_people) TO '/dev/null'$$, '42501',
	pg_temp.id_msg(), 'COPY (query) TO');
CREATE FUNCTION pg_temp.open_cursor(q text) RETURNS refcursor LANGUAGE plpgsql AS $$
DECLARE
	c refcursor;
BEGIN
	OPEN c FOR EXECUTE q;
	RETURN c;
END
$$;
SELECT throws_ok($$SELECT pg_temp.open_cursor('SELECT face, national_id FROM tap_guard.tg_people')$$,
	'42501', pg_temp.id_msg(), 'a cursor is judged when it opens');
SELECT lives_ok($$SELECT pg_temp.open_cursor('SELECT face FROM tap_guard.tg_people')$$,
	'a cursor over faces');
PREPARE tg_q(text) AS SELECT count(face) FROM tg_people WHERE national_id = $1;
SELECT throws_ok($$EXECUTE tg_q('A1')$$, '42501', pg_temp.id_msg(), 'EXECUTE of a prepared statement');
SET LOCAL plan_cache_mode = force_generic_plan;
SELECT throws_ok($$EXECUTE tg_q('B2')$$, '42501', pg_temp.id_msg(), 'EXECUTE of a cached generic plan');
RESET plan_cache_mode;
DEALLOCATE tg_q;

-- functions, planner-time folding, triggers, DO
CREATE FUNCTION tg_two_reads(p int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM tap_guard.tg_faces WHERE person_id = p;
	SELECT national_id INTO n FROM tap_guard.tg_ids WHERE person_id = p;
	RETURN length(n);
END
$$;
SELECT throws_ok('SELECT tg_two_reads(1)', '42501', pg_temp.id_msg(),
	'a function reading faces and then ID numbers is one statement');
CREATE FUNCTION tg_id_of(n text) RETURNS int LANGUAGE sql
	AS 'SELECT person_id FROM tap_guard.tg_ids WHERE national_id = n';
SELECT throws_ok($$SELECT count(face) FROM tg_faces WHERE person_id = tg_id_of('A1')$$, '42501',
	pg_temp.id_msg(), 'a function in WHERE that reads identity');
CREATE FUNCTION tg_id_of_imm(n text) RETURNS int LANGUAGE sql IMMUTABLE
	AS 'SELECT person_id FROM tap_guard.tg_ids WHERE national_id = n';
SELECT throws_ok($$SELECT count(face) FROM tg_faces WHERE person_id = tg_id_of_imm('A1')$$, '42501',
	pg_temp.id_msg(), 'an immutable function folded while planning');
SELECT lives_ok($$SELECT count(name) FROM tg_people WHERE id = tg_id_of_imm('A1')$$,
	'the folded function with unclassified columns');
CREATE FUNCTION tg_peek_faces() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM count(face) FROM tap_guard.tg_faces;
	RETURN NEW;
END
$$;
CREATE TRIGGER tg_peek AFTER INSERT ON tg_ids FOR EACH ROW EXECUTE FUNCTION tg_peek_faces();
SELECT throws_ok($$INSERT INTO tg_ids VALUES (3, 'C3')$$, '42501', pg_temp.id_msg(),
	'a trigger reading faces while identity is written');
DROP TRIGGER tg_peek ON tg_ids;
CREATE FUNCTION tg_check_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM tap_guard.tg_ids WHERE person_id = NEW.person_id AND national_id IS NOT NULL;
	RETURN NEW;
END
$$;
CREATE TRIGGER tg_check BEFORE INSERT ON tg_faces FOR EACH ROW EXECUTE FUNCTION tg_check_id();
SELECT lives_ok('INSERT INTO tg_faces VALUES (4, pg_temp.emb(4))',
	'a trigger reading identity while biometric is written (enrollment)');
DROP TRIGGER tg_check ON tg_faces;
SELECT throws_ok($q$DO $d$
DECLARE
	f biometric;
	n text;
BEGIN
	SELECT face INTO f FROM tap_guard.tg_faces WHERE person_id = 1;
	SELECT national_id INTO n FROM tap_guard.tg_ids WHERE person_id = 1;
END
$d$$q$, '42501', pg_temp.id_msg(), 'a DO block is one statement');
SELECT lives_ok($q$DO $d$
DECLARE
	f biometric;
BEGIN
	SELECT face INTO f FROM tap_guard.tg_faces WHERE person_id = 1;
END
$d$$q$, 'a DO block reading faces');

-- EXPLAIN
SELECT lives_ok('EXPLAIN SELECT face, national_id FROM tg_people', 'EXPLAIN runs nothing');
SELECT throws_ok('EXPLAIN ANALYZE SELECT face, national_id FROM tg_people', '42501', pg_temp.id_msg(),
	'EXPLAIN ANALYZE is judged like the statement');

-- several statements in one query string are several statements (a
-- refusal here would abort the transaction and every test after it)
SELECT count(face) FROM tg_faces \; SELECT count(national_id) FROM tg_ids;
SELECT pass('two statements in one query string are judged apart');

-- catalogs and RI
SELECT lives_ok('SELECT count(*) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid',
	'catalog queries');
CREATE TABLE tg_accounts (iban text PRIMARY KEY, national_id text REFERENCES tg_ids (national_id));
SECURITY LABEL FOR biotoken ON COLUMN tg_accounts.iban IS 'financial';
SELECT lives_ok($$INSERT INTO tg_accounts VALUES ('DE01', 'A1')$$, 'an RI check on an identity key');
DELETE FROM tg_faces WHERE person_id NOT IN (SELECT person_id FROM tg_ids);
SELECT lives_ok('ALTER TABLE tg_faces ADD FOREIGN KEY (person_id) REFERENCES tg_ids (person_id) NOT VALID',
	'adding a foreign key');
SELECT lives_ok('ALTER TABLE tg_faces VALIDATE CONSTRAINT tg_faces_person_id_fkey',
	'validating it (RI_Initial_Check)');

-- lineage: an identity column cannot be laundered into an unclassified copy
CREATE TABLE tg_copy AS SELECT person_id, national_id AS n FROM tg_ids;
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_copy c USING (person_id) WHERE c.n = 'A1'$$,
	'42501', pg_temp.id_msg(), 'CREATE TABLE AS labels the copy');
SELECT person_id, md5(national_id) AS h INTO tg_copy2 FROM tg_ids;
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_copy2 c USING (person_id) WHERE c.h <> ''$$,
	'42501', pg_temp.id_msg(), 'SELECT INTO labels a copy derived through md5()');
CREATE MATERIALIZED VIEW tg_mv AS SELECT person_id, substr(national_id, 1, 1) AS s FROM tg_ids;
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_mv m USING (person_id) WHERE m.s = 'A'$$,
	'42501', pg_temp.id_msg(), 'a materialized view is labelled');
CREATE TABLE tg_launder (person_id int, code text);
INSERT INTO tg_launder SELECT person_id, national_id::varchar FROM tg_ids;
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_launder l USING (person_id) WHERE l.code = 'A1'$$,
	'42501', pg_temp.id_msg(), 'INSERT ... SELECT labels the target column');
CREATE TABLE tg_launder2 (person_id int, code text);
INSERT INTO tg_launder2 (person_id) SELECT person_id FROM tg_ids;
UPDATE tg_launder2 l SET code = (SELECT i.national_id FROM tg_ids i WHERE i.person_id = l.person_id);
SELECT throws_ok($$SELECT count(f.face) FROM tg_faces f JOIN tg_launder2 l USING (person_id) WHERE l.code = 'A1'$$,
	'42501', pg_temp.id_msg(), 'UPDATE ... SET col = (SELECT ...) labels the column');
SELECT lives_ok('SELECT count(f.face) FROM tg_faces f JOIN tg_launder2 l USING (person_id)',
	'the copy''s other columns stay unclassified');

-- scope = transaction (here: the rest of this test's transaction)
SELECT lives_ok('SELECT count(national_id) FROM tg_ids', 'statement scope: identity after faces');
SET LOCAL biotoken.scope = transaction;
SELECT lives_ok('SELECT count(face) FROM tg_faces', 'transaction scope: faces first');
SELECT throws_ok('SELECT count(national_id) FROM tg_ids', '42501', pg_temp.id_msg(),
	'transaction scope: identity later in the same transaction');
SELECT throws_ok($$SELECT pg_temp.open_cursor('SELECT national_id FROM tap_guard.tg_ids')$$,
	'42501', pg_temp.id_msg(), 'transaction scope: a second cursor');
SET LOCAL biotoken.scope = statement;

-- the guard setting is for superusers only; off means off
CREATE ROLE regress_biotoken_tg_user;
GRANT USAGE, CREATE ON SCHEMA tap_guard TO regress_biotoken_tg_user;
GRANT SELECT ON tg_people TO regress_biotoken_tg_user;
SET LOCAL ROLE regress_biotoken_tg_user;
SELECT throws_ok('SET biotoken.guard = off', '42501', NULL, 'a user cannot SET biotoken.guard');
SELECT throws_ok('SET LOCAL biotoken.guard = off', '42501', NULL, 'nor SET LOCAL');
SELECT throws_ok('ALTER ROLE regress_biotoken_tg_user SET biotoken.guard = off', '42501', NULL,
	'nor ALTER ROLE ... SET');
SELECT throws_ok($$CREATE FUNCTION tap_guard.tg_off() RETURNS int LANGUAGE sql
	SET biotoken.guard = off AS 'SELECT 1'$$, '42501', NULL, 'nor a function''s SET clause');
SELECT throws_ok($$SELECT count(face) FROM tap_guard.tg_people WHERE national_id = 'A1'$$, '42501',
	pg_temp.id_msg(), 'the user is still guarded');
RESET ROLE;
SET LOCAL biotoken.guard = off;
SELECT lives_ok($$SELECT count(face) FROM tg_people WHERE national_id = 'A1'$$,
	'off: nothing is refused');
SET LOCAL biotoken.guard = on;
SELECT throws_ok($$SELECT count(face) FROM tg_people WHERE national_id = 'A1'$$, '42501',
	pg_temp.id_msg(), 'on again: superusers are guarded too');

-- a statement's first check, refused and caught, counts nothing: a later
-- read of one category in the same statement passes
CREATE FUNCTION tg_refused_first() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	n text;
BEGIN
	BEGIN
		PERFORM count(f.face) FROM tap_guard.tg_faces f JOIN tap_guard.tg_ids i
			USING (person_id) WHERE i.national_id = 'A1';
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
	SELECT national_id INTO n FROM tap_guard.tg_ids WHERE person_id = 1;
	RETURN n;
END
$$;
SELECT is(tg_refused_first(), 'A1',
	'a refused first check of a statement leaves nothing read behind');

SELECT * FROM finish();
ROLLBACK;
