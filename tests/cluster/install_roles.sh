#!/usr/bin/env bash
#
# tests/cluster/install_roles.sh
#	CREATE EXTENSION adopts an existing biotoken_admin, biotoken_auditor
#	or biotoken_matcher role only if it is a group role: NOLOGIN and
#	without SUPERUSER, CREATEROLE, REPLICATION or BYPASSRLS.  A role of
#	that name that can log in (made by someone who wants the extension's
#	privileges for it) or that is a superuser makes CREATE EXTENSION fail
#	with a hint, and nothing is installed.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 9

init_cluster || tap_bail "could not create a cluster"
start_server || tap_bail "no server"

# the error of CREATE EXTENSION (empty if it succeeded)
create_ext() {
    bt_psql -d postgres -c 'CREATE EXTENSION biotoken' 2>&1 >/dev/null || true
}
installed() {
    bt_psql -d postgres -Atc "SELECT count(*) FROM pg_extension WHERE extname = 'biotoken'"
}

bt_psql -c 'CREATE ROLE biotoken_admin LOGIN' >/dev/null
err="$(create_ext)"
tap_ok "a pre-existing LOGIN role biotoken_admin is refused" \
    grep -q 'role "biotoken_admin" already exists and is not a group role' <<<"$err"
tap_ok "the error hints at ALTER ROLE ... NOLOGIN" grep -q 'HINT:.*NOLOGIN' <<<"$err"
tap_is "$(installed)" "0" "nothing was installed"

bt_psql -c 'ALTER ROLE biotoken_admin NOLOGIN SUPERUSER' >/dev/null
err="$(create_ext)"
tap_ok "a pre-existing superuser biotoken_admin is refused" \
    grep -q 'is not a group role' <<<"$err"

bt_psql -c 'ALTER ROLE biotoken_admin NOSUPERUSER' -c 'CREATE ROLE biotoken_matcher NOLOGIN BYPASSRLS' >/dev/null
err="$(create_ext)"
tap_ok "a pre-existing BYPASSRLS biotoken_matcher is refused" \
    grep -q 'role "biotoken_matcher" already exists' <<<"$err"

bt_psql -c 'ALTER ROLE biotoken_matcher NOBYPASSRLS' >/dev/null
err="$(create_ext)"
tap_is "$err" "" "pre-existing group roles are adopted"
tap_is "$(installed)" "1" "the extension is installed"
tap_is "$(bt_psql -Atc "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'biotoken\_%' AND NOT rolcanlogin AND NOT rolsuper")" \
    "3" "the three roles exist, as group roles"

# a second database adopts the roles the first one made
bt_psql -c 'CREATE DATABASE regress_second' >/dev/null
tap_ok "a second database's CREATE EXTENSION adopts them" \
    bt_psql -d regress_second -c 'CREATE EXTENSION biotoken'
