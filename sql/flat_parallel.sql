--
-- flat_parallel: parallel scans of biotoken_flat (flat.c).  Each
-- participant (the leader and its workers) reads the pages it claims and
-- returns its rows in distance order; Gather Merge merges them.  A parallel
-- scan must return the same rows in the same order as a serial one.
--
-- Parallel plans are forced: no setup or tuple cost, no minimum size, no
-- sequential scan, and cheap comparisons in Gather Merge.  Probes are passed
-- as parameters (regress_emb is not parallel safe).
--
SET enable_seqscan = off;
SET cpu_operator_cost = 0.0001;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_index_scan_size = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;

-- One run of q (which returns id and d, the distance) with the given
-- number of workers: its plan ('parallel index': a parallel scan of the
-- index under Gather Merge; 'index': a serial index scan), and the (id,
-- distance) list in the order returned.
CREATE FUNCTION regress_par_run(q text, probe float4[], workers int,
                                OUT plan text, OUT ids int[],
                                OUT dists float8[])
LANGUAGE plpgsql AS $$
DECLARE
  line text;
  gather boolean := false;
  pscan boolean := false;
  iscan boolean := false;
BEGIN
  PERFORM set_config('max_parallel_workers_per_gather', workers::text, true);
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q USING probe LOOP
    gather := gather OR line LIKE '%Gather Merge%';
    pscan := pscan OR line LIKE '%Parallel Index Scan using%';
    iscan := iscan OR line LIKE '%Index Scan using%';
  END LOOP;
  plan := CASE WHEN gather AND pscan THEN 'parallel index'
               WHEN iscan AND NOT gather THEN 'index' ELSE 'other' END;
  EXECUTE 'SELECT coalesce(array_agg(id), ''{}''), coalesce(array_agg(d), ''{}'') FROM ('
          || q || ') s' INTO ids, dists USING probe;
  PERFORM set_config('max_parallel_workers_per_gather', '2', true);
END
$$;
-- q serially and with two workers: the plans, and whether both return the
-- same distances in the same (ascending) order and the same rows (rows of
-- the last distance returned excepted, where a LIMIT may cut through rows
-- of equal distance differently)
CREATE FUNCTION regress_par_compare(q text, probe float4[],
                                    OUT serial_plan text,
                                    OUT parallel_plan text, OUT nrows int,
                                    OUT same_distances boolean,
                                    OUT same_rows boolean, OUT ordered boolean)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  p record;
BEGIN
  SELECT * INTO s FROM regress_par_run(q, probe, 0);
  SELECT * INTO p FROM regress_par_run(q, probe, 2);
  serial_plan := s.plan;
  parallel_plan := p.plan;
  nrows := cardinality(p.ids);
  same_distances := s.dists IS NOT DISTINCT FROM p.dists;
  same_rows := (SELECT array_agg(x ORDER BY x) FROM unnest(s.ids, s.dists) x(id, d)
                 WHERE x.d IS DISTINCT FROM s.dists[nrows])
               IS NOT DISTINCT FROM
               (SELECT array_agg(x ORDER BY x) FROM unnest(p.ids, p.dists) x(id, d)
                 WHERE x.d IS DISTINCT FROM p.dists[nrows])
               AND cardinality(s.ids) = nrows;
  ordered := p.dists = coalesce((SELECT array_agg(x ORDER BY x) FROM unnest(p.dists) x),
                                '{}');
END
$$;
GRANT EXECUTE ON FUNCTION regress_par_run(text, float4[], int) TO PUBLIC;
GRANT EXECUTE ON FUNCTION regress_par_compare(text, float4[]) TO PUBLIC;

-- 3000 templates of 128 dimensions and three NULL ones, in about 30 pages
CREATE TABLE regress_par (id int PRIMARY KEY, face biometric);
INSERT INTO regress_par SELECT g, regress_emb(g) FROM generate_series(1, 1500) g;
INSERT INTO regress_par VALUES (1501, NULL);
INSERT INTO regress_par SELECT g, regress_emb(g) FROM generate_series(1502, 3001) g;
INSERT INTO regress_par VALUES (3002, NULL), (3003, NULL);
CREATE INDEX regress_par_face ON regress_par USING biotoken_flat (face);
ANALYZE regress_par;
GRANT SELECT ON regress_par TO PUBLIC;
SELECT pg_relation_size('regress_par_face') / current_setting('block_size')::int > 20
  AS many_pages;

-- the plan: a parallel index scan under Gather Merge, LIMIT above it
SET plan_cache_mode = force_generic_plan;
PREPARE regress_par_top(float4[]) AS
  SELECT id FROM regress_par ORDER BY face <~> $1 LIMIT 1;
