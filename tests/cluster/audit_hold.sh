#!/usr/bin/env bash
#
# tests/cluster/audit_hold.sh
#	DROP DATABASE and biotoken's hold on the access-log writer (issue #10,
#	item 8).  A role with no rights that tries DROP DATABASE must not make
#	the database's writer leave: PostgreSQL refuses it, and biotoken must
#	not act before that.  The database's owner, whose DROP DATABASE is
#	cancelled by statement_timeout while it waits for a busy writer, must
#	not leave the database held: its log must work again at once, while
#	that session lives on.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 6

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server "biotoken.audit_timeout = '3s'" || tap_bail "no server"
OWNER=regress_biotoken_dbowner
NOBODY=regress_biotoken_nobody
bt_psql -q <<SQL || tap_bail "could not set up"
CREATE ROLE $OWNER LOGIN;
CREATE ROLE $NOBODY LOGIN;
CREATE DATABASE regress_hold OWNER $OWNER;
SQL
audit_probe_install regress_hold >/dev/null || tap_bail "could not install the probe"

record() {
    bt_psql -d regress_hold -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"token\": \"$1\"}')" \
        >/dev/null 2>&1
}

# --- a role with no rights
record first || tap_fail "no first record"
before="$(audit_writer_pid regress_hold)"
out="$(psql -X -q -U "$NOBODY" -d postgres -c 'DROP DATABASE regress_hold' 2>&1 || true)"
tap_ok "PostgreSQL refuses DROP DATABASE to a role without rights" \
    grep -q "must be owner of database regress_hold" <<<"$out"
after="$(audit_writer_pid regress_hold)"
tap_ok "the writer did not leave for it (pid $before, then '$after')" \
    test -n "$before" -a "$before" = "$after"

# --- the owner, cancelled while waiting for a writer that cannot leave
REL="$BT_TMPDIR/release"
lock_access_log regress_hold "$REL" || tap_bail "the log was not locked"
locker=$BT_LOCKER_PID
# a record the writer has queued but cannot write while the lock is held
record queued &
client=$!
sleep 0.3

# the owner's session: DROP DATABASE is cancelled, the session stays
DONE="$BT_TMPDIR/dropped"
(
    psql -X -q -U "$OWNER" -d postgres 2>&1 <<SQL
SET statement_timeout = '400ms';
DROP DATABASE regress_hold;
\! touch $DONE
RESET statement_timeout;
SELECT pg_sleep(30);
SQL
) >"$BT_TMPDIR/drop.out" &
dropper=$!
for ((i = 0; i < 200; i++)); do
    [[ -e $DONE ]] && break
    sleep 0.05
done
tap_ok "the owner's DROP DATABASE was cancelled by statement_timeout" \
    grep -q "canceling statement due to statement timeout" "$BT_TMPDIR/drop.out"

as_postgres touch "$REL"
wait "$locker" || true
rc=0
wait "$client" || rc=$?
tap_is "$rc" "0" "the queued record was written once the lock went"

# the owner's session is still there; the log must work without it going
alive="$(bt_psql -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = '$OWNER'")"
tap_is "$alive" "1" "the cancelled session is still connected"
tap_ok "a new record is written while that session lives" record after-cancel
kill "$dropper" 2>/dev/null || true
bt_psql -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '$OWNER'" \
    >/dev/null || true
wait "$dropper" 2>/dev/null || true
