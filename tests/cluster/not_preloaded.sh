#!/usr/bin/env bash
#
# tests/cluster/not_preloaded.sh
#	CREATE EXTENSION biotoken in a server that did not preload it fails
#	with SQLSTATE 55000 and a HINT that names shared_preload_libraries;
#	after a restart with the library preloaded it succeeds.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 8

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
