#!/usr/bin/env bash
#
# tests/cluster/meta_version.sh
#	The version lives in one place, the control file's default_version:
#	META.json, the install script and the library must agree with it.
#	Needs no server.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 4

control="$BT_ROOT/extension/biotoken.control"
version="$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$control")"
tap_ok "the control file names a default_version" test -n "$version"

# PGXN wants three-part semantic versions: 1.0 is 1.0.0.
semver="$version"
while [[ "$(tr -cd . <<<"$semver" | wc -c)" -lt 2 ]]; do
    semver="$semver.0"
done
meta_version="$(sed -n 's/^   "version" *: *"\(.*\)",*$/\1/p' "$BT_ROOT/META.json")"
tap_is "$meta_version" "$semver" "META.json's version matches the control file"
provides_version="$(tr -d '\n ' <"$BT_ROOT/META.json" |
    sed -n 's/.*"provides":{"biotoken":{[^}]*"version":"\([^"]*\)".*/\1/p')"
tap_is "$provides_version" "$semver" "META.json's provided extension version matches"
tap_ok "an install script exists for the default version" \
    test -f "$BT_ROOT/extension/biotoken--$version.sql"
