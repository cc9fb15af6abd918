--
-- tests/demo/demo.sql
--	A narrated walk through biotoken, run by `make demo` (tests/harness/
--	demo.sh) with psql --echo-queries as the superuser postgres, in a
--	fresh database of a throwaway server with biotoken preloaded.
--
--	Statements that are meant to be refused sit between
--	`\set ON_ERROR_STOP 0` and `\set ON_ERROR_STOP 1`: the error is shown
--	and the demo goes on.  Any other error stops the demo (and fails
--	`make demo`).  Templates carry a random salt and each throwaway server
--	generates its own key, so the bt1 strings and the second decimal of
--	the distances in section 4 differ from run to run; everything else
--	(yes/no answers, refusals, grant and log ids) is the same every time.
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
\echo 'With a model profile, as an ordinary application role.  Real face'
\echo 'models share a common mean; an admin registers it once, and the'
\echo 'application names it.  No superuser is involved: demo_enroller has'
\echo 'only INSERT and SELECT on its table.  biometric(256) fixes the'
\echo 'template size of the column, whatever the session says.'
CREATE ROLE demo_model_admin NOLOGIN IN ROLE biotoken_admin;
CREATE ROLE demo_enroller NOLOGIN;
CREATE TABLE visitors (id int PRIMARY KEY, face biometric(256));
GRANT SELECT, INSERT ON visitors TO demo_enroller;
SET SESSION AUTHORIZATION demo_model_admin;
SELECT biotoken.register_model('demo-model-128', 128,
           (SELECT array_agg(0.02::float4) FROM generate_series(1, 128))) > 0
       AS profile_registered;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION demo_enroller;
SET biotoken.model = 'demo-model-128';
INSERT INTO visitors VALUES (1, demo_face(4)), (2, demo_face(5));
SELECT id, (biometric_info(face)).model, (biometric_info(face)).bits,
       biometric_verify(face, demo_face(4, 1)) AS matches_new_photo_of_visitor_1
FROM visitors ORDER BY id;
RESET biotoken.model;
RESET SESSION AUTHORIZATION;

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

\echo
\echo '=================================================================='
\echo ' 5. Classify: ID numbers and bank accounts'
\echo '=================================================================='
\echo 'The same table now also holds what fraudsters buy with a face: an ID'
\echo 'number and a bank account.  Faces are biometric by type; other columns'
\echo 'are classified with security labels (the numbers are made up, with valid check digits).'
ALTER TABLE people ADD COLUMN national_id text, ADD COLUMN iban text;
UPDATE people SET national_id = v.nid, iban = v.iban
FROM (VALUES (1, '11010519491231002X', 'FR1420041010050500013M02606'),
             (2, '440306199003071232', 'DE89370400440532013000'),
             (3, '310115197811294562', 'GB82WEST12345698765432'))
     AS v(id, nid, iban)
WHERE people.id = v.id;

\echo
\echo 'A DBA who does not know every column yet asks biotoken to look:'
\echo 'discover() suggests columns from their names and from a sample of'
\echo 'their values checked with real validators (check digits, mod 97, ...).'
SELECT relation, column_name, suggested_category, round(confidence::numeric, 2) AS confidence
FROM biotoken.discover() ORDER BY relation::text, column_name;

\echo
\echo 'The DBA labels what is real.  Faces are biometric by type.'
SECURITY LABEL FOR biotoken ON COLUMN people.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN people.iban IS 'financial';
SELECT relation, column_name, category, source
FROM biotoken.classified_columns ORDER BY relation::text, column_name;

\echo
\echo 'The separation report names the tables that keep faces next to ID'
\echo 'numbers or accounts: the bundle a thief wants, in one place.'
SELECT * FROM biotoken.separation_report();

\echo
\echo '=================================================================='
\echo ' 6. The guard: faces stay apart from ID numbers and accounts'
\echo '=================================================================='
\echo 'demo_app is the application: an ordinary role with the usual table'
\echo 'privileges.  (The demo acts as it with SET SESSION AUTHORIZATION.)'
CREATE ROLE demo_app NOLOGIN;
GRANT SELECT, INSERT, UPDATE ON people TO demo_app;
SET SESSION AUTHORIZATION demo_app;

\echo
\echo 'Allowed: faces alone (verify against everyone, names are unclassified).'
SELECT id, name, biometric_verify(face, demo_face(2, 1)) AS matches
FROM people ORDER BY id;

\echo
\echo 'Allowed: ID numbers and accounts alone.'
SELECT id, name, national_id, iban FROM people ORDER BY id;

\echo
\echo 'Allowed: a new customer is registered, then enrolled by ID number'
\echo '(reading identity to write a face combines nothing that comes back).'
INSERT INTO people (id, name, national_id, iban)
VALUES (4, 'Dana', '510107200106150784', 'NL91ABNA0417164300');
UPDATE people SET face = demo_face(4) WHERE national_id = '510107200106150784';

