#!/usr/bin/env bash
#
# tests/cluster/key_file_perms.sh
#	biotoken.key_file is refused when group or others can access it (the
#	server does not start, and the log says why), and used when it is
#	0600.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 9

init_cluster || tap_bail "could not create a cluster"
keys="$BT_TMPDIR/perm_keys"
# Key id 7, so the last test can tell that this file, not another key
# source, was used.
hex="$(make_key_file "$keys" 0640 7)" || tap_bail "could not write a key file"
conf="biotoken.key_file = $(bt_conf_quote "$keys")"

tap_start_fails "a 0640 key file stops the server from starting" "$conf"
tap_ok "the log says the key file has group or world access" \
    server_log_has 'biotoken key file ".*perm_keys" has group or world access'
tap_ok "the log hints at chmod 600" server_log_has 'HINT: .*chmod 600'

chmod 0604 "$keys"
tap_start_fails "a 0604 key file stops the server from starting" "$conf"
tap_ok "the log says the 0604 key file has group or world access" \
    server_log_has 'has group or world access'

chmod 0600 "$keys"
tap_ok "a 0600 key file lets the server start" start_server "$conf"
if ((!BT_RUNNING)); then
    tap_bail "the server did not start with a 0600 key file"
fi
tap_is "$(bt_psql -Atc 'SELECT 1')" "1" "the server answers queries"

key_id="$(bt_psql -At <<'SQL'
CREATE EXTENSION biotoken;
SELECT (biometric_info(biometric_enroll(array_fill(0.5::float4, ARRAY[128])))).key_id;
SQL
)" || key_id="(query failed)"
tap_is "$key_id" "7" "templates are made with the key from the file"

log="$(cat "$BT_LOG")"
tap_not "the key does not appear in the server log" grep -q -i -F -e "$hex" <<<"$log"
