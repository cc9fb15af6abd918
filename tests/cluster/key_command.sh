#!/usr/bin/env bash
#
# tests/cluster/key_command.sh
#	biotoken.key_command supplies the keys; a command that fails, or that
#	prints no key, stops the start; key_file and key_command together are
#	refused.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 14

init_cluster || tap_bail "could not create a cluster"
keys="$BT_TMPDIR/command_keys"
# Key id 3, distinct from the harness's default key file (id 1).
hex="$(make_key_file "$keys" 0600 3)" || tap_bail "could not write a key file"
good=("biotoken.key_file = ''" "biotoken.key_command = $(bt_conf_quote "cat $keys")")

tap_ok "the server starts with key_command = 'cat <file>'" start_server "${good[@]}"
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
create_test_embedding_fn postgres || tap_bail "could not create test_embedding()"
bt_psql -c 'CREATE TABLE test_faces AS
            SELECT g AS id, biometric_enroll(test_embedding(g)) AS face
            FROM generate_series(1, 10) AS g' || tap_bail "could not enroll"
tap_is "$(bt_psql -Atc 'SELECT DISTINCT (biometric_info(face)).key_id FROM test_faces')" \
    "3" "templates are made with the key the command printed"
settings_out="$(bt_psql -c 'SELECT * FROM pg_settings')"
tap_not "the key is not in pg_settings" grep -q -i -F -e "$hex" <<<"$settings_out"

stop_server
tap_start_fails "a failing key_command stops the start" \
    "biotoken.key_file = ''" \
    "biotoken.key_command = $(bt_conf_quote "cat $BT_TMPDIR/no_such_file")"
tap_ok "the log says the key command failed" server_log_has 'biotoken.key_command failed'

tap_start_fails "a key_command that exits non-zero after printing a key stops the start" \
    "biotoken.key_file = ''" \
    "biotoken.key_command = $(bt_conf_quote "cat $keys; exit 3")"
tap_ok "the log says that command failed" server_log_has 'biotoken.key_command failed'

tap_start_fails "a key_command that prints nothing stops the start" \
    "biotoken.key_file = ''" "biotoken.key_command = 'true'"
tap_ok "the log says no keys were found" server_log_has 'no keys found'

tap_start_fails "key_file and key_command together stop the start" \
    "biotoken.key_command = $(bt_conf_quote "cat $keys")"
tap_ok "the log says they cannot both be set" server_log_has 'cannot both be set'

tap_ok "the server starts again with the working command" start_server "${good[@]}"
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_faces
                        WHERE biometric_verify(face, test_embedding(id))')" \
    "10" "templates still verify with the key from the command"

log="$(cat "$BT_LOG")"
tap_not "the key is not in the server log" grep -q -i -F -e "$hex" <<<"$log"
