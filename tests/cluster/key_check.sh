#!/usr/bin/env bash
#
# tests/cluster/key_check.sh
#	Keys are recognised, not guessed: a database records a check value
#	per key id at first use; a server restarted with a different key under
#	the same id refuses to match (or enroll) with "key id N does not match
#	the key that made these templates", instead of silently finding no
#	match; so does a restore onto a server with another key under that
#	id.  The right key works again.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 10

init_cluster || tap_bail "could not create a cluster"
start_server || tap_bail "no server"
bt_psql -c 'CREATE EXTENSION biotoken' >/dev/null || tap_bail "CREATE EXTENSION failed"
create_test_embedding_fn postgres || tap_bail "could not create test_embedding()"
bt_psql -c 'CREATE TABLE test_faces (id int, face biometric)' \
    -c 'INSERT INTO test_faces SELECT g, test_embedding(g) FROM generate_series(1, 5) g' >/dev/null ||
    tap_bail "could not enroll"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM biotoken.key_checks WHERE key_id = 1')" "1" \
    "the first use of key id 1 recorded its check value"
# an access log signed with key id 1, in a database of its own
bt_psql -c 'CREATE DATABASE test_log' >/dev/null || tap_bail "could not create test_log"
bt_psql -d test_log -c 'CREATE EXTENSION biotoken' -c 'CREATE TABLE test_ids (nid text)' \
    -c "SECURITY LABEL FOR biotoken ON COLUMN test_ids.nid IS 'identity'" >/dev/null ||
    tap_bail "could not write a log row"
tap_is "$(bt_psql -d test_log -Atc 'SELECT valid FROM biotoken.verify_access_log()')" "t" \
    "the log verifies with its own key"
dump="$BT_TMPDIR/faces.dump"
pg_dump -Fc -f "$dump" postgres || tap_bail "pg_dump failed"

# the same id, another key
other="$BT_TMPDIR/other_keys"
make_key_file "$other" 0600 1 >/dev/null || tap_bail "could not write a key file"
restart_server "biotoken.key_file = $(bt_conf_quote "$other")" || tap_bail "no restart"
out="$(bt_psql -Atc 'SELECT count(*) FROM test_faces WHERE biometric_verify(face, test_embedding(id))' 2>&1 || true)"
tap_ok "verify with another key under id 1 is refused" \
    grep -q 'key id 1 does not match the key that made these templates' <<<"$out"
out="$(bt_psql -Atc "SELECT biometric_enroll('{1,2,3,4}') IS NOT NULL" 2>&1 || true)"
tap_ok "so is enrollment with it" grep -q 'does not match the key' <<<"$out"
out="$(bt_psql -d test_log -Atc 'SELECT valid, reason FROM biotoken.verify_access_log()' 2>&1 || true)"
tap_ok "verify_access_log with another key under id 1 says so, not that rows were forged" \
    grep -q 'key id 1 does not match the key' <<<"$out"

# a restore onto that server: the check values travel with the dump
bt_psql -c 'CREATE DATABASE test_restored' >/dev/null
pg_restore -d test_restored "$dump" >/dev/null 2>&1 || true
create_test_embedding_fn test_restored >/dev/null 2>&1 || true
out="$(bt_psql -d test_restored -Atc 'SELECT count(*) FROM test_faces WHERE biometric_verify(face, test_embedding(id))' 2>&1 || true)"
tap_ok "a restore onto a server with another key under id 1 is refused too" \
    grep -q 'key id 1 does not match' <<<"$out"

# the right key again
restart_server || tap_bail "no restart"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_faces WHERE biometric_verify(face, test_embedding(id))')" \
    "5" "with the right key every template matches again"
tap_is "$(bt_psql -d test_restored -Atc 'SELECT count(*) FROM test_faces WHERE biometric_verify(face, test_embedding(id))')" \
    "5" "and in the restored database"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM biotoken.key_checks')" "1" \
    "one check value per key id"
# Not any 64 hex digits: the access log's server-log lines carry row
# hashes.  The secrets themselves: both keys and the stored check values.
secrets="$(cut -d' ' -f2 "$BT_KEY_FILE" "$other";
    bt_psql -d postgres -Atc "SELECT encode(check_value, 'hex') FROM biotoken.key_checks";
    bt_psql -d test_log -Atc "SELECT encode(check_value, 'hex') FROM biotoken.key_checks")"
leaked=0
while IFS= read -r x; do
    [[ -n "$x" ]] && grep -qiF -e "$x" "$BT_LOG" && leaked=1
done <<<"$secrets"
tap_is "$leaked" "0" "no check value or key reaches the server log"
