#!/usr/bin/env bash
#
# tests/cluster/audit_events.sh
#	The access log end to end, with the test-only probe library standing
#	in for the guard, grants and labels code: every event kind writes
#	exactly one row with the right fields and one server-log line with
#	the same id and row_hash; a refusal's row survives the rollback; no
#	literal of the statement reaches the table or the server log;
#	log_reads; a reload is logged once per database; a session's startup
#	option is logged; rows made under a rotated key still verify; the log
#	fails closed when the writer is stopped (SIGSTOP) or cannot start.
#	Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 40

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server || tap_bail "no server"
bt_psql -c 'CREATE DATABASE regress_audit' -c 'CREATE DATABASE regress_audit2' \
    || tap_bail "could not create the databases"
audit_probe_install regress_audit || tap_bail "could not install the probe"
audit_probe_install regress_audit2 || tap_bail "could not install the probe"
bt_psql -d regress_audit -c "CREATE ROLE regress_biotoken_app LOGIN;
    CREATE ROLE regress_biotoken_other;
    GRANT regress_biotoken_app TO regress_biotoken_other;
    GRANT EXECUTE ON FUNCTION audit_probe_write(text, bigint, int, text[], text)
      TO regress_biotoken_app, regress_biotoken_other;" \
    || tap_bail "could not create the roles"

q() {
    bt_psql -d regress_audit -Atc "$1"
}

cols="'{public.customers.face,public.customers.national_id}'"

# ---------------------------------------------------------------- kinds
# Over TCP, with session, current and login user all different.
for ev in refused allowed grant revoke label read setting; do
    before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
    pid="$(psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -d regress_audit \
        -c "SET application_name = 'regress app'" \
        -c "SET SESSION AUTHORIZATION regress_biotoken_other" \
        -c "SET ROLE regress_biotoken_app" \
        -c "SELECT audit_probe_write('$ev', 42, 3, $cols, '{\"token\": \"kind-$ev\"}')" \
        -c "SELECT pg_backend_pid()" | tail -n 1)" || true
    got="$(q "SELECT count(*), string_agg(concat_ws('|', event, session_user_name,
                current_user_name, login_user_name, client_addr, application_name,
                backend_pid, grant_id, categories, columns, query_id IS NOT NULL,
                statement, detail->>'token', key_id), ';')
              FROM biotoken.access_log WHERE id > $before")"
    tap_is "$got" "1|$ev|regress_biotoken_other|regress_biotoken_app|postgres|127.0.0.1|regress app|$pid|42|{biometric,identity}|{public.customers.face,public.customers.national_id}|t|SELECT audit_probe_write(\$1, \$2, \$3, \$4, \$5)|kind-$ev|1" \
        "a '$ev' record is one row with the session's fields"
done

# the server-log line of the last one carries the same id and row_hash
read -r last_id last_hash < <(q "SELECT id, encode(row_hash, 'hex') FROM biotoken.access_log ORDER BY id DESC LIMIT 1" | tr '|' ' ')
line="$(server_log_since_start | grep -F "biotoken: access_log id=$last_id " || true)"
tap_ok "the server log has one line for row $last_id" test "$(grep -c . <<<"$line")" -eq 1
tap_ok "the line carries the row's hash" grep -qF "row_hash=$last_hash event=setting" <<<"$line"
tap_ok "the line names users, client and statement" grep -qF \
    'session_user="regress_biotoken_other" current_user="regress_biotoken_app" login_user="postgres" client_addr=127.0.0.1' <<<"$line"

# ------------------------------------------------------ refusal, rollback
before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
rc=0
out="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d regress_audit \
    -c "BEGIN" \
    -c "CREATE TABLE regress_gone (x int)" \
    -c "SELECT audit_probe_refuse(NULL, 3, $cols, '{\"token\": \"rolled-back\"}')" 2>&1)" || rc=$?
tap_ok "the refused statement fails with 42501" grep -q 'ERROR: *42501: audit probe refused' <<<"$out"
tap_is "$(q "SELECT count(*) FROM pg_class WHERE relname = 'regress_gone'")" "0" \
    "nothing of the refused transaction remains"
tap_is "$(q "SELECT count(*) || ':' || string_agg(event, ',') FROM biotoken.access_log
             WHERE id > $before AND detail->>'token' = 'rolled-back'")" "1:refused" \
    "the refusal's row survived the rollback"