EXPLAIN (COSTS OFF) EXECUTE regress_par_top(regress_emb(1));
RESET plan_cache_mode;
-- identification finds the person, whoever scans the page it is on
EXECUTE regress_par_top(regress_emb(17, 128, 0.2));
EXECUTE regress_par_top(regress_emb(2999, 128, 0.2));

-- the same rows in the same order as the serial scan: the first ten, the
-- first hundred, all of them (NULL templates last), and with OFFSET
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 10',
  regress_emb(42, 128, 0.3));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 100',
  regress_emb(43, 128, 0.3));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1',
  regress_emb(44, 128, 0.3));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 7 OFFSET 2995',
  regress_emb(45, 128, 0.3));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 20 OFFSET 500',
  regress_emb(46, 128, 0.3));
-- the three NULL templates come last, once each
SELECT r.plan, (SELECT array_agg(x ORDER BY x) FROM unnest(r.ids) x) AS last_three,
       cardinality(array_remove(r.dists, NULL)) AS non_null
  FROM regress_par_run(
    'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 OFFSET 3000',
    regress_emb(1), 2) r;
-- without the leader: only the workers scan
SET parallel_leader_participation = off;
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1',
  regress_emb(47, 128, 0.3));
RESET parallel_leader_participation;
-- a filter on the table's columns, and a second ORDER BY distance (the
-- index orders by the first, the executor rechecks the second)
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par WHERE id % 7 = 3 ORDER BY face <~> $1 LIMIT 20',
  regress_emb(8));
SELECT * FROM regress_par_compare(
  'SELECT id, (face <~> $1) * 1000 + (face <~> ($1[65:128] || $1[1:64])) AS d
     FROM regress_par ORDER BY face <~> $1, face <~> ($1[65:128] || $1[1:64]) LIMIT 50',
  regress_emb(5));

-- rescans: a LATERAL subquery whose OFFSET comes from the outer row is run
-- again for each outer row, with new workers each time (amparallelrescan)
PREPARE regress_par_lateral(float4[]) AS
  SELECT g, s.ids FROM generate_series(0, 3) g,
    LATERAL (SELECT array_agg(id) AS ids
               FROM (SELECT id FROM regress_par ORDER BY face <~> $1
                      LIMIT 3 OFFSET g) x) s;
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE regress_par_lateral(regress_emb(1));
RESET plan_cache_mode;
CREATE TEMP TABLE regress_par_lat_par AS EXECUTE regress_par_lateral(regress_emb(9, 128, 0.1));
SET max_parallel_workers_per_gather = 0;
CREATE TEMP TABLE regress_par_lat_ser AS EXECUTE regress_par_lateral(regress_emb(9, 128, 0.1));
SET max_parallel_workers_per_gather = 2;
SELECT count(*) AS outer_rows,
       bool_and(a.ids = b.ids) AS same_as_serial,
       bool_and(a.ids[1] = b.ids[1]) AS same_first
  FROM regress_par_lat_par a JOIN regress_par_lat_ser b USING (g);
-- one probe per outer row, from the outer query: a Gather does not pass
-- such a parameter to its workers, so the index is scanned serially (a
-- parallel scan here crashed the workers, which read the probe unset)
CREATE TABLE regress_par_probes AS
  SELECT g AS id, regress_emb(g, 128, 0.3, 3) AS probe FROM generate_series(100, 2900, 700) g;
ANALYZE regress_par_probes;
EXPLAIN (COSTS OFF)
SELECT q.id AS probe_of, s.id AS identified
  FROM regress_par_probes q,
       LATERAL (SELECT p.id FROM regress_par p ORDER BY p.face <~> q.probe LIMIT 1) s
 ORDER BY q.id;
SELECT q.id AS probe_of, s.id AS identified
  FROM regress_par_probes q,
       LATERAL (SELECT p.id FROM regress_par p ORDER BY p.face <~> q.probe LIMIT 1) s
 ORDER BY q.id;

-- the same in a correlated subquery; and a probe computed once by an
-- initplan, which Gather Merge evaluates and passes to the workers
EXPLAIN (COSTS OFF)
SELECT q.id, (SELECT p.id FROM regress_par p ORDER BY p.face <~> q.probe LIMIT 1)
  FROM regress_par_probes q ORDER BY q.id;
SELECT q.id, (SELECT p.id FROM regress_par p ORDER BY p.face <~> q.probe LIMIT 1)
  FROM regress_par_probes q ORDER BY q.id;
EXPLAIN (COSTS OFF)
SELECT id FROM regress_par
 ORDER BY face <~> (SELECT probe FROM regress_par_probes WHERE id = 800) LIMIT 1;
