#!/usr/bin/env bash
#
# tests/cluster/audit_dba.sh
#	The access-log writer never gets in a DBA's way.  A writer connected
#	to a database would make ALTER DATABASE ... RENAME, CREATE DATABASE
#	... TEMPLATE and DROP DATABASE wait five seconds and fail ("being
#	accessed by other users"); biotoken asks it to leave first.  Each
#	operation runs right after a record was written, with the writer
#	still connected (checked), and must succeed at once.  The writer also
#	leaves by itself when idle.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 17

init_cluster || tap_bail "could not create a cluster"
start_server || tap_bail "no server"
bt_psql -c 'CREATE DATABASE regress_dba' || tap_bail "could not create a database"
bt_psql -d regress_dba -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"

# a 'setting' record; the writer stays connected for a while after it
log_event() {
    bt_psql -d "$1" -c 'SET biotoken.guard = off' >/dev/null
}

# run SQL in postgres; fail if it fails or takes 3 s or more (a writer in
# the way makes it wait 5 s and fail)
quick() {
    local t0 t1
    t0=$(date +%s%3N)
    bt_psql -d postgres -c "$1" >/dev/null || return 1
    t1=$(date +%s%3N)
    (((t1 - t0) < 3000))
}

log_event regress_dba
tap_ok "a writer is connected to the database" test -n "$(audit_writer_pid regress_dba)"
tap_ok "ALTER DATABASE ... RENAME succeeds at once" \
    quick 'ALTER DATABASE regress_dba RENAME TO regress_dba_renamed'
tap_is "$(bt_psql -Atc "SELECT count(*) FROM pg_database WHERE datname = 'regress_dba_renamed'")" \
    "1" "the database has its new name"

before="$(bt_psql -d regress_dba_renamed -Atc 'SELECT max(id) FROM biotoken.access_log')"
log_event regress_dba_renamed
tap_is "$(bt_psql -d regress_dba_renamed -Atc "SELECT count(*) FROM biotoken.access_log WHERE id > $before")" \
    "1" "the renamed database logs again"
tap_ok "a writer is connected to it again" test -n "$(audit_writer_pid regress_dba_renamed)"
tap_ok "CREATE DATABASE ... TEMPLATE succeeds at once" \
    quick 'CREATE DATABASE regress_dba_copy TEMPLATE regress_dba_renamed'
tap_is "$(bt_psql -d regress_dba_copy -Atc 'SELECT valid, rows_checked FROM biotoken.verify_access_log()')" \
    "t|2" "the copy has the template's log, and it verifies"

log_event regress_dba_renamed
tap_ok "a writer is connected before DROP DATABASE" test -n "$(audit_writer_pid regress_dba_renamed)"
tap_ok "DROP DATABASE succeeds at once" quick 'DROP DATABASE regress_dba_renamed'
tap_is "$(bt_psql -Atc "SELECT count(*) FROM pg_database WHERE datname = 'regress_dba_renamed'")" \
    "0" "the database is gone"

# the template1 case: CREATE DATABASE without TEMPLATE copies template1
bt_psql -d template1 -c 'CREATE EXTENSION biotoken' >/dev/null || tap_fail "CREATE EXTENSION in template1"
log_event template1
tap_ok "a writer is connected to template1" test -n "$(audit_writer_pid template1)"
tap_ok "CREATE DATABASE (from template1) succeeds at once" quick 'CREATE DATABASE regress_dba_t1'
# its log holds a row: DROP EXTENSION needs the superuser's override
bt_psql -d template1 -c 'BEGIN' -c 'SET LOCAL biotoken.allow_drop = on' \
    -c 'DROP EXTENSION biotoken' -c 'COMMIT' >/dev/null

# a record written while a DBA operation holds the database waits for it
# (no writer may start there) and is refused if it lasts too long
log_event regress_dba_copy
tap_ok "a writer is connected to the copy" test -n "$(audit_writer_pid regress_dba_copy)"

# left alone, the writer leaves by itself
gone=0
for ((i = 0; i < 150; i++)); do
    if [[ -z "$(audit_writer_pid regress_dba_copy)" ]]; then
        gone=1
        break
    fi
    sleep 0.1
done
tap_ok "the writer leaves when idle (within 15 s)" test "$gone" -eq 1
tap_ok "DROP DATABASE of an idle database succeeds at once" quick 'DROP DATABASE regress_dba_copy'

# a session (not a writer) in the database still blocks DROP DATABASE, as
# without biotoken: the quick check above could fail
bt_psql -c 'CREATE DATABASE regress_dba_busy' >/dev/null
psql -X -q -d regress_dba_busy -c 'SELECT pg_sleep(8)' >/dev/null 2>&1 &
sleeper=$!
sleep 0.5
tap_not "DROP DATABASE with another session connected still fails" \
    quick 'DROP DATABASE regress_dba_busy'
kill "$sleeper" 2>/dev/null || true
wait "$sleeper" 2>/dev/null || true
bt_psql -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'regress_dba_busy'" >/dev/null
tap_ok "the server log has no error of the writer" \
    bash -c "! grep -a 'access log writer' '$BT_LOG' | grep -q ERROR"