# ------------------------------------------------------------ redaction
emb="{$(seq -s, 0.1234501 0.0000001 0.1234628)}"
bt_psql -d regress_audit -c "SELECT audit_probe_write('allowed', 7, 3, $cols, NULL),
        '$emb'::float4[] AS embedding, '110105194912310021' AS national_id" >/dev/null \
    || tap_fail "the probe call with literals failed"
bt_psql -d regress_audit -c "SELECT audit_probe_refuse(NULL, 3, $cols, NULL),
        '$emb'::float4[] AS embedding, '110105194912310021' AS national_id" >/dev/null 2>&1 || true
tap_is "$(q "SELECT count(*) FROM biotoken.access_log
             WHERE statement ~ '(12345|110105194912310021)'")" "0" \
    "no embedding value or ID number in the table"
tap_is "$(q "SELECT count(*) FROM biotoken.access_log
             WHERE statement ~ '^SELECT audit_probe_\\w+\\([^)]*\\),\\s+\\\$[0-9]::float4\\[\\] AS embedding, \\\$[0-9] AS national_id\$'")" "2" \
    "the statements are logged with placeholders"
tap_not "no embedding value or ID number in the server log" \
    grep -qE '0\.12345|110105194912310021' "$BT_LOG"

# ------------------------------------------------------------ log_reads
before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
bt_psql -d regress_audit -c "SELECT audit_probe_read('{public.customers.face}')" >/dev/null
tap_is "$(q "SELECT count(*) FROM biotoken.access_log WHERE id > $before")" "0" \
    "with log_reads off a read writes nothing"
bt_psql -d regress_audit -c "SET biotoken.log_reads = on" \
    -c "SELECT audit_probe_read('{public.customers.face}')" >/dev/null
tap_is "$(q "SELECT string_agg(concat_ws('|', event, categories, columns), ';' ORDER BY id)
             FROM biotoken.access_log WHERE id > $before AND event <> 'setting'")" \
    "read|{biometric}|{public.customers.face}" \
    "with log_reads on a read is one 'read' row"

# ------------------------------------------- settings: startup, reload
before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
PGOPTIONS='-c biotoken.guard=off' bt_psql -d regress_audit -c 'SELECT 1' >/dev/null
tap_is "$(q "SELECT string_agg(concat_ws('|', event, detail->>'new', detail->>'source', statement), ';')
             FROM biotoken.access_log WHERE id > $before")" "setting|off|client|SELECT \$1" \
    "a session started with biotoken.guard off is logged at its first statement"

before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
before2="$(bt_psql -d regress_audit2 -Atc 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
bt_psql -c 'ALTER SYSTEM SET biotoken.guard = off' -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1
for i in 1 2 3; do
    bt_psql -d regress_audit -c 'SELECT 1' >/dev/null
done
bt_psql -d regress_audit2 -c 'SELECT 1' >/dev/null
tap_is "$(q "SELECT string_agg(concat_ws('|', event, detail->>'old', detail->>'new',
                 detail->>'source', coalesce(statement, 'null')), ';')
             FROM biotoken.access_log WHERE id > $before")" \
    "setting|on|off|configuration file|null" \
    "a reload that turns the guard off is logged once in a database with three sessions"
tap_is "$(bt_psql -d regress_audit2 -Atc "SELECT count(*) FROM biotoken.access_log
             WHERE id > $before2 AND detail->>'source' = 'configuration file'")" "1" \
    "and once in the other database"
bt_psql -c 'ALTER SYSTEM RESET biotoken.guard' -c 'SELECT pg_reload_conf()' >/dev/null
sleep 1
bt_psql -d regress_audit -c 'SELECT 1' >/dev/null
bt_psql -d regress_audit -c 'SELECT 1' >/dev/null
tap_is "$(q "SELECT count(*) FROM biotoken.access_log
             WHERE id > $before AND detail->>'new' = 'on'")" "1" \
    "turning it back on by a reload is logged once"

# --------------------------------------------------------- the chain holds
tap_is "$(q 'SELECT valid FROM biotoken.verify_access_log()')" "t" \
    "the chain verifies"