\echo
\echo 'Allowed: a 1:1 check of a claimed identity, in two statements.  First'
\echo 'the claimed ID number gives a person id, then the face is verified by id.'
SELECT id AS claimed_id FROM people WHERE national_id = '440306199003071232' \gset
SELECT biometric_verify(face, demo_face(2, 1)) AS same_person
FROM people WHERE id = :claimed_id;

\echo
\echo 'REFUSED: one statement that reads faces together with ID numbers.'
\set ON_ERROR_STOP 0
SELECT name, national_id, face FROM people;
\set ON_ERROR_STOP 1

\echo
\echo 'REFUSED too, although no face leaves the server: the face decides which'
\echo 'ID number comes back ("whose ID number goes with this photo?").'
\set ON_ERROR_STOP 0
SELECT national_id FROM people WHERE biometric_verify(face, demo_face(2, 1));
\set ON_ERROR_STOP 1
RESET SESSION AUTHORIZATION;

\echo
\echo 'The superuser is guarded like everyone else.'
SELECT current_user AS now_acting_as, rolsuper FROM pg_roles WHERE rolname = current_user;
\set ON_ERROR_STOP 0
SELECT national_id FROM people WHERE biometric_verify(face, demo_face(2, 1));
\set ON_ERROR_STOP 1

\echo
\echo '=================================================================='
\echo ' 7. An audit grant: two people, one purpose, a time limit'
\echo '=================================================================='
\echo 'A fraud investigator has the photo from a suspicious account opening'
\echo 'and needs the ID number that goes with it.  Grants are given by'
\echo 'members of biotoken_admin, never to themselves (two-person rule).'
CREATE ROLE demo_admin NOLOGIN IN ROLE biotoken_admin;
CREATE ROLE demo_investigator NOLOGIN;
GRANT SELECT ON people TO demo_investigator;

\echo
\echo 'REFUSED: an admin granting itself.'
SET SESSION AUTHORIZATION demo_admin;
\set ON_ERROR_STOP 0
SELECT biotoken.grant_audit('demo_admin', 'just curious');
\set ON_ERROR_STOP 1

\echo
\echo 'demo_admin grants demo_investigator 30 minutes on table people, for a'
\echo 'stated case.'
SELECT biotoken.grant_audit('demo_investigator', 'case FR-2291: suspected identity fraud',
                            '30 minutes', ARRAY['people']::regclass[]) AS grant_id \gset
SELECT grant_id, grantee, grantor, purpose, relations,
       expires_at - granted_at AS valid_for
FROM biotoken.active_grants;
RESET SESSION AUTHORIZATION;

\echo
\echo 'Allowed now, for demo_investigator only (and logged with the grant id):'
SET SESSION AUTHORIZATION demo_investigator;
SELECT name, national_id FROM people WHERE biometric_verify(face, demo_face(2, 1));
RESET SESSION AUTHORIZATION;

\echo
\echo 'The case is closed: the grant is revoked, and the same statement is'
\echo 'refused again.'
SET SESSION AUTHORIZATION demo_admin;
SELECT biotoken.revoke_audit(:grant_id);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION demo_investigator;
\set ON_ERROR_STOP 0
SELECT name, national_id FROM people WHERE biometric_verify(face, demo_face(2, 1));
\set ON_ERROR_STOP 1
RESET SESSION AUTHORIZATION;

\echo
\echo '=================================================================='
\echo ' 8. The access log, for auditors'
\echo '=================================================================='
\echo 'Every label change, refusal, grant, allowed statement and revocation'
\echo 'above is a row.  Members of biotoken_auditor may read the log.'
CREATE ROLE demo_auditor NOLOGIN IN ROLE biotoken_auditor;
SET SESSION AUTHORIZATION demo_auditor;
SELECT id, event, session_user_name, grant_id, categories, columns
FROM biotoken.access_log ORDER BY id;

\echo
\echo 'What was asked, with every literal replaced by $1, $2, ...: no ID number'
\echo 'or embedding reaches the log.'
SELECT id, statement FROM biotoken.access_log ORDER BY id;

\echo
\echo 'Each row carries an HMAC over the row and the previous row''s hash,'
\echo 'made with a key only the server holds.  The chain holds:'
SELECT * FROM biotoken.verify_access_log();
RESET SESSION AUTHORIZATION;

\echo
\echo 'A superuser who wants to hide the grant''s use cannot UPDATE the log,'
\echo 'not even with session_replication_role = replica ...'
\set ON_ERROR_STOP 0
UPDATE biotoken.access_log SET statement = 'SELECT 1' WHERE event = 'allowed';
SET session_replication_role = replica;
UPDATE biotoken.access_log SET statement = 'SELECT 1' WHERE event = 'allowed';
RESET session_replication_role;
\set ON_ERROR_STOP 1

\echo
\echo '... but can disable the table''s trigger, rewrite a row and put the'
\echo 'trigger back:'
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET statement = 'SELECT 1' WHERE event = 'allowed';
ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_append_only;

\echo
\echo 'The auditor''s next check finds the rewritten row:'
SET SESSION AUTHORIZATION demo_auditor;
SELECT * FROM biotoken.verify_access_log();
RESET SESSION AUTHORIZATION;

\echo
\echo 'End of the demo.'
