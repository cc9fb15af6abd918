#!/usr/bin/env bash
#
# tests/cluster/audit_anchor.sh
#	The end of the access log is anchored outside the table (issue #11,
#	defect 2).  A superuser deletes the newest rows (disabling the
#	append-only trigger) and restarts the server, so that nothing in
#	shared memory remembers them: verify_access_log() must still report
#	the rows removed from the end, and so must the writer when it next
#	writes.  Without tampering, a clean restart and a crash restart give no
#	false alarm, and a dropped database leaves no anchor behind.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 9

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
CONF=("fsync = on")
start_server "${CONF[@]}" || tap_bail "no server"
bt_psql -q -c 'CREATE DATABASE regress_anchor' -c 'CREATE DATABASE regress_anchor_ok' \
    || tap_bail "no database"
audit_probe_install regress_anchor >/dev/null || tap_bail "could not install the probe"
audit_probe_install regress_anchor_ok >/dev/null || tap_bail "could not install the probe"

record() {
    bt_psql -d "$1" -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"n\": $2}')" >/dev/null
}
verify() {
    bt_psql -d "$1" -Atc "SELECT valid || ' ' || rows_checked || ' ' ||
        coalesce(first_broken_id::text, '-') || ' ' || coalesce(reason, '-')
        FROM biotoken.verify_access_log()"
}
for i in 1 2 3 4 5; do
    record regress_anchor "$i" || tap_fail "record $i"
    record regress_anchor_ok "$i" || tap_fail "record $i"
done
rows="$(bt_psql -d regress_anchor -Atc 'SELECT max(id) FROM biotoken.access_log')"

# --- the attack: the newest two rows go, then a restart
bt_psql -d regress_anchor -q <<SQL || tap_bail "could not delete"
ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only;
DELETE FROM biotoken.access_log WHERE id > $rows - 2;
ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_append_only;
SQL
restart_server "${CONF[@]}" || tap_bail "no restart"
v="$(verify regress_anchor)"
tap_is "${v%% *}" "false" "after a restart, rows removed from the end are detected"
tap_is "$(cut -d' ' -f3 <<<"$v")" "$((rows - 1))" "the first missing row is named"
tap_ok "the reason says rows at the end were removed" grep -q "rows at the end of the log were removed" <<<"$v"

# the writer, started afresh, sees it too and keeps the break visible
record regress_anchor 6 || tap_fail "record 6"
tap_ok "the new writer warns that the log ends before its anchor" \
    server_log_has "the access log ends at row $((rows - 2)) but the writer last committed row $rows"
v="$(verify regress_anchor)"
tap_is "${v%% *}" "false" "the row written after the restart does not hide the gap"

# --- no false alarm: clean restart, crash restart
v="$(verify regress_anchor_ok)"
tap_is "${v%% *}" "true" "an untouched log verifies after a clean restart"
as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m immediate -w -s stop >/dev/null 2>&1 || true
BT_RUNNING=0
start_server "${CONF[@]}" || tap_bail "no start after the crash"
record regress_anchor_ok 6 || tap_fail "record after the crash"
v="$(verify regress_anchor_ok)"
tap_is "$v" "true 6 - -" "an untouched log verifies after a crash restart"

# --- the anchor file belongs to its database
oid="$(bt_psql -Atc "SELECT oid FROM pg_database WHERE datname = 'regress_anchor_ok'")"
tap_ok "the anchor file exists" as_postgres test -f "$BT_PGDATA/biotoken_log/$oid.anchor"
bt_psql -q -c 'DROP DATABASE regress_anchor_ok' || tap_fail "drop database"
tap_not "DROP DATABASE removes its anchor file" as_postgres test -f "$BT_PGDATA/biotoken_log/$oid.anchor"
