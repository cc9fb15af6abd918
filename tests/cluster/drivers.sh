#!/usr/bin/env bash
#
# tests/cluster/drivers.sh
#	biotoken through real client drivers, not psql: psycopg 3 (Debian's
#	python3-psycopg) and node-postgres (pg from npm, installed into
#	tests/drivers/node_modules on first use).  Enroll and verify with bind
#	parameters, identify with a bound probe, binary COPY of templates, and
#	the guard's 42501 with its DETAIL and HINT in the driver's exception.
#	Runs as an application role and a matcher, never as a superuser.
#	Prints TAP: the drivers' own assertions, renumbered.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

PY_TESTS=14
NODE_TESTS=8
tap_plan $((2 + PY_TESTS + NODE_TESTS))

DRIVERS="$BT_ROOT/tests/drivers"

tap_ok "the server starts" start_server
((BT_RUNNING)) || tap_bail "no server"
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE EXTENSION biotoken;
CREATE ROLE regress_biotoken_drv_app LOGIN;
CREATE ROLE regress_biotoken_drv_matcher LOGIN IN ROLE biotoken_matcher;
CREATE SCHEMA drv;
GRANT USAGE ON SCHEMA drv TO regress_biotoken_drv_app, regress_biotoken_drv_matcher;
CREATE TABLE drv.people (id int PRIMARY KEY, national_id text, face biometric(256));
SECURITY LABEL FOR biotoken ON COLUMN drv.people.national_id IS 'identity';
CREATE TABLE drv.copies (id int PRIMARY KEY, face biometric(256));
CREATE VIEW drv.faces AS SELECT id, face FROM drv.people;
GRANT SELECT, INSERT ON drv.people, drv.copies TO regress_biotoken_drv_app;
GRANT SELECT ON drv.faces TO regress_biotoken_drv_matcher;
SQL
export BT_APP_ROLE=regress_biotoken_drv_app BT_MATCHER_ROLE=regress_biotoken_drv_matcher
export PGDATABASE=postgres

# Run one driver's TAP script and pass its assertions on under our numbers;
# a script that dies early fails the assertions it did not run.
relay() {
    local want="$1" out line got=0
    shift
    out="$("$@" 2>&1)" || true
    while IFS= read -r line; do
        case "$line" in
        "ok "*)
            got=$((got + 1))
            tap_pass "${line#ok * - }"
            ;;
        "not ok "*)
            got=$((got + 1))
            tap_fail "${line#not ok * - }"
            ;;
        "#"*) printf '%s\n' "$line" ;;
        "1.."*) ;;
        *) [[ -n "$line" ]] && tap_diag "$line" ;;
        esac
    done <<<"$out"
    while ((got < want)); do
        got=$((got + 1))
        tap_fail "driver assertion $got did not run"
    done
}

if /usr/bin/python3 -c 'import psycopg' 2>/dev/null; then
    relay "$PY_TESTS" /usr/bin/python3 "$DRIVERS/psycopg_test.py"
else
    relay "$PY_TESTS" false
    tap_diag "python3-psycopg is not installed"
fi

if [[ ! -d "$DRIVERS/node_modules/pg" ]]; then
    (cd "$DRIVERS" && timeout 300 npm install --no-audit --no-fund --no-package-lock \
        >/dev/null 2>&1) || true
fi
if [[ -d "$DRIVERS/node_modules/pg" ]]; then
    tap_pass "node-postgres is installed"
    relay "$NODE_TESTS" node "$DRIVERS/node_pg_test.js"
else
    tap_fail "node-postgres is installed" "npm install in tests/drivers failed"
    relay "$NODE_TESTS" false
fi
