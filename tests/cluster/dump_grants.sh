#!/usr/bin/env bash
#
# tests/cluster/dump_grants.sh
#	pg_dump carries no live power: an audit grant in force in the dumped
#	database is not in force (nor present) in the restored one, which has
#	no grant record for it in its log; a grant made afterwards gets a new
#	id.  What a dump does carry (profiles, labels, lineage) comes back.
#	Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 7

start_server || tap_bail "the server did not start"
createdb test_src || tap_bail "createdb failed"
bt_psql -d test_src <<'SQL' >/dev/null || tap_bail "set-up failed"
CREATE EXTENSION biotoken;
CREATE ROLE test_admin1 IN ROLE biotoken_admin;
CREATE ROLE test_analyst;
CREATE TABLE test_faces (person_id int, face biometric);
CREATE TABLE test_ids (person_id int, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN test_ids.national_id IS 'identity';
GRANT SELECT ON test_faces, test_ids TO test_analyst;
SET SESSION AUTHORIZATION test_admin1;
SELECT biotoken.grant_audit('test_analyst', 'case 17', '2 hours');
SELECT biotoken.register_model('test_model', 4, '{0.1,0.1,0.1,0.1}');
RESET SESSION AUTHORIZATION;
SQL
combine="SET SESSION AUTHORIZATION test_analyst; SELECT count(f.face) FROM test_faces f JOIN test_ids i USING (person_id) WHERE i.national_id = 'A1'"
combine_in() {
    bt_psql -d "$1" -c "$combine" >/dev/null 2>&1
}
tap_ok "the grant is in force in the source database" combine_in test_src

dump="$BT_TMPDIR/test_src.dump"
pg_dump -Fc -d test_src -f "$dump" || tap_bail "pg_dump failed"
createdb test_dst || tap_bail "createdb failed"
tap_ok "pg_restore succeeds" pg_restore --exit-on-error -d test_dst "$dump"

tap_is "$(bt_psql -d test_dst -Atc 'SELECT count(*) FROM biotoken.audit_grants')" "0" \
    "no grant row was restored"
tap_not "the grant is not in force in the restored database" combine_in test_dst
tap_is "$(bt_psql -d test_dst -Atc "SET SESSION AUTHORIZATION test_admin1; SELECT biotoken.grant_audit('test_analyst', 'case 18') > 1")" \
    "t" "a new grant gets a new id"
tap_is "$(bt_psql -d test_dst -Atc "SELECT name FROM biotoken.model_profiles")" "test_model" \
    "model profiles are restored"
tap_is "$(bt_psql -d test_dst -Atc "SELECT category FROM biotoken.classified_columns WHERE column_name = 'national_id'")" \
    "identity" "labels are restored"
