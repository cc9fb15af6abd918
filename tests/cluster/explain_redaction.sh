#!/usr/bin/env bash
#
# tests/cluster/explain_redaction.sh
#	auto_explain writes the plans of custom-planned prepared statements to
#	the server log; a probe bound to a parameter is folded into such a
#	plan as a constant.  biotoken shows it as a redacted constant: no
#	embedding reaches the server log through a plan, in a filter, an index
#	scan's ORDER BY, a sort key or a target list.  Run as an application
#	role and a matcher.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 7

tap_ok "the server starts with auto_explain" start_server \
    "session_preload_libraries = 'auto_explain'" \
    "auto_explain.log_min_duration = 0" \
    "auto_explain.log_verbose = on"
((BT_RUNNING)) || tap_bail "no server"
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE EXTENSION biotoken;
CREATE ROLE regress_biotoken_app LOGIN;
CREATE ROLE regress_biotoken_match LOGIN IN ROLE biotoken_matcher;
CREATE TABLE test_faces (id int PRIMARY KEY, face biometric);
INSERT INTO test_faces
  SELECT i, array[sin(i), cos(i), sin(2 * i), cos(3 * i)]::float4[]
    FROM generate_series(1, 50) i;
CREATE INDEX test_faces_flat ON test_faces USING biotoken_flat (face);
GRANT SELECT ON test_faces TO regress_biotoken_app, regress_biotoken_match;
SQL

out="$(bt_psql -U regress_biotoken_app 2>&1 <<'SQL'
PREPARE p(real[]) AS SELECT id FROM test_faces WHERE biometric_verify(face, $1);
EXECUTE p('{0.4375,0.5625,0.6875,0.8125}');
SQL
)"
tap_ok "the application's prepared verify ran" grep -q 'rows)' <<<"$out"
out="$(bt_psql -U regress_biotoken_match 2>&1 <<'SQL'
PREPARE q(real[]) AS SELECT id, face <~> $1 AS d FROM test_faces ORDER BY face <~> $1 LIMIT 3;
SET enable_seqscan = off;
EXECUTE q('{0.4475,0.5725,0.6975,0.8225}');
RESET enable_seqscan;
SET enable_indexscan = off;
EXECUTE q('{0.4575,0.5825,0.7075,0.8325}');
SQL
)"
tap_ok "the matcher's prepared identification ran" grep -q '(3 rows)' <<<"$out"

log="$(server_log_since_start)"
tap_ok "auto_explain logged the plans" grep -q -F "'redacted'::biotoken.redacted_probe" <<<"$log"
tap_ok "an index scan's ORDER BY shows the redacted probe" \
    grep -q -E "Order By: .*'redacted'::biotoken.redacted_probe" <<<"$log"
tap_not "no probe of a verify in the server log" grep -q -F '0.4375' <<<"$log"
tap_not "no probe of an ORDER BY in the server log" grep -q -E '0\.4475|0\.4575' <<<"$log"
