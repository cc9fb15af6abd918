#!/usr/bin/env bash
#
# tests/cluster/key_file_owner.sh
#	The most common first-install mistake: a key file made by root (mode
#	0600, so the permission check passes) that the server's OS user cannot
#	read.  The start fails, and the log says why and how to fix it.
#	Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

if ((EUID != 0)); then
    tap_plan 0
    echo "# skipped: needs root to make a file the server cannot read"
    exit 0
fi
tap_plan 5

init_cluster || tap_bail "could not create a cluster"
keys="$BT_TMPDIR/root_keys"
make_key_file "$keys" 0600 3 >/dev/null || tap_bail "could not write a key file"
chown root:root "$keys"
conf="biotoken.key_file = $(bt_conf_quote "$keys")"

tap_start_fails "a key file the server cannot read stops the start" "$conf"
tap_ok "the log says the key file could not be opened" \
    server_log_has 'could not open biotoken key file ".*root_keys": Permission denied'
tap_ok "the log hints at the file's owner" server_log_has 'HINT: .*chown postgres'

chown postgres:postgres "$keys"
tap_ok "once the server's user owns it, the server starts" start_server "$conf"
((BT_RUNNING)) || tap_bail "the server did not start"
tap_is "$(bt_psql -Atc 'CREATE EXTENSION biotoken' \
    -c 'SELECT (biometric_info(biometric_enroll(array_fill(0.5::float4, ARRAY[8])))).key_id')" \
    "3" "templates are made with that file's key"
