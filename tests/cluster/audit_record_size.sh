#!/usr/bin/env bash
#
# tests/cluster/audit_record_size.sh
#	A refusal whose record would not fit the access-log queue (a table
#	with a thousand long classified column names, which any table owner
#	can make) is still refused with 42501 and recorded: the column list
#	is cut, the categories kept, and detail says how many columns were
#	left out of how many.  Run as an ordinary table owner.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 6

tap_ok "the server starts" start_server
((BT_RUNNING)) || tap_bail "no server"
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE EXTENSION biotoken;
CREATE ROLE regress_biotoken_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_biotoken_owner;
SQL

# 999 biometric columns (by type) with 60-character names, one identity
bt_psql -U regress_biotoken_owner <<'SQL' || tap_bail "could not create the table"
DO $$
BEGIN
  EXECUTE 'CREATE TABLE test_wide (national_id text, '
    || (SELECT string_agg(format('%I biometric', 'face_' || lpad(i::text, 55, 'x')), ', ')
          FROM generate_series(1, 999) i)
    || ')';
END $$;
SECURITY LABEL FOR biotoken ON COLUMN test_wide.national_id IS 'identity';
SQL

out="$(bt_psql -U regress_biotoken_owner -c "SELECT * FROM test_wide" 2>&1 || true)"
tap_ok "the statement is refused by the guard" \
    grep -q 'cannot combine biometric data with identity data' <<<"$out"
tap_not "not with a record-size error" grep -q 'too large' <<<"$out"
row="$(bt_psql -Atc "SELECT categories, cardinality(columns) < 1000,
                            cardinality(columns) + (detail->>'columns_omitted')::int,
                            detail->>'columns_total'
                       FROM biotoken.access_log
                      WHERE event = 'refused' AND statement = 'SELECT * FROM test_wide'")"
tap_is "$row" "{biometric,identity}|t|1000|1000" \
    "the refusal is recorded with a cut column list, its categories and the counts"
tap_ok "the server log has the record" \
    server_log_has 'biotoken: access_log id=[0-9]+ .*event=refused .*statement="SELECT \* FROM test_wide"'
tap_ok "the access log verifies" \
    test "$(bt_psql -Atc 'SELECT valid FROM biotoken.verify_access_log()')" = t
