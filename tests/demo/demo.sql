--
-- tests/demo/demo.sql
--	A narrated walk through biotoken, run by `make demo` (tests/harness/
--	demo.sh) with psql --echo-queries as the superuser postgres, in a
--	fresh database of a throwaway server with biotoken preloaded.
--
--	Statements that are meant to be refused sit between
--	`\set ON_ERROR_STOP 0` and `\set ON_ERROR_STOP 1`: the error is shown
--	and the demo goes on.  Any other error stops the demo (and fails
--	`make demo`).  Templates carry a random salt, so the bt1 strings differ
--	from run to run; everything else is the same every time.
--
\set ON_ERROR_STOP 1

\echo
\echo '=================================================================='
\echo ' 1. Install'
\echo '=================================================================='
\echo 'biotoken is in shared_preload_libraries; each database that wants it'
\echo 'runs CREATE EXTENSION.'
CREATE EXTENSION biotoken;
SELECT extname, extversion FROM pg_extension WHERE extname = 'biotoken';

\echo
\echo '=================================================================='
\echo ' 2. Enroll three people'
\echo '=================================================================='
\echo 'A face model turns a photo into an embedding: here, 128 floats.'
\echo 'demo_face(person, photo) makes a stable stand-in from sin(): photo 0'
\echo 'is the enrollment photo, other photo numbers are new photos of the'
\echo 'same person (the same face plus some noise).'
CREATE FUNCTION demo_noise(seed int, i int) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT AS $$
    -- fract(sin(x) * 43758.5453) - 0.5: cheap, deterministic, in [-0.5, 0.5)
    SELECT sin(seed * 7919.0 + i * 104.729) * 43758.5453
           - floor(sin(seed * 7919.0 + i * 104.729) * 43758.5453) - 0.5
$$;
CREATE FUNCTION demo_face(person int, photo int DEFAULT 0) RETURNS float4[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_agg((demo_noise(person, i)
                      + CASE WHEN photo = 0 THEN 0
                             ELSE 0.35 * demo_noise(person * 1000 + photo, i) END
                     )::float4 ORDER BY i)
    FROM generate_series(1, 128) AS i
$$;
SELECT array_length(demo_face(1), 1) AS dims,
       (demo_face(1))[1:4] AS first_values_of_a_raw_embedding;

\echo
\echo 'The face column has type biometric.  A float4[] assigned to it is'
\echo 'enrolled: projected with a secret key, reduced to sign bits and masked'
\echo 'with a random salt.  The raw embedding is not stored.'
CREATE TABLE people (
    id   int PRIMARY KEY,
    name text NOT NULL,
    face biometric
);
INSERT INTO people VALUES
    (1, 'Ada',   demo_face(1)),
    (2, 'Bao',   demo_face(2)),
    (3, 'Chidi', biometric_enroll(demo_face(3)));

\echo
\echo 'What is stored: a versioned protected template, no embedding.'
SELECT id, name, left(face::text, 28) || '...' AS stored_template
FROM people ORDER BY id;
SELECT id, name, (biometric_info(face)).* FROM people ORDER BY id;

\echo
\echo 'Enrolling the same face twice gives unrelated-looking templates'
\echo '(fresh salt each time):'
SELECT biometric_enroll(demo_face(1))::text = biometric_enroll(demo_face(1))::text
       AS same_text_twice;

\echo
\echo 'A raw embedding is never accepted as the text of a template:'
\set ON_ERROR_STOP 0
SELECT '{0.12,0.5,-0.3}'::biometric;
\set ON_ERROR_STOP 1

\echo
\echo '=================================================================='
\echo ' 3. Verify (1:1): is this the person they claim to be?'
\echo '=================================================================='
\echo 'Bao comes back; a new photo (photo 1) is taken.  biometric_verify'
\echo 'answers only yes or no, and everyone who may read the column may use it.'
SELECT id, name, biometric_verify(face, demo_face(2, 1)) AS matches_new_photo_of_bao
FROM people ORDER BY id;

\echo
\echo '=================================================================='
\echo ' 4. Identify (1:N): who is this?'
\echo '=================================================================='
\echo 'A distance is a score, and a score lets an attacker hill-climb towards'
\echo 'a face, so <~> and biometric_distance belong to biotoken_matcher only.'
CREATE ROLE demo_clerk NOLOGIN;
CREATE ROLE demo_matcher NOLOGIN IN ROLE biotoken_matcher;
GRANT SELECT ON people TO demo_clerk, demo_matcher;

\echo
\echo 'A clerk may verify, but may not ask for scores:'
SET ROLE demo_clerk;
SELECT count(*) AS verified FROM people WHERE biometric_verify(face, demo_face(3, 1));
\set ON_ERROR_STOP 0
SELECT id, face <~> demo_face(3, 1) AS distance FROM people;
\set ON_ERROR_STOP 1
RESET ROLE;

\echo
\echo 'A member of biotoken_matcher identifies the person in a new photo of'
\echo 'Chidi: the nearest templates first (distance 0..1, about angle / pi).'
SET ROLE demo_matcher;
SELECT id, name, round((face <~> demo_face(3, 2))::numeric, 2) AS distance
FROM people
ORDER BY face <~> demo_face(3, 2)
LIMIT 3;
RESET ROLE;

-- ==================================================================
-- SECTION: labels and a refused combination
--   TODO(guard): add an identity column (e.g. people_ids.national_id),
--   SECURITY LABEL FOR biotoken ... IS 'identity', show
--   biotoken.classified_columns, then a SELECT that reads face together
--   with national_id, refused with 42501 (inside \set ON_ERROR_STOP 0/1).
--   Not written yet: the labels provider and the guard do not exist.
-- ==================================================================

-- ==================================================================
-- SECTION: an audit grant, and the same statement allowed
--   TODO(grants): as a biotoken_admin member, biotoken.grant_audit(...) to
--   another role with a purpose, show biotoken.active_grants, run the
--   refused statement again as the grantee: now allowed.
--   Not written yet: biotoken.grant_audit() does not exist.
-- ==================================================================

-- ==================================================================
-- SECTION: the access log
--   TODO(audit): as a biotoken_auditor member, show the refused and
--   allowed rows of biotoken.access_log (no constants in statement), and
--   biotoken.verify_access_log().
--   Not written yet: the access log does not exist.
-- ==================================================================

\echo
\echo 'End of the demo.'