# ------------------------------------------------ fail closed: stopped
bt_psql -d regress_audit -c "SELECT audit_probe_write('grant', 1, 0, NULL, NULL)" >/dev/null
wpid="$(audit_writer_pid regress_audit)"
tap_ok "a writer runs for the database" test -n "$wpid"
before="$(q 'SELECT coalesce(max(id), 0) FROM biotoken.access_log')"
kill -STOP "$wpid"
# a 'read' record is queued, not waited for, until the writer is behind
# by more than audit_timeout
rc2=0
out2="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d regress_audit \
    -c "SET biotoken.audit_timeout = 300" -c "SET biotoken.log_reads = on" \
    -c "SELECT audit_probe_read('{public.customers.face}')" \
    -c "SELECT 'first read returned'" -c "SELECT pg_sleep(0.4)" \
    -c "SELECT audit_probe_read('{public.customers.face}')" 2>&1)" || rc2=$?
rc=0
start_ms=$(date +%s%3N)
out="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d regress_audit \
    -c "SET biotoken.audit_timeout = 300" \
    -c "SELECT audit_probe_write('allowed', 9, 3, $cols, '{\"token\": \"stopped\"}')" 2>&1)" || rc=$?
elapsed=$(($(date +%s%3N) - start_ms))
kill -CONT "$wpid"
tap_ok "a read is queued without waiting for the stopped writer" grep -q 'first read returned' <<<"$out2"
tap_ok "once the writer is behind by audit_timeout, reads are refused" \
    grep -q 'ERROR: *58000: statement refused: the access log could not be written' <<<"$out2"
tap_not "with the writer stopped the statement is refused" test "$rc" -eq 0
tap_ok "with SQLSTATE 58000, saying the access log could not be written" \
    grep -q 'ERROR: *58000: statement refused: the access log could not be written' <<<"$out"
tap_ok "after biotoken.audit_timeout" grep -q 'not committed within biotoken.audit_timeout (300 ms)' <<<"$out"
tap_ok "and no sooner ($elapsed ms)" test "$elapsed" -ge 300
tap_ok "the server log says it was not committed" \
    grep -q 'biotoken: access_log id=none status="not committed: statement refused" event=allowed' "$BT_LOG"
bt_psql -d regress_audit -c "SELECT audit_probe_write('revoke', 1, 0, NULL, NULL)" >/dev/null
# (the sessions' changes of log_reads and audit_timeout are 'setting' rows)
tap_is "$(q "SELECT string_agg(event, ',' ORDER BY id) FROM biotoken.access_log WHERE id > $before AND event <> 'setting'")" \
    "read,revoke" "the given-up record was withdrawn; the queued read and the next one are written"

# --------------------------------------------- rotated key, restart
keys="$BT_TMPDIR/rotated_keys"
{ cat "$BT_KEY_FILE"; printf '2 %s\n' "$(bt_random_hex)"; } >"$keys"
chown postgres:postgres "$keys" && chmod 0600 "$keys"
tap_ok "the server restarts with a second, newer key" \
    restart_server "biotoken.key_file = $(bt_conf_quote "$keys")"
((BT_RUNNING)) || tap_bail "no server"
bt_psql -d regress_audit -c "SELECT audit_probe_write('grant', 2, 0, NULL, NULL)" >/dev/null
tap_is "$(q 'SELECT key_id FROM biotoken.access_log ORDER BY id DESC LIMIT 1')" "2" \
    "new rows are made with the newest key"
tap_is "$(q "SELECT valid || ':' || (rows_checked = (SELECT count(*) FROM biotoken.access_log))
             FROM biotoken.verify_access_log()")" "true:true" \
    "rows of both keys verify"
grep '^2 ' "$keys" >"$keys.2"
chown postgres:postgres "$keys.2" && chmod 0600 "$keys.2"
tap_ok "the server restarts with key 2 only" \
    restart_server "biotoken.key_file = $(bt_conf_quote "$keys.2")"
((BT_RUNNING)) || tap_bail "no server"
tap_is "$(q 'SELECT valid, first_broken_id, reason FROM biotoken.verify_access_log()')" \
    "f|1|the key that made this row is not loaded" \
    "without the key of the first rows the chain cannot be shown to hold"

# ---------------------------------------- fail closed: no worker slot
tap_ok "the server restarts with no background worker to spare" \
    restart_server "biotoken.key_file = $(bt_conf_quote "$keys")" "max_worker_processes = 1"
((BT_RUNNING)) || tap_bail "no server"
rc=0
out="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -d regress_audit \
    -c "SELECT audit_probe_write('label', 0, 1, NULL, NULL)" 2>&1)" || rc=$?
tap_not "a record that no writer can take refuses the statement" test "$rc" -eq 0
tap_ok "at once, with a hint about max_worker_processes" \
    grep -q 'HINT: *Raise max_worker_processes' <<<"$out"
tap_diag "$out"
