#!/usr/bin/env bash
#
# tests/cluster/guard_server_log.sh
#	Literals of a refused statement (an ID number, an embedding) never
#	reach the server log, although PostgreSQL logs the text of failing
#	statements by default (log_min_error_statement = error); the log does
#	get biotoken's one-line record of the refusal.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 6

tap_ok "the server starts" start_server "log_min_error_statement = error"
((BT_RUNNING)) || tap_bail "no server"
bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE TABLE test_people (id int PRIMARY KEY, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN test_people.national_id IS 'identity';
INSERT INTO test_people VALUES (1, '11010519491231002X', '{0.25,0.5,0.75,0.125}'::float4[]);
SQL

out="$(bt_psql -c "SELECT face FROM test_people WHERE national_id = '11010519491231002X'" 2>&1 || true)"
tap_ok "a combining statement with an ID number literal is refused" \
    grep -q 'cannot combine biometric data with identity data' <<<"$out"
out="$(bt_psql -c "SELECT national_id FROM test_people
                   WHERE biometric_verify(face, '{0.3125,0.4375,0.8125,0.0625}')" 2>&1 || true)"
tap_ok "a combining statement with an embedding literal is refused" \
    grep -q 'cannot combine biometric data with identity data' <<<"$out"

log="$(server_log_since_start)"
tap_not "the ID number is not in the server log" grep -q -F '11010519491231002X' <<<"$log"
tap_not "the embedding is not in the server log" grep -q -F '0.3125,0.4375' <<<"$log"
tap_ok "the server log has biotoken's record of the refusal" \
    grep -q -E 'biotoken: .*refused' <<<"$log"
