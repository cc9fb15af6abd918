--
-- guard_cursors: a cursor's reads belong to its query, whenever they
-- happen.  Each cursor keeps the columns its query reads and is judged
-- again at every FETCH, together with what runs at that FETCH (functions
-- evaluated then, the statement that fetches); a grant is looked up again
-- at every FETCH and every FETCH it lets through is logged.  Run as an
-- ordinary application role; only the set-up runs as a superuser.
--
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS regress_gcur CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_gcur;
GRANT USAGE ON SCHEMA regress_gcur TO PUBLIC;
SET search_path = regress_gcur, public;

CREATE TABLE gc_faces (person_id int PRIMARY KEY, face biometric);
CREATE TABLE gc_ids (person_id int PRIMARY KEY, national_id text, city text);
SECURITY LABEL FOR biotoken ON COLUMN gc_ids.national_id IS 'identity';
CREATE TABLE gc_people (id int PRIMARY KEY, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN gc_people.national_id IS 'identity';
INSERT INTO gc_faces VALUES (1, regress_emb(1)), (2, regress_emb(2));
INSERT INTO gc_ids VALUES (1, 'A1', 'Oslo'), (2, 'B2', 'Rome');
INSERT INTO gc_people VALUES (1, 'A1', regress_emb(1)), (2, 'B2', regress_emb(2));
GRANT SELECT ON gc_faces, gc_ids, gc_people TO regress_biotoken_app;

-- PL/pgSQL, so that the planner cannot inline them into the cursor's query
CREATE FUNCTION gc_nid(p int) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT national_id FROM regress_gcur.gc_ids WHERE person_id = p);
END
$$;
CREATE FUNCTION gc_city(p int) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT city FROM regress_gcur.gc_ids WHERE person_id = p);
END
$$;
CREATE FUNCTION gc_open(c refcursor, q text) RETURNS refcursor
LANGUAGE plpgsql AS $$
BEGIN
	OPEN c FOR EXECUTE q;
	RETURN c;
END
$$;

SET SESSION AUTHORIZATION regress_biotoken_app;

-- functions evaluated at FETCH count toward the cursor's query
BEGIN;
DECLARE c1 CURSOR FOR
	SELECT face IS NOT NULL AS has_face, gc_nid(person_id) FROM gc_faces
	ORDER BY person_id;
FETCH 1 FROM c1;	-- fail (face, and national_id read at FETCH)
ROLLBACK;
BEGIN;
DECLARE c1 CURSOR FOR
	SELECT face IS NOT NULL AS has_face, gc_city(person_id) FROM gc_faces
	ORDER BY person_id;
FETCH 1 FROM c1;
FETCH 1 FROM c1;
COMMIT;

-- a refcursor opened in a function and fetched by the client
BEGIN;
SELECT gc_open('rc1', 'SELECT face IS NOT NULL, regress_gcur.gc_nid(person_id) FROM regress_gcur.gc_faces');
FETCH ALL FROM rc1;	-- fail
ROLLBACK;
BEGIN;
SELECT gc_open('rc1', 'SELECT face IS NOT NULL FROM regress_gcur.gc_faces ORDER BY person_id');
FETCH ALL FROM rc1;
COMMIT;

-- a DO block that fetches from a cursor declared earlier, then reads ID
-- numbers: one statement
BEGIN;
DECLARE c2 CURSOR FOR SELECT face FROM gc_faces ORDER BY person_id;
DO $$
DECLARE
	c refcursor := 'c2';
	f biometric;
	n text;
BEGIN
	FETCH c INTO f;
	SELECT national_id INTO n FROM regress_gcur.gc_ids WHERE person_id = 1;
	RAISE NOTICE 'both: %', f IS NOT NULL AND n IS NOT NULL;
END
$$;	-- fail
ROLLBACK;
BEGIN;
DECLARE c2 CURSOR FOR SELECT face FROM gc_faces ORDER BY person_id;
DO $$
DECLARE
	c refcursor := 'c2';
	f biometric;
	n text;
BEGIN
	FETCH c INTO f;
	SELECT city INTO n FROM regress_gcur.gc_ids WHERE person_id = 1;
	RAISE NOTICE 'face and city: %', f IS NOT NULL AND n IS NOT NULL;
END
$$;
COMMIT;

-- psql's FETCH_COUNT mode runs a query through a cursor
\set FETCH_COUNT 1
SELECT face IS NOT NULL AS has_face, gc_nid(person_id) FROM gc_faces;	-- fail
SELECT face IS NOT NULL AS has_face, gc_city(person_id) FROM gc_faces
	ORDER BY person_id;
\unset FETCH_COUNT

-- WITH HOLD: the rows are computed at COMMIT, and judged then
DECLARE h1 CURSOR WITH HOLD FOR
	SELECT face IS NOT NULL, gc_nid(person_id) FROM gc_faces;	-- fail
DECLARE h1 CURSOR WITH HOLD FOR
	SELECT face IS NOT NULL FROM gc_faces ORDER BY person_id;
FETCH 1 FROM h1;

-- scope = transaction: a held cursor's rows count when they are fetched
RESET SESSION AUTHORIZATION;
SET biotoken.scope = transaction;
SET SESSION AUTHORIZATION regress_biotoken_app;
BEGIN;
FETCH 1 FROM h1;
SELECT national_id FROM gc_ids WHERE person_id = 1;	-- fail (transaction)
ROLLBACK;
BEGIN;
SELECT national_id FROM gc_ids WHERE person_id = 1;
MOVE 1 FROM h1;
COMMIT;
-- and a cursor of this transaction counts when fetched, not only declared
BEGIN;
SELECT national_id FROM gc_ids WHERE person_id = 1;
DECLARE c3 CURSOR FOR SELECT city FROM gc_ids;
FETCH 1 FROM c3;
ROLLBACK;
CLOSE h1;
RESET SESSION AUTHORIZATION;
RESET biotoken.scope;

-- a grant is looked up at every FETCH: revoking it stops the cursor, and
-- every FETCH it lets through is logged
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case GC-1') AS gid \gset
SET SESSION AUTHORIZATION regress_biotoken_app;
BEGIN;
DECLARE g1 CURSOR FOR
	SELECT face IS NOT NULL AS has_face, national_id FROM gc_people ORDER BY id;
FETCH 1 FROM g1;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.revoke_audit(:gid);
SET SESSION AUTHORIZATION regress_biotoken_app;
SAVEPOINT s1;
FETCH 1 FROM g1;	-- fail (grant revoked)
ROLLBACK TO SAVEPOINT s1;
CLOSE g1;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT event, grant_id = :gid AS by_grant, count(*)
  FROM biotoken.access_log WHERE id > :mark
 GROUP BY 1, 2 ORDER BY 1, 2;

-- the same with a held cursor, fetched in later transactions
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.grant_audit('regress_biotoken_app', 'case GC-2') AS gid \gset
SET SESSION AUTHORIZATION regress_biotoken_app;
DECLARE g2 CURSOR WITH HOLD FOR
	SELECT face IS NOT NULL AS has_face, national_id FROM gc_people ORDER BY id;
FETCH 1 FROM g2;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_biotoken_admin;
SELECT biotoken.revoke_audit(:gid);
SET SESSION AUTHORIZATION regress_biotoken_app;
FETCH 1 FROM g2;	-- fail (grant revoked)
CLOSE g2;
RESET SESSION AUTHORIZATION;
SELECT event, grant_id = :gid AS by_grant, count(*)
  FROM biotoken.access_log WHERE id > :mark
 GROUP BY 1, 2 ORDER BY 1, 2;

DROP SCHEMA regress_gcur CASCADE;
