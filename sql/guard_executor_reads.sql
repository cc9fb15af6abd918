--
-- guard_executor_reads: code the executor runs over stored rows without a
-- permission check naming the columns (triggers and their transition
-- tables, deferred triggers, CHECK constraints and their validation,
-- expression indexes, generated columns, ALTER COLUMN TYPE ... USING,
-- CREATE STATISTICS, row-level security policies) reads those columns,
-- and is judged like a query over them.  The attacker is the owner of a
-- mixed table, an ordinary role; only the set-up runs as a superuser.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_gexr CASCADE;
DROP ROLE IF EXISTS regress_biotoken_owner;
RESET client_min_messages;
CREATE ROLE regress_biotoken_owner;
CREATE SCHEMA regress_gexr AUTHORIZATION regress_biotoken_owner;
SET search_path = regress_gexr, public;

SET SESSION AUTHORIZATION regress_biotoken_owner;
CREATE TABLE ger_people (id int PRIMARY KEY, name text, national_id text,
						 face biometric);
SECURITY LABEL FOR biotoken ON COLUMN ger_people.national_id IS 'identity';
CREATE TABLE ger_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE ger_ids (person_id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN ger_ids.national_id IS 'identity';
INSERT INTO ger_people VALUES (1, 'ada', 'A1', regress_emb(1)),
	(2, 'bob', 'B2', regress_emb(2)), (3, 'cy', 'C3', regress_emb(3));
INSERT INTO ger_faces VALUES (1, regress_emb(1)), (2, regress_emb(2));
INSERT INTO ger_ids VALUES (1, 'A1'), (2, 'B2');

-- the user code: it could as well send the values themselves
CREATE FUNCTION ger_leak(f biometric, n text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	RAISE NOTICE 'leak: face %, national id %', f IS NOT NULL, n IS NOT NULL;
	RETURN true;
END
$$;
CREATE FUNCTION ger_row_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	r ger_people;
BEGIN
	r := CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
	PERFORM ger_leak(r.face, r.national_id);
	RETURN r;
END
$$;

-- row triggers: OLD and NEW are whole rows of the target
CREATE TRIGGER ger_t BEFORE UPDATE ON ger_people
	FOR EACH ROW EXECUTE FUNCTION ger_row_trigger();
UPDATE ger_people SET name = 'ada2' WHERE id = 1;	-- fail
DROP TRIGGER ger_t ON ger_people;
CREATE TRIGGER ger_t AFTER DELETE ON ger_people
	FOR EACH ROW EXECUTE FUNCTION ger_row_trigger();
DELETE FROM ger_people WHERE id = 3;	-- fail
DROP TRIGGER ger_t ON ger_people;
-- NEW of an INSERT holds only what the statement writes
CREATE TRIGGER ger_t BEFORE INSERT ON ger_people
	FOR EACH ROW EXECUTE FUNCTION ger_row_trigger();
INSERT INTO ger_people VALUES (4, 'dee', 'D4', regress_emb(4));
-- an upsert that updates the stored row fires the update triggers
CREATE TRIGGER ger_t2 BEFORE UPDATE ON ger_people
	FOR EACH ROW EXECUTE FUNCTION ger_row_trigger();
INSERT INTO ger_people VALUES (4, 'dee', NULL, NULL)
	ON CONFLICT (id) DO UPDATE SET name = 'dee2';	-- fail
DROP TRIGGER ger_t ON ger_people;
DROP TRIGGER ger_t2 ON ger_people;
-- a trigger on a table of one category reads one category
CREATE FUNCTION ger_face_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'face trigger: %', NEW.face IS NOT NULL;
	RETURN NEW;
END
$$;
CREATE TRIGGER ger_ft BEFORE UPDATE ON ger_faces
	FOR EACH ROW EXECUTE FUNCTION ger_face_trigger();
UPDATE ger_faces SET person_id = person_id WHERE person_id = 1;
DROP TRIGGER ger_ft ON ger_faces;

-- transition tables hold every old or new row
CREATE FUNCTION ger_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ger_leak(o.face, o.national_id) FROM old_rows o;
	RETURN NULL;
END
$$;
CREATE TRIGGER ger_tt AFTER UPDATE ON ger_people
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION ger_transition();
UPDATE ger_people SET name = name WHERE id = 2;	-- fail
DROP TRIGGER ger_tt ON ger_people;

-- deferred triggers run at SET CONSTRAINTS or COMMIT, with the rows of the
-- statement that queued them
CREATE FUNCTION ger_deferred() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM ger_leak(NEW.face, (SELECT national_id FROM regress_gexr.ger_ids
								 WHERE person_id = NEW.person_id));
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER ger_dt AFTER UPDATE ON ger_faces
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION ger_deferred();
BEGIN;
UPDATE ger_faces SET person_id = person_id WHERE person_id = 1;
SET CONSTRAINTS ALL IMMEDIATE;	-- fail
ROLLBACK;
BEGIN;
UPDATE ger_faces SET person_id = person_id WHERE person_id = 1;
COMMIT;	-- fail
-- also the COMMIT of a procedure, inside the CALL
CREATE PROCEDURE ger_proc() LANGUAGE plpgsql AS $$
BEGIN
	UPDATE regress_gexr.ger_faces SET person_id = person_id WHERE person_id = 1;
	COMMIT;
END
$$;
CALL ger_proc();	-- fail
DROP TRIGGER ger_dt ON ger_faces;

-- CHECK constraints: validation reads every row, and every UPDATE the new
-- row (whose untouched columns are the stored ones)
ALTER TABLE ger_people ADD CONSTRAINT ger_c CHECK (ger_leak(face, national_id));	-- fail
ALTER TABLE ger_people ADD CONSTRAINT ger_c CHECK (ger_leak(face, national_id)) NOT VALID;
UPDATE ger_people SET name = 'bob2' WHERE id = 2;	-- fail
ALTER TABLE ger_people VALIDATE CONSTRAINT ger_c;	-- fail
ALTER TABLE ger_people DROP CONSTRAINT ger_c;
ALTER TABLE ger_people ADD CONSTRAINT ger_c CHECK (length(name) > 0);
UPDATE ger_people SET name = 'bob2' WHERE id = 2;
ALTER TABLE ger_people DROP CONSTRAINT ger_c;

-- expression indexes: built over every row, maintained by every UPDATE
CREATE INDEX ger_i ON ger_people ((ger_leak(face, national_id)));	-- fail
CREATE INDEX ger_i ON ger_people (id) WHERE ger_leak(face, national_id);	-- fail
CREATE INDEX ger_i ON ger_people (lower(name));
DROP INDEX ger_i;
RESET SESSION AUTHORIZATION;
SET biotoken.guard = off;
SET client_min_messages = warning;
CREATE INDEX ger_i ON ger_people ((ger_leak(face, national_id)));
RESET client_min_messages;
RESET biotoken.guard;
SET SESSION AUTHORIZATION regress_biotoken_owner;
UPDATE ger_people SET national_id = 'B2' WHERE id = 2;	-- fail
DROP INDEX ger_i;

-- generated columns: computed over every row when added, recomputed when
-- a column they depend on is updated
ALTER TABLE ger_people ADD COLUMN g boolean
	GENERATED ALWAYS AS (ger_leak(face, national_id)) STORED;	-- fail
-- (a generated column over both made before the labels were set)
CREATE TABLE ger_gen (id int, national_id text, face biometric,
	g boolean GENERATED ALWAYS AS (ger_leak(face, national_id)) STORED);
INSERT INTO ger_gen (id, national_id, face) VALUES (1, 'A1', regress_emb(1));
SECURITY LABEL FOR biotoken ON COLUMN ger_gen.national_id IS 'identity';
UPDATE ger_gen SET national_id = 'A1' WHERE id = 1;	-- fail
UPDATE ger_gen SET id = 2 WHERE id = 1;

-- ALTER COLUMN TYPE ... USING evaluates its expression over every row
ALTER TABLE ger_people ALTER COLUMN name TYPE text
	USING ger_leak(face, national_id)::text;	-- fail
ALTER TABLE ger_people ALTER COLUMN name TYPE varchar(20) USING upper(name);

-- CREATE STATISTICS: ANALYZE would compute it over every row, and
-- pg_stats_ext_exprs would show the values
CREATE STATISTICS ger_s ON (ger_leak(face, national_id)) FROM ger_people;	-- fail
CREATE STATISTICS ger_s ON (ger_leak(face, 'x')), (lower(name)) FROM ger_people;
DROP STATISTICS ger_s;

-- row-level security policies read what they reference, also for the
-- owner of a table that forces them
ALTER TABLE ger_people ENABLE ROW LEVEL SECURITY;
ALTER TABLE ger_people FORCE ROW LEVEL SECURITY;
CREATE POLICY ger_p ON ger_people USING (ger_leak(face, national_id));
SELECT count(*) FROM ger_people;	-- fail
DROP POLICY ger_p ON ger_people;
CREATE POLICY ger_p ON ger_people USING (name IS NOT NULL);
SELECT count(*) FROM ger_people;
DROP POLICY ger_p ON ger_people;
ALTER TABLE ger_people DISABLE ROW LEVEL SECURITY;

RESET SESSION AUTHORIZATION;
DROP SCHEMA regress_gexr CASCADE;
DROP ROLE regress_biotoken_owner;
