--
-- audit_log: the access log table, its protection, setting events, the
-- normalization of statements, verify_access_log and its detection of
-- tampering, and failing closed.  Records are committed by the writer
-- worker in its own transactions, so they survive the rollbacks below.
-- Everything is compared relative to the last row before this test.
--

-- the columns DESIGN.md lists, and key_id (which key made row_hash)
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute
 WHERE attrelid = 'biotoken.access_log'::regclass AND attnum > 0
 ORDER BY attnum;

SELECT coalesce(max(id), 0) AS start_id FROM biotoken.access_log \gset

-- ---------------------------------------------------------------------
-- 'setting' events: one row per change, with the session's fields
-- ---------------------------------------------------------------------
SET biotoken.guard = off;
SELECT count(*) AS rows, bool_and(event = 'setting') AS setting,
       bool_and(session_user_name = session_user) AS session_user_ok,
       bool_and(current_user_name = current_user) AS current_user_ok,
       bool_and(login_user_name = session_user) AS login_user_ok,
       bool_and(backend_pid = pg_backend_pid()) AS pid_ok,
       bool_and(application_name = current_setting('application_name')) AS app_ok,
       bool_and(client_addr IS NOT DISTINCT FROM inet_client_addr()) AS addr_ok,
       bool_and(query_id IS NOT NULL) AS has_query_id,
       bool_and(grant_id IS NULL AND categories IS NULL AND columns IS NULL) AS no_grant,
       bool_and(key_id IS NOT NULL AND length(row_hash) = 32 AND
                (length(prev_hash) = 32 OR (id = 1 AND prev_hash IS NULL))) AS chained
  FROM biotoken.access_log WHERE id > :start_id;
SELECT id - :start_id AS n, statement, detail FROM biotoken.access_log
 WHERE id > :start_id ORDER BY id;

-- setting it to the value it has is no change
SET biotoken.guard = off;
RESET biotoken.guard;
SET biotoken.scope = 'transaction';
SET biotoken.scope = statement;
SELECT id - :start_id AS n, statement, detail FROM biotoken.access_log
 WHERE id > :start_id ORDER BY id;

-- a change in a transaction that rolls back is logged all the same
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
BEGIN;
SET LOCAL biotoken.guard = off;
SELECT 1 / 0;  -- fail (division by zero): the transaction rolls back
ROLLBACK;
SHOW biotoken.guard;
SELECT id - :mark AS n, statement, detail->>'new' AS new FROM biotoken.access_log
 WHERE id > :mark ORDER BY id;

-- a function's SET clause: logged before its body runs, and when the
-- value goes back, before the next statement
CREATE FUNCTION regress_audit_guard_off(emb float4[], national_id text)
RETURNS int LANGUAGE sql SET biotoken.guard = off
AS $$ SELECT array_length(emb, 1) + length(national_id) $$;
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
-- the literals must not reach the log: an embedding and a national ID
SELECT regress_audit_guard_off('{0.1234567,-0.7654321,0.5}'::float4[], '11010519491231002X') AS f;
SELECT 1 AS next_statement;
SELECT id - :mark AS n, statement, detail->>'new' AS new FROM biotoken.access_log
 WHERE id > :mark ORDER BY id;
SELECT count(*) AS leaked FROM biotoken.access_log
 WHERE id > :mark AND statement ~ '(1234567|7654321|11010519491231002X)';

-- ---------------------------------------------------------------------
-- normalization of the statement: constants of every kind, comments,
-- existing parameters, several statements in one query string
-- ---------------------------------------------------------------------
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
SELECT 1 AS first; SELECT regress_audit_guard_off(ARRAY[0.25, -1e-3, 42]::float4[], E'ID\'123' /* 110105194912310021 */) -- 6222 0212 3456 7890
;
PREPARE regress_audit_p(text) AS SELECT regress_audit_guard_off(array_fill(0.5::float4, ARRAY[3]), $1);
EXECUTE regress_audit_p('110105194912310021');
DO $$ BEGIN PERFORM regress_audit_guard_off('{0.9999}', 'AB1234567'); END $$;
CREATE PROCEDURE regress_audit_proc(a int, b bit(4), c text, d text)
LANGUAGE sql SET biotoken.guard = off AS $$ SELECT length(c || d) $$;
CALL regress_audit_proc(x'ff'::int, B'1010', U&'\0031\0032', $q$440524188001010014$q$);
DEALLOCATE regress_audit_p;
SELECT id - :mark AS n, statement, detail->>'new' AS new FROM biotoken.access_log
 WHERE id > :mark ORDER BY id;
SELECT count(*) AS leaked FROM biotoken.access_log
 WHERE id > :mark AND statement ~ '(0\.25|1e-3|42|123|110105194912310021|6222|0\.9999|AB1234567|440524188001010014)';

-- ---------------------------------------------------------------------
-- nobody changes the log through SQL, the owner included
-- ---------------------------------------------------------------------
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
UPDATE biotoken.access_log SET event = 'read' WHERE id = :mark;  -- fail (append-only)
DELETE FROM biotoken.access_log WHERE id = :mark;  -- fail (append-only)
TRUNCATE biotoken.access_log;  -- fail (append-only)
INSERT INTO biotoken.access_log (id, logged_at, event, key_id, row_hash)
  VALUES (:mark + 1, now(), 'read', 1, '\x00');  -- fail (only the writer adds rows)
