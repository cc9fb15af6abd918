#!/usr/bin/env bash
#
# tests/cluster/keys_hardening.sh
#	Keys: a key_command that hangs stops the start after
#	biotoken.key_command_timeout instead of hanging the postmaster; a
#	generated key gets a random id (not 1), so templates moved between
#	two servers with generated keys fail as "not loaded" instead of
#	silently not matching; the sub-keys sit in memory excluded from core
#	dumps (MADV_DONTDUMP: "dd" in /proc/PID/smaps).  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 7

init_cluster || tap_bail "could not create a cluster"

t0=$(date +%s)
tap_start_fails "a key_command that hangs stops the start" \
    "biotoken.key_file = ''" "biotoken.key_command = 'sleep 60'" \
    "biotoken.key_command_timeout = 2"
t1=$(date +%s)
tap_ok "the start gave up well before the command would have ended" test $((t1 - t0)) -lt 40
tap_ok "the log says the key command did not finish in time" \
    server_log_has 'biotoken.key_command did not finish within 2 s'

# no key source: the server generates a key file, with a random id
tap_ok "a fresh cluster without a key source starts" \
    start_server "biotoken.key_file = ''"
keyid="$(grep -v '^#' "$BT_PGDATA/biotoken.keys" | awk 'NF == 2 { print $1 }')"
tap_ok "the generated key has a random id in 1024..32767 (got $keyid)" \
    test "$keyid" -ge 1024 -a "$keyid" -le 32767
bt_psql -c 'CREATE EXTENSION biotoken' >/dev/null || tap_bail "CREATE EXTENSION failed"
tap_is "$(bt_psql -Atc "SELECT (biometric_info(biometric_enroll('{1,2,3,4}'))).key_id")" \
    "$keyid" "new templates use the generated key's id"

# the sub-keys: anonymous pages marked "dd" (do not dump) in the postmaster
pm="$(head -n 1 "$BT_PGDATA/postmaster.pid")"
tap_ok "the postmaster holds an anonymous mapping excluded from core dumps" \
    awk '/^[0-9a-f]+-[0-9a-f]+ / { anon = (NF == 5) } /^VmFlags:/ { if (anon && / dd/) found = 1 } END { exit !found }' \
    "/proc/$pm/smaps"
