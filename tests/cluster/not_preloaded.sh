#!/usr/bin/env bash
#
# tests/cluster/not_preloaded.sh
#	CREATE EXTENSION biotoken in a server that did not preload it fails
#	with SQLSTATE 55000 and a HINT that names shared_preload_libraries;
#	after a restart with the library preloaded it succeeds.  An
#	identification index made then, in a server that stops preloading
#	biotoken: scanning it fails with 55000, while INSERT, DROP INDEX and
#	DROP EXTENSION ... CASCADE still work.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 12

tap_ok "the server starts without biotoken preloaded" \
    start_server "shared_preload_libraries = ''"
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
tap_is "$(bt_psql -Atc 'SHOW shared_preload_libraries')" "" \
    "shared_preload_libraries is empty"

# Verbose errors carry the SQLSTATE ("ERROR:  55000: ...").
rc=0
out="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose \
    -c 'CREATE EXTENSION biotoken' 2>&1)" || rc=$?
tap_not "CREATE EXTENSION biotoken fails" test "$rc" -eq 0
tap_ok "the error has SQLSTATE 55000" grep -q -E '^ERROR: +55000:' <<<"$out"
tap_ok "a HINT names shared_preload_libraries" \
    grep -q -E '^HINT: .*shared_preload_libraries' <<<"$out"
tap_diag "$out"
tap_is "$(bt_psql -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'biotoken'")" \
    "0" "the failed CREATE EXTENSION left no extension behind"

# The same command works once the library is preloaded: the refusal above
# was about preloading, not about something else being broken.
tap_ok "the server restarts with biotoken preloaded" restart_server
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
tap_ok "CREATE EXTENSION biotoken then succeeds" \
    bt_psql -c 'CREATE EXTENSION biotoken'

# An identification index, then a server that no longer preloads biotoken.
bt_psql <<'SQL' || tap_bail "could not create the indexes"
CREATE TABLE test_people (id int, face biometric);
INSERT INTO test_people VALUES (1, array_fill(0.5::float4, ARRAY[8])), (2, NULL);
CREATE INDEX test_people_face ON test_people USING biotoken_flat (face);
CREATE INDEX test_people_face2 ON test_people USING biotoken_flat (face);
SQL
restart_server "shared_preload_libraries = ''" || tap_bail "no server"
rc=0
out="$(psql -X -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c 'SET enable_seqscan = off' \
    -c 'SELECT id FROM test_people ORDER BY face <~> array_fill(0.5::float4, ARRAY[8]) LIMIT 1' 2>&1)" || rc=$?
tap_ok "an index scan fails with SQLSTATE 55000" grep -q -E '^ERROR: +55000:' <<<"$out"
tap_diag "$out"
tap_ok "INSERT into the indexed table still works" \
    bt_psql -c 'INSERT INTO test_people VALUES (3, NULL)'
tap_ok "DROP INDEX still works" bt_psql -c 'DROP INDEX test_people_face'
tap_ok "DROP EXTENSION biotoken CASCADE still works (and drops the other index)" \
    bt_psql -c 'SET client_min_messages = warning' -c 'DROP EXTENSION biotoken CASCADE'
