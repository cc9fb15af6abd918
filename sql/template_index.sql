--
-- template_index: biotoken_flat, the identification index (flat.c):
-- build, insert, delete and VACUUM, the planner's choice, results equal to
-- a sequential scan's, errors and privileges
--

-- the access method, its default operator class, and that it validates
SELECT a.amname, a.amtype, c.opcname, c.opcdefault, amvalidate(c.oid)
  FROM pg_am a JOIN pg_opclass c ON c.opcmethod = a.oid
 WHERE a.amname = 'biotoken_flat';

-- A list of (id, distance) in the order a query returns them, and whether
-- it used the index.  Two runs of a query must give the same sequence of
-- distances, in order, and the same (id, distance) pairs: rows of equal
-- distance may come in another order, so where a LIMIT cuts through rows
-- of the last distance returned, each run may return others of them.
CREATE FUNCTION regress_ranking(q text, probe float4[], OUT used_index boolean,
                                OUT ids int[], OUT dists float8[])
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  plan text;
BEGIN
  used_index := false;
  FOR plan IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q USING probe LOOP
    used_index := used_index OR plan LIKE '%Index Scan using%';
  END LOOP;
  ids := '{}';
  dists := '{}';
  FOR r IN EXECUTE q USING probe LOOP
    ids := ids || r.id;
    dists := dists || r.d;
  END LOOP;
END
$$;
-- the same query with the index and without it
CREATE FUNCTION regress_compare(q text, probe float4[], OUT index_used boolean,
                                OUT seq_used_index boolean, OUT nrows int,
                                OUT same_distances boolean, OUT same_pairs boolean,
                                OUT ordered boolean)
LANGUAGE plpgsql AS $$
DECLARE
  a record;
  b record;
BEGIN
  SET LOCAL enable_seqscan = off;
  SELECT * INTO a FROM regress_ranking(q, probe);
  SET LOCAL enable_seqscan = on;
  SET LOCAL enable_indexscan = off;
  SELECT * INTO b FROM regress_ranking(q, probe);
  SET LOCAL enable_indexscan = on;
  index_used := a.used_index;
  seq_used_index := b.used_index;
  nrows := cardinality(a.ids);
  same_distances := a.dists = b.dists;
  same_pairs := (SELECT array_agg(x ORDER BY x) FROM unnest(a.ids, a.dists) x(id, d)
                  WHERE x.d IS DISTINCT FROM a.dists[nrows])
                IS NOT DISTINCT FROM
                (SELECT array_agg(x ORDER BY x) FROM unnest(b.ids, b.dists) x(id, d)
                  WHERE x.d IS DISTINCT FROM b.dists[nrows]);
  ordered := a.dists = (SELECT array_agg(x ORDER BY x) FROM unnest(a.dists) x);
END
$$;

-- a realistic table: 3000 people with 128-dimension templates and two
-- without one; the index is built, then more rows are inserted
CREATE TABLE regress_ident (id int PRIMARY KEY, face biometric);
INSERT INTO regress_ident SELECT g, regress_emb(g) FROM generate_series(1, 3000) g;
INSERT INTO regress_ident VALUES (3001, NULL), (3002, NULL);
CREATE INDEX regress_ident_face ON regress_ident USING biotoken_flat (face);
INSERT INTO regress_ident SELECT g, regress_emb(g) FROM generate_series(3003, 4000) g;
INSERT INTO regress_ident VALUES (4001, NULL);
ANALYZE regress_ident;
GRANT SELECT ON regress_ident TO PUBLIC;
SELECT pg_relation_size('regress_ident_face') / current_setting('block_size')::int AS pages;

-- the planner picks the index for ORDER BY <~> LIMIT k on its own (generic
-- plans, so that EXPLAIN shows $1 rather than the probe)
SET plan_cache_mode = force_generic_plan;
PREPARE regress_top(float4[]) AS
  SELECT id FROM regress_ident ORDER BY face <~> $1 LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE regress_top(regress_emb(1));
-- and for the whole ordering, which the index also returns exactly
PREPARE regress_all(float4[]) AS
  SELECT id FROM regress_ident ORDER BY face <~> $1;
EXPLAIN (COSTS OFF) EXECUTE regress_all(regress_emb(1));
-- but never for anything else
EXPLAIN (COSTS OFF) SELECT * FROM regress_ident WHERE id = 1;
PREPARE regress_desc(float4[]) AS
  SELECT id FROM regress_ident ORDER BY face <~> $1 DESC LIMIT 5;
EXPLAIN (COSTS OFF) EXECUTE regress_desc(regress_emb(1));
EXPLAIN (COSTS OFF) SELECT count(*) FROM regress_ident WHERE face IS NULL;
RESET plan_cache_mode;

-- identification: a second, noisy capture finds its person first, built
-- or inserted after the build
EXECUTE regress_top(regress_emb(17, 128, 0.2));
EXECUTE regress_top(regress_emb(3500, 128, 0.2));
-- the distances the query computes are the operator's own
SELECT id, round((face <~> regress_emb(17, 128, 0.2))::numeric, 3) AS distance
  FROM regress_ident ORDER BY face <~> regress_emb(17, 128, 0.2) LIMIT 3;

