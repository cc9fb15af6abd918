#!/usr/bin/env bash
#
# tests/cluster/generated_key.sh
#	With neither biotoken.key_file nor biotoken.key_command set, the first
#	start creates $PGDATA/biotoken.keys (mode 0600) and logs a WARNING; the
#	key never shows in pg_settings, the server log (even at DEBUG1 with
#	every statement logged) or a template; a restart reuses the same file,
#	so old templates still match.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 16

# The harness sets a key file by default; clear it.  Verbose logging gives
# a leak more chances to show up.
settings=("biotoken.key_file = ''" "log_min_messages = debug1"
    "log_statement = 'all'" "log_connections = on")

tap_ok "a fresh cluster without a key source starts" start_server "${settings[@]}"
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
keyfile="$BT_PGDATA/biotoken.keys"
tap_ok "the server created \$PGDATA/biotoken.keys" test -f "$keyfile"
tap_is "$(stat -c %a "$keyfile" 2>/dev/null)" "600" "the key file has mode 0600"
tap_is "$(stat -c %U "$keyfile" 2>/dev/null)" "postgres" "the key file belongs to the server's user"
tap_ok "the log has a WARNING about the generated key file" \
    server_log_has 'WARNING: .*generated a new key file'

# Key lines are "<id> <64 hex digits>"; '#' lines are comments.
hex="$(awk '!/^#/ && NF == 2 { print $2; exit }' "$keyfile")"
tap_ok "the key file holds a 64-hex-digit key" grep -q -E '^[0-9a-f]{64}$' <<<"$hex"
if [[ ! "$hex" =~ ^[0-9a-f]{64}$ ]]; then
    tap_bail "no key to look for"
fi
key_before="$(cat "$keyfile")"

bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
create_test_embedding_fn postgres || tap_bail "could not create test_embedding()"
bt_psql -c 'CREATE TABLE test_faces AS
            SELECT g AS id, biometric_enroll(test_embedding(g)) AS face
            FROM generate_series(1, 20) AS g' || tap_bail "could not enroll"

# The whole key, and each half of it, so a partial leak shows too.
leaks() {
    local text="$1"
    grep -q -i -F -e "$hex" -e "${hex:0:32}" -e "${hex:32:32}" <<<"$text"
}

settings_out="$(bt_psql -c 'SELECT * FROM pg_settings' -c 'SHOW ALL')"
tap_ok "pg_settings was read" grep -q 'biotoken.key_file' <<<"$settings_out"
tap_not "the key is not in pg_settings or SHOW ALL" leaks "$settings_out"

texts="$(bt_psql -Atc 'SELECT face::text FROM test_faces')"
tap_ok "templates print in bt1 text form" grep -q '^bt1:' <<<"$texts"
tap_not "the key is not in the text form of a template" leaks "$texts"
binary="$(bt_psql -Atc "SELECT encode(biometric_send(face), 'hex') FROM test_faces")"
tap_not "the key is not in the binary form of a template" leaks "$binary"

tap_ok "the server restarts" restart_server "${settings[@]}"
if ((!BT_RUNNING)); then
    tap_bail "no server"
fi
tap_is "$(cat "$keyfile")" "$key_before" "the restart kept the key file as it was"
tap_ok "the restart logs that the key file is still in the data directory" \
    server_log_has 'WARNING: .*using the key file'
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_faces
                        WHERE biometric_verify(face, test_embedding(id))')" \
    "20" "templates made before the restart still verify"

log="$(cat "$BT_LOG")"
tap_not "the key is not in the server log" leaks "$log"
