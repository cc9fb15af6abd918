#!/usr/bin/env bash
#
# tests/cluster/audit_read_lines.sh
#	biotoken.server_log_reads (issue #11, "server-log lines"): off, a
#	'read' record goes to the access log but writes no server-log line,
#	while every other event keeps its line; on (the default), reads have
#	their lines again.  Only a superuser may change it.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 6

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server "biotoken.log_reads = on" "biotoken.server_log_reads = off" || tap_bail "no server"
bt_psql -q -c 'CREATE DATABASE regress_lines' -c 'CREATE ROLE regress_biotoken_app LOGIN' \
    || tap_bail "no database"
audit_probe_install regress_lines >/dev/null || tap_bail "could not install the probe"

bt_psql -d regress_lines -Atc "SELECT audit_probe_read('{public.t.face_off}')" >/dev/null \
    || tap_fail "read record"
bt_psql -d regress_lines -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"line\": \"kept\"}')" >/dev/null \
    || tap_fail "label record"
n="$(bt_psql -d regress_lines -Atc "SELECT count(*) FROM biotoken.access_log
    WHERE event = 'read' AND columns = '{public.t.face_off}'")"
tap_is "$n" "1" "the read record is in the access log"
tap_not "with server_log_reads off, it has no server-log line" \
    server_log_has "event=read .*public.t.face_off"
tap_ok "other events keep their server-log line" server_log_has 'event=label .*"line":"kept"|event=label .*kept'

bt_psql -d regress_lines -Atc "SET biotoken.server_log_reads = on" \
    -c "SELECT audit_probe_read('{public.t.face_on}')" >/dev/null || tap_fail "read record"
tap_ok "with server_log_reads on, a read has its line" server_log_has "event=read .*public.t.face_on"
out="$(psql -X -q -U regress_biotoken_app -d regress_lines -c 'SET biotoken.server_log_reads = on' 2>&1 || true)"
tap_ok "an ordinary role cannot change it" grep -q "permission denied to set parameter" <<<"$out"
tap_is "$(bt_psql -Atc 'SHOW biotoken.server_log_reads')" "off" "the server's value is off"