SELECT id FROM regress_par
 ORDER BY face <~> (SELECT probe FROM regress_par_probes WHERE id = 800) LIMIT 1;

-- little work_mem and many ties: each participant reads its own pages
-- again for the rows beyond what it kept (64-bit templates, 5000 copies of
-- one face, pairs bounded to 8192 rows per participant)
CREATE TABLE regress_par_ties (id int, face biometric);
INSERT INTO regress_par_ties SELECT g, regress_emb(g, 16) FROM generate_series(1, 5000) g;
INSERT INTO regress_par_ties SELECT g, regress_emb(1, 16) FROM generate_series(5001, 14000) g;
INSERT INTO regress_par_ties SELECT g, regress_emb(g, 16) FROM generate_series(14001, 20000) g;
CREATE INDEX ON regress_par_ties USING biotoken_flat (face);
ANALYZE regress_par_ties;
SET work_mem = '64kB';
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par_ties ORDER BY face <~> $1',
  regress_emb(1, 16, 0.5));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par_ties ORDER BY face <~> $1 LIMIT 9500',
  regress_emb(2, 16));
RESET work_mem;

-- an empty table, and a table of one page
CREATE TABLE regress_par_empty (id int, face biometric);
CREATE INDEX ON regress_par_empty USING biotoken_flat (face);
ANALYZE regress_par_empty;
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par_empty ORDER BY face <~> $1 LIMIT 5',
  regress_emb(1));
CREATE TABLE regress_par_one (id int, face biometric);
INSERT INTO regress_par_one SELECT g, regress_emb(g) FROM generate_series(1, 20) g;
INSERT INTO regress_par_one VALUES (21, NULL);
CREATE INDEX regress_par_one_face ON regress_par_one USING biotoken_flat (face);
ANALYZE regress_par_one;
SELECT pg_relation_size('regress_par_one_face') / current_setting('block_size')::int AS pages;
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par_one ORDER BY face <~> $1',
  regress_emb(20, 128, 0.2));
SELECT (regress_par_run(
  'SELECT id, face <~> $1 AS d FROM regress_par_one ORDER BY face <~> $1 LIMIT 1',
  regress_emb(20, 128, 0.2), 2)).ids AS identified;

-- errors in a parallel scan are those of the serial one, whichever
-- participant meets them (terse: a worker's error carries a CONTEXT line)
\set VERBOSITY terse
PREPARE regress_par_any(float4[]) AS
  SELECT id FROM regress_par ORDER BY face <~> $1 LIMIT 1;
EXECUTE regress_par_any(regress_emb(1, 64));  -- fail (dimension mismatch)
EXECUTE regress_par_any('{}');  -- fail (empty probe)
EXECUTE regress_par_any(array_fill(0::float4, ARRAY[128]));  -- fail (zero probe)
SET max_parallel_workers_per_gather = 0;
EXECUTE regress_par_any(regress_emb(1, 64));  -- fail (the same, serially)
SET max_parallel_workers_per_gather = 2;
\set VERBOSITY default

-- privileges: a parallel scan gives scores only to biotoken_matcher; the
-- workers check EXECUTE as the leader's current user
SET plan_cache_mode = force_generic_plan;
SET ROLE regress_biotoken_app;
EXECUTE regress_par_top(regress_emb(17, 128, 0.2));  -- fail
RESET ROLE;
SET ROLE regress_biotoken_matcher;
EXPLAIN (COSTS OFF) EXECUTE regress_par_top(regress_emb(17, 128, 0.2));
EXECUTE regress_par_top(regress_emb(17, 128, 0.2));
SELECT * FROM regress_par_compare(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 10',
  regress_emb(18, 128, 0.3));
RESET ROLE;
RESET plan_cache_mode;

-- without forcing, a small index is scanned serially: the workers' start-up
-- costs more than they save
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_index_scan_size;
RESET min_parallel_table_scan_size;
RESET cpu_operator_cost;
RESET enable_seqscan;
SELECT (regress_par_run(
  'SELECT id, face <~> $1 AS d FROM regress_par ORDER BY face <~> $1 LIMIT 5',
  regress_emb(1), 2)).plan AS small_index;

DEALLOCATE regress_par_top;
DEALLOCATE regress_par_lateral;
DEALLOCATE regress_par_any;
DROP TABLE regress_par, regress_par_probes, regress_par_ties, regress_par_empty,
  regress_par_one, regress_par_lat_par, regress_par_lat_ser;
DROP FUNCTION regress_par_compare(text, float4[]);
DROP FUNCTION regress_par_run(text, float4[], int);
RESET max_parallel_workers_per_gather;