-- the same rows in the same order as a sequential scan: the first ten, and
-- all of them (NULL templates last, as NULL distances sort)
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident ORDER BY face <~> $1 LIMIT 10',
  regress_emb(42, 128, 0.3));
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident ORDER BY face <~> $1',
  regress_emb(42, 128, 0.3));
SELECT array_agg(id ORDER BY id) AS last_three_are_null
  FROM (SELECT id FROM regress_ident ORDER BY face <~> regress_emb(1) OFFSET 3998) s;
-- with a filter on the table's columns, applied to the index's rows
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident WHERE id % 7 = 3 ORDER BY face <~> $1 LIMIT 20',
  regress_emb(8));
-- a second ORDER BY distance: the index orders by the first, the executor
-- rechecks the second
SELECT * FROM regress_compare(
  'SELECT id, (face <~> $1) * 1000 + (face <~> regress_emb(9)) AS d FROM regress_ident
    ORDER BY face <~> $1, face <~> regress_emb(9) LIMIT 50',
  regress_emb(5));
-- a NULL probe: every distance is NULL; every row still comes back once
SELECT count(*), count(DISTINCT id), count(d) AS non_null
  FROM (SELECT id, face <~> NULL::float4[] AS d FROM regress_ident
        ORDER BY face <~> NULL::float4[]) s;

-- one probe per outer row: the index is scanned again with each probe
CREATE TABLE regress_ident_probes AS
  SELECT g AS id, regress_emb(g, 128, 0.3, 3) AS probe FROM generate_series(100, 3900, 950) g;
SELECT q.id AS probe_of,
       (SELECT p.id FROM regress_ident p ORDER BY p.face <~> q.probe LIMIT 1) AS identified
  FROM regress_ident_probes q ORDER BY q.id;

-- DELETE and VACUUM: dead rows leave the index, the freed space is reused
SELECT pg_relation_size('regress_ident_face') AS size_before \gset
DELETE FROM regress_ident WHERE id % 2 = 0 OR id BETWEEN 1001 AND 1400;
VACUUM regress_ident;
SELECT reltuples AS index_tuples_after_vacuum FROM pg_class WHERE relname = 'regress_ident_face';
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident ORDER BY face <~> $1',
  regress_emb(11, 128, 0.1));
INSERT INTO regress_ident
  SELECT g, CASE WHEN g <> 3002 THEN regress_emb(g) END FROM generate_series(1, 4000) g
   WHERE g % 2 = 0 OR g BETWEEN 1001 AND 1400;
SELECT pg_relation_size('regress_ident_face') = :size_before AS same_size_after_reinsert;
EXECUTE regress_top(regress_emb(1204, 128, 0.2));
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident ORDER BY face <~> $1',
  regress_emb(12, 128, 0.1));
-- deleting everything empties every page; VACUUM makes them reusable
DELETE FROM regress_ident WHERE id > 2;
VACUUM regress_ident;
SELECT id FROM regress_ident ORDER BY face <~> regress_emb(2) LIMIT 5;
INSERT INTO regress_ident SELECT g, regress_emb(g) FROM generate_series(3, 4000) g;
SELECT pg_relation_size('regress_ident_face') = :size_before AS same_size_after_refill;
EXECUTE regress_top(regress_emb(2222, 128, 0.2));

-- REINDEX, TRUNCATE and an unlogged table
REINDEX INDEX regress_ident_face;
EXECUTE regress_top(regress_emb(17, 128, 0.2));
CREATE UNLOGGED TABLE regress_ident_unlogged (id int, face biometric);
CREATE INDEX ON regress_ident_unlogged USING biotoken_flat (face);
INSERT INTO regress_ident_unlogged SELECT id, face FROM regress_ident WHERE id <= 100;
SELECT id FROM regress_ident_unlogged ORDER BY face <~> regress_emb(7, 128, 0.2) LIMIT 1;
TRUNCATE regress_ident_unlogged;
SELECT count(*) FROM (SELECT id FROM regress_ident_unlogged ORDER BY face <~> regress_emb(7)) s;
DROP TABLE regress_ident_unlogged;

-- many ties and little work_mem: few distinct distances (64-bit
-- templates), 5000 copies of one face, pairs bounded to 8192 rows, so the
-- index is read several times and one distance outgrows the bound
CREATE TABLE regress_ident_ties (id int, face biometric);
INSERT INTO regress_ident_ties SELECT g, regress_emb(g, 16) FROM generate_series(1, 5000) g;
INSERT INTO regress_ident_ties SELECT g, regress_emb(1, 16) FROM generate_series(5001, 14000) g;
CREATE INDEX ON regress_ident_ties USING biotoken_flat (face);
ANALYZE regress_ident_ties;
SET work_mem = '64kB';
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident_ties ORDER BY face <~> $1',
  regress_emb(1, 16, 0.5));
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident_ties ORDER BY face <~> $1',
  regress_emb(2, 16));
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident_ties ORDER BY face <~> $1 LIMIT 100',
  regress_emb(3, 16));