-- replica mode skips ordinary triggers, not these
SET session_replication_role = replica;
UPDATE biotoken.access_log SET event = 'read' WHERE id = :mark;  -- fail (append-only)
DELETE FROM biotoken.access_log WHERE id = :mark;  -- fail (append-only)
RESET session_replication_role;
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'biotoken.access_log'::regclass ORDER BY tgname;

-- ---------------------------------------------------------------------
-- auditors read the log and verify it; others do neither
-- ---------------------------------------------------------------------
SET ROLE regress_biotoken_auditor;
SELECT count(*) > 0 AS auditor_reads FROM biotoken.access_log;
SELECT valid, rows_checked = (SELECT count(*) FROM biotoken.access_log) AS all_rows,
       first_broken_id, reason
  FROM biotoken.verify_access_log();
UPDATE biotoken.access_log SET event = 'read';  -- fail (no privilege)
RESET ROLE;
SET ROLE regress_biotoken_app;
SELECT count(*) FROM biotoken.access_log;  -- fail (no privilege)
SELECT * FROM biotoken.verify_access_log();  -- fail (no privilege)
RESET ROLE;
SET ROLE regress_biotoken_admin;
SELECT count(*) FROM biotoken.access_log;  -- fail (admins grant; auditors read)
RESET ROLE;

-- ---------------------------------------------------------------------
-- tampering by someone who bypasses the protections (a superuser who
-- disables the trigger); each kind in a transaction that rolls back
-- ---------------------------------------------------------------------
SELECT coalesce(max(id), 0) AS last FROM biotoken.access_log \gset
SELECT :last - :start_id >= 10 AS enough_rows;
SELECT :start_id + 3 AS t1, :start_id + 5 AS t2 \gset

-- a changed row
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET statement = 'SELECT 1' WHERE id = :t1;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- a changed timestamp, user, and detail
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET logged_at = logged_at + interval '1 second' WHERE id = :t2;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET session_user_name = 'someone_else' WHERE id = :t2;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET detail = detail || '{"new": "on"}' WHERE id = :t2;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- a changed row whose row_hash was recomputed with a guessed key
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET event = 'read',
       row_hash = sha256(row_hash) WHERE id = :t1;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- a deleted row
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
DELETE FROM biotoken.access_log WHERE id = :t1;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- a deleted row, the next ones renumbered to close the gap
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
DELETE FROM biotoken.access_log WHERE id = :t1;
UPDATE biotoken.access_log SET id = -(id - 1) WHERE id > :t1;
UPDATE biotoken.access_log SET id = -id WHERE id < 0;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- the last rows deleted: nothing after them to break, but the writer
-- remembers the end of the chain it committed
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
DELETE FROM biotoken.access_log WHERE id >= :last - 1;
SELECT valid, first_broken_id = :last - 1 AS at_first_missing, reason
  FROM biotoken.verify_access_log();
ROLLBACK;

-- an inserted row (a copy of a real one, under a new id)
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET id = -(id + 1) WHERE id > :t1;
UPDATE biotoken.access_log SET id = -id WHERE id < 0;
INSERT INTO biotoken.access_log
  SELECT id + 1, logged_at, event, session_user_name, current_user_name,
         login_user_name, client_addr, application_name, backend_pid, grant_id,
         categories, columns, query_id, statement, detail, key_id, row_hash, row_hash
    FROM biotoken.access_log WHERE id = :t1;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- two rows swapped (reordered)
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
UPDATE biotoken.access_log SET id = -id WHERE id IN (:t1, :t2);
UPDATE biotoken.access_log SET id = CASE id WHEN -:t1 THEN :t2 ELSE :t1 END WHERE id < 0;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- the same with session_replication_role = replica and the trigger
-- disabled: the chain still shows it
BEGIN;
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
SET LOCAL session_replication_role = replica;
UPDATE biotoken.access_log SET columns = '{}' WHERE id = :t2;
SELECT valid, first_broken_id - :start_id AS at, reason FROM biotoken.verify_access_log();
ROLLBACK;

-- after all those rollbacks the chain holds
SELECT valid, first_broken_id, reason FROM biotoken.verify_access_log();

-- ---------------------------------------------------------------------
-- fail closed: a record that cannot be committed in time refuses the
-- statement, and nothing of it is logged.  This session holds a lock
-- that keeps the writer from inserting, so the wait must time out.
-- ---------------------------------------------------------------------
SELECT coalesce(max(id), 0) AS mark FROM biotoken.access_log \gset
BEGIN;
-- (audit_timeout first: its change is logged too, and needs the log)
SET LOCAL biotoken.audit_timeout = 200;
LOCK TABLE biotoken.access_log IN SHARE MODE;
SET LOCAL biotoken.guard = off;  -- fail (the log cannot be written)
ROLLBACK;
SHOW biotoken.guard;
-- the writer has the table again: the record given up is not written,
-- the next one is
SET biotoken.guard = off;
RESET biotoken.guard;
SELECT id - :mark AS n, statement FROM biotoken.access_log WHERE id > :mark ORDER BY id;
SELECT valid, first_broken_id, reason FROM biotoken.verify_access_log();

DROP FUNCTION regress_audit_guard_off(float4[], text);
DROP PROCEDURE regress_audit_proc(int, bit, text, text);
