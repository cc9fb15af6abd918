#!/usr/bin/env bash
#
# tests/cluster/key_rotation.sh
#	Key rotation: templates record their key ids; after a new key is
#	added, new templates use it, old ones still match, and
#	biometric_rekey() moves an old template to the newest mask key
#	without the raw embedding and without changing any distance.
#	Removing a key that templates still use makes them unreadable with a
#	clear error, not garbage.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 11

init_cluster || tap_bail "could not create a cluster"
keys="$BT_TMPDIR/rotation_keys"
make_key_file "$keys" 0600 1 >/dev/null || tap_bail "could not write a key file"
conf=("biotoken.key_file = $(bt_conf_quote "$keys")")

tap_ok "the server starts with key 1" start_server "${conf[@]}"
((BT_RUNNING)) || tap_bail "no server"
bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
create_test_embedding_fn postgres || tap_bail "could not create test_embedding()"
bt_psql -c 'CREATE TABLE test_faces AS
            SELECT g AS id, biometric_enroll(test_embedding(g)) AS face
            FROM generate_series(1, 20) AS g' || tap_bail "could not enroll"
bt_psql -c 'CREATE TABLE test_text AS SELECT id, face::text AS t FROM test_faces' \
    || tap_bail "could not save the text forms"

# Add key 2 (the newest) and restart.
stop_server
key2="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
printf '2 %s\n' "$key2" >>"$keys"
tap_ok "the server starts with keys 1 and 2" start_server "${conf[@]}"
((BT_RUNNING)) || tap_bail "no server"

tap_is "$(bt_psql -Atc 'SELECT DISTINCT (biometric_info(face)).key_id FROM test_faces')" \
    "1" "old templates keep key id 1"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_faces WHERE biometric_verify(face, test_embedding(id))')" \
    "20" "old templates still match under their own key"
tap_is "$(bt_psql -Atc 'SELECT (biometric_info(biometric_enroll(test_embedding(1)))).key_id')" \
    "2" "new templates use the newest key"

bt_psql -c 'CREATE TABLE test_rekeyed AS SELECT id, biometric_rekey(face) AS face FROM test_faces' \
    || tap_bail "rekey failed"
tap_is "$(bt_psql -Atc 'SELECT DISTINCT (biometric_info(face)).key_id FROM test_rekeyed')" \
    "2" "rekeyed templates use key id 2"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_faces a JOIN test_rekeyed b USING (id)
                        WHERE biometric_distance(a.face, test_embedding(id % 20 + 1))
                            = biometric_distance(b.face, test_embedding(id % 20 + 1))
                          AND a.face::text <> b.face::text')" \
    "20" "rekey changes the stored bits but no distance"
tap_is "$(bt_psql -Atc 'SELECT count(*) FROM test_rekeyed WHERE biometric_verify(face, test_embedding(id))')" \
    "20" "rekeyed templates match"

# Retire key 1: rekeyed templates still need it for their projection.
stop_server
printf '2 %s\n' "$key2" >"$keys"
tap_ok "the server starts with key 2 only" start_server "${conf[@]}"
((BT_RUNNING)) || tap_bail "no server"
out="$(bt_psql -Atc 'SELECT t::biometric FROM test_text LIMIT 1' 2>&1 || true)"
tap_ok "a template of a missing key is refused with a clear error" \
    grep -q 'uses key id 1, which is not loaded' <<<"$out"
out="$(bt_psql -Atc 'SELECT biometric_verify(face, test_embedding(id)) FROM test_rekeyed LIMIT 1' 2>&1 || true)"
tap_ok "a rekeyed template still needs its projection key" \
    grep -q 'projected with key id 1, which is not loaded' <<<"$out"
