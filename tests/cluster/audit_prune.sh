#!/usr/bin/env bash
#
# tests/cluster/audit_prune.sh
#	Retention (issue #11, "years of log"): an admin exports the head of
#	the access log with COPY and prunes it with
#	biotoken.prune_access_log(before_id).  A signed 'prune' record names
#	the removed range and the hash of its last row, so the rest of the log
#	still verifies, whole and in chunks, as an auditor.  Only an admin may
#	prune; a broken range is not pruned; rows removed from the head any
#	other way are still reported, also after a prune; the archived rows are
#	exactly the removed ones.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 11

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server "biotoken.audit_checkpoint_rows = 10" || tap_bail "no server"
bt_psql -q -c 'CREATE DATABASE regress_prune' || tap_bail "no database"
audit_probe_install regress_prune >/dev/null || tap_bail "could not install the probe"
ADM=regress_biotoken_admin
AUD=regress_biotoken_auditor
APP=regress_biotoken_app
bt_psql -d regress_prune -q -c "CREATE ROLE $ADM LOGIN IN ROLE biotoken_admin" \
    -c "CREATE ROLE $AUD LOGIN IN ROLE biotoken_auditor" -c "CREATE ROLE $APP LOGIN" \
    -c "GRANT USAGE ON SCHEMA biotoken TO $ADM, $AUD, $APP" || tap_bail "no roles"
for i in $(seq 1 30); do
    bt_psql -d regress_prune -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"n\": $i}')" \
        >/dev/null || tap_bail "record $i"
done
as() {
    local role="$1"
    shift
    psql -X -q -At -U "$role" -d regress_prune "$@"
}

# archive rows 1..14 (an auditor can read them), then prune them as the admin
ARCH="$BT_TMPDIR/archive.csv"
as "$AUD" -c "\\copy (SELECT * FROM biotoken.access_log WHERE id < 15 ORDER BY id) TO '$ARCH' CSV" \
    || tap_fail "export"
out="$(as "$APP" -c 'SELECT biotoken.prune_access_log(15)' 2>&1 || true)"
tap_ok "an ordinary role cannot prune" grep -q "permission denied" <<<"$out"
n="$(as "$ADM" -c 'SELECT biotoken.prune_access_log(15)')"
tap_is "$n" "14" "the admin pruned rows 1-14"
first="$(as "$AUD" -c 'SELECT min(id) FROM biotoken.access_log')"
tap_is "$first" "15" "the log now starts at row 15"
prune="$(as "$AUD" -c "SELECT detail->>'removed_from' || '-' || (detail->>'removed_to') || ' ' || session_user_name
    FROM biotoken.access_log WHERE event = 'prune'")"
tap_is "$prune" "1-14 $ADM" "a prune record names the range and who pruned"
v="$(as "$AUD" -c 'SELECT valid || coalesce(reason, '"''"') FROM biotoken.verify_access_log()')"
tap_is "$v" "true" "the pruned log verifies"
v="$(as "$AUD" -c 'SELECT valid || coalesce(reason, '"''"') FROM biotoken.verify_access_log(1, 5)')"
tap_is "$v" "true" "its first chunk verifies too"
tap_is "$(wc -l <"$ARCH" | tr -d ' ')" "14" "the archive holds the 14 removed rows"

# rows removed from the head any other way are still reported
bt_psql -d regress_prune -q -c 'ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only' \
    -c 'DELETE FROM biotoken.access_log WHERE id < 17' \
    -c 'ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_append_only' || tap_fail "delete"
v="$(as "$AUD" -c 'SELECT valid || $$ $$ || first_broken_id FROM biotoken.verify_access_log()')"
tap_is "$v" "false 17" "a head cut beyond the prune is reported"
v="$(as "$AUD" -c 'SELECT valid || $$ $$ || first_broken_id FROM biotoken.verify_access_log(1, 5)')"
tap_is "$v" "false 17" "also by a chunk"
v="$(as "$AUD" -c 'SELECT valid || $$ $$ || first_broken_id FROM biotoken.verify_access_log(18, 5)')"
tap_is "$v" "false 17" "also by a chunk starting after the cut"

# a broken range is evidence: not pruned
out="$(as "$ADM" -c 'SELECT biotoken.prune_access_log(25)' 2>&1 || true)"
tap_ok "a range that does not verify is not pruned" grep -q "does not verify at row 17" <<<"$out"
