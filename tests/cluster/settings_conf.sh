#!/usr/bin/env bash
#
# tests/cluster/settings_conf.sh
#	A misspelt biotoken.* line in postgresql.conf behaves as README
#	says: "biotoken" is a reserved prefix, so the line is ignored with a
#	WARNING at start (the server starts; the real setting keeps its
#	value, so a misspelt "biotoken.gaurd = off" leaves the guard on), a
#	reload logs it and applies the other lines, and pg_file_settings
#	shows it as not applied.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 7

init_cluster || tap_bail "could not create a cluster"
start_server "biotoken.gaurd = off" || tap_bail "the server did not start with a misspelt biotoken line"
tap_pass "the server starts with a misspelt biotoken.* line"
tap_ok "the start logs a WARNING naming the line" \
    server_log_has 'WARNING: +invalid configuration parameter name "biotoken.gaurd", removing it'
tap_is "$(bt_psql -Atc 'SHOW biotoken.guard')" "on" "the guard stays on"

echo "biotoken.lgo_reads = on" >>"$BT_PGDATA/postgresql.conf"
echo "work_mem = '7MB'" >>"$BT_PGDATA/postgresql.conf"
bt_psql -Atc 'SELECT pg_reload_conf()' >/dev/null
sleep 1
tap_ok "a reload logs the misspelt line" \
    server_log_has 'invalid configuration parameter name "biotoken.lgo_reads"'
tap_is "$(bt_psql -Atc 'SHOW work_mem')" "7MB" "the other lines of the file are applied"
tap_is "$(bt_psql -Atc 'SHOW biotoken.log_reads')" "off" "the real setting keeps its value"
tap_is "$(bt_psql -Atc "SELECT string_agg(name || ':' || error, ',' ORDER BY name) FROM pg_file_settings WHERE name LIKE 'biotoken.%' AND NOT applied")" \
    "biotoken.gaurd:setting could not be applied,biotoken.lgo_reads:setting could not be applied" \
    "pg_file_settings shows both lines as not applied"