RESET work_mem;

-- templates of several bit counts and model profiles in one index (the
-- probe is projected for each, as biometric_distance does): powers of two
-- (exact distances), then 192 bits (the executor rechecks the order)
CREATE TABLE regress_ident_mixed (id int, face biometric);
CREATE INDEX ON regress_ident_mixed USING biotoken_flat (face);
INSERT INTO regress_ident_mixed SELECT g, regress_emb(g) FROM generate_series(1, 300) g;
SET biotoken.template_bits = 512;
INSERT INTO regress_ident_mixed SELECT g, regress_emb(g) FROM generate_series(301, 600) g;
SET biotoken.template_bits = 64;
INSERT INTO regress_ident_mixed SELECT g, regress_emb(g) FROM generate_series(601, 900) g;
SET biotoken.model = 'regress_model';
INSERT INTO regress_ident_mixed SELECT g, regress_emb(g) FROM generate_series(901, 1200) g;
RESET biotoken.model;
ANALYZE regress_ident_mixed;
SELECT (biometric_info(face)).bits, (biometric_info(face)).model, count(*)
  FROM regress_ident_mixed GROUP BY 1, 2 ORDER BY 1, 2;
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident_mixed ORDER BY face <~> $1',
  regress_emb(450, 128, 0.3));
SET biotoken.template_bits = 192;
INSERT INTO regress_ident_mixed SELECT g, regress_emb(g) FROM generate_series(1201, 1500) g;
RESET biotoken.template_bits;
SELECT * FROM regress_compare(
  'SELECT id, face <~> $1 AS d FROM regress_ident_mixed ORDER BY face <~> $1',
  regress_emb(1450, 128, 0.3));
SELECT id FROM regress_ident_mixed ORDER BY face <~> regress_emb(1450, 128, 0.2) LIMIT 1;

-- errors: the index raises what biometric_distance raises
SET enable_seqscan = off;
SELECT id FROM regress_ident ORDER BY face <~> regress_emb(1, 64) LIMIT 1;  -- fail (dimension mismatch)
SELECT id FROM regress_ident ORDER BY face <~> '{}'::float4[] LIMIT 1;  -- fail (empty probe)
SELECT id FROM regress_ident ORDER BY face <~> array_fill(0::float4, ARRAY[128]) LIMIT 1;  -- fail (zero probe)
RESET enable_seqscan;
SET enable_indexscan = off;
SELECT id FROM regress_ident ORDER BY face <~> regress_emb(1, 64) LIMIT 1;  -- fail (the same, without the index)
RESET enable_indexscan;
-- a table of 512-dimension templates next to 128-dimension ones: both
-- ways of scanning refuse to compare a 128-dimension probe with them
INSERT INTO regress_ident_mixed VALUES (1501, regress_emb(1, 512));
SELECT regress_sqlstate($$SELECT id FROM regress_ident_mixed ORDER BY face <~> regress_emb(1) LIMIT 1$$) AS with_index;
SET enable_indexscan = off;
SELECT regress_sqlstate($$SELECT id FROM regress_ident_mixed ORDER BY face <~> regress_emb(1) LIMIT 1$$) AS without_index;
RESET enable_indexscan;

-- storage parameters, several columns and other types are refused
CREATE INDEX ON regress_ident USING biotoken_flat (face) WITH (fillfactor = 50);  -- fail
CREATE INDEX ON regress_ident USING biotoken_flat (face, face);  -- fail
CREATE INDEX ON regress_ident USING biotoken_flat (id);  -- fail

-- privileges: the index does not open scores to those who may not see
-- them; identification through it is for biotoken_matcher only.  The plan
-- of regress_top is the index scan shown above.
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_biotoken_app;
EXECUTE regress_top(regress_emb(17, 128, 0.2));  -- fail
SELECT id FROM regress_ident ORDER BY face <~> regress_emb(17, 128, 0.2) LIMIT 1;  -- fail
SELECT biometric_verify(face, regress_emb(17, 128, 0.2)) FROM regress_ident WHERE id = 17;
RESET ROLE;
SET ROLE regress_biotoken_matcher;
EXPLAIN (COSTS OFF) EXECUTE regress_top(regress_emb(17, 128, 0.2));
EXECUTE regress_top(regress_emb(17, 128, 0.2));
RESET ROLE;
RESET plan_cache_mode;

DEALLOCATE regress_top;
DEALLOCATE regress_all;
DEALLOCATE regress_desc;
DROP TABLE regress_ident, regress_ident_probes, regress_ident_ties, regress_ident_mixed;
DROP FUNCTION regress_compare(text, float4[]);
DROP FUNCTION regress_ranking(text, float4[]);
