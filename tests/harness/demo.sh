#!/usr/bin/env bash
#
# tests/harness/demo.sh
#	What `make demo` runs: the same set-up as `make test` (packages, build,
#	install, a throwaway server with biotoken preloaded), then
#	tests/demo/demo.sql through psql, echoing each query.  Refusals the
#	demo means to show are printed and the demo goes on; any other error
#	stops it and makes this script exit non-zero.
#
# Environment: see the top of common.sh (BT_DESTDIR, BT_SKIP_BUILD, ...).
#
set -euo pipefail

# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages || bt_die "could not install the packages the demo needs"
bt_find_bindir || bt_die "no PostgreSQL"
if [[ "${BT_SKIP_BUILD:-0}" != 1 ]]; then
    build_and_install || bt_die "build or install failed"
fi
start_server || bt_die "the demo server did not start"
createdb biotoken_demo || bt_die "createdb failed"

echo
echo "biotoken demo: a throwaway server on port $PGPORT, database biotoken_demo"

rc=0
# stderr into stdout so each error appears right after its statement.
(cd "$BT_ROOT" && psql -X -d biotoken_demo -v ON_ERROR_STOP=1 --echo-queries \
    -f tests/demo/demo.sql 2>&1) || rc=$?
if ((rc != 0)); then
    echo
    echo "demo: stopped by an unexpected error (psql exit status $rc)"
    echo "---- server log, last 40 lines ----"
    server_log_tail 40
    exit 1
fi
