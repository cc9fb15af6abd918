--
-- projection_cache: the per-backend projection cache is bounded (at most
-- 8 projections, 3 MB), whatever shapes an ordinary role enrolls or
-- matches; an evicted projection is rebuilt identically.
--
SET ROLE regress_biotoken_app;
CREATE TEMP TABLE test_pc AS
  SELECT biometric_enroll(v) AS face, v
    FROM (SELECT array_agg(sin(i)::real) AS v FROM generate_series(1, 15000) i) s;
-- forty shapes of 384 kB each: 15 MB without a bound
SELECT count(biometric_enroll(array_fill(1::real, ARRAY[d])))
  FROM generate_series(15961, 16000) d;
RESET ROLE;
SELECT total_bytes <= 3 * 1024 * 1024 + 65536 AS bounded,
       total_bytes >= 384 * 1024 AS in_use
  FROM pg_backend_memory_contexts WHERE name = 'biotoken projection cache';
SET ROLE regress_biotoken_app;
-- the first shape was evicted: rebuilt, it still matches
SELECT biometric_verify(face, v) AS matches FROM test_pc;
RESET ROLE;
