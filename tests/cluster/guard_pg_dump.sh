#!/usr/bin/env bash
#
# tests/cluster/guard_pg_dump.sh
#	pg_dump and the guard: tables that hold one category dump as usual; a
#	table that keeps faces next to ID numbers is refused (pg_dump reads it
#	with COPY table TO, which the guard judges like a SELECT of every
#	column), until a member of biotoken_admin gives the backup role an
#	audit grant on it; the dump then restores (writing is not reading).
#	Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 7

start_server || tap_bail "the server did not start"
createdb test_guard_src || tap_bail "createdb failed"
bt_psql -d test_guard_src <<'SQL' || tap_bail "could not set up"
CREATE EXTENSION biotoken;
CREATE TABLE dp_faces (id int PRIMARY KEY, face biometric);
CREATE TABLE dp_ids (id int PRIMARY KEY, national_id text);
SECURITY LABEL FOR biotoken ON COLUMN dp_ids.national_id IS 'identity';
CREATE TABLE dp_people (id int PRIMARY KEY, national_id text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN dp_people.national_id IS 'identity';
INSERT INTO dp_faces SELECT g, array_fill(g::float4, ARRAY[16]) FROM generate_series(1, 10) g;
INSERT INTO dp_ids SELECT g, 'N' || g FROM generate_series(1, 10) g;
INSERT INTO dp_people SELECT g, 'N' || g, array_fill(g::float4, ARRAY[16]) FROM generate_series(1, 10) g;
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_biotoken_backup') THEN
		CREATE ROLE regress_biotoken_backup LOGIN IN ROLE pg_read_all_data;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_biotoken_dadmin') THEN
		CREATE ROLE regress_biotoken_dadmin IN ROLE biotoken_admin;
	END IF;
END
$$;
SQL

out="$BT_TMPDIR/guard_dump.out"
tap_ok "pg_dump of the one-category tables succeeds" \
    pg_dump -d test_guard_src -t dp_faces -t dp_ids -f "$BT_TMPDIR/one.sql"

if pg_dump -d test_guard_src -t dp_people -f "$BT_TMPDIR/mixed.sql" 2>"$out"; then
    tap_fail "pg_dump of the mixed table is refused" "pg_dump succeeded"
else
    tap_pass "pg_dump of the mixed table is refused"
fi
tap_ok "with the guard's message" grep -q "cannot combine biometric data with identity data" "$out"
if pg_dump -d test_guard_src -f "$BT_TMPDIR/all.sql" 2>/dev/null; then
    tap_fail "a whole-database pg_dump is refused too" "pg_dump succeeded"
else
    tap_pass "a whole-database pg_dump is refused too"
fi

bt_psql -d test_guard_src -o /dev/null <<'SQL' || tap_bail "could not grant"
SET SESSION AUTHORIZATION regress_biotoken_dadmin;
SELECT biotoken.grant_audit('regress_biotoken_backup', 'nightly backup (test)', '10 minutes',
                            ARRAY['dp_people']::regclass[]);
SQL
tap_ok "with an audit grant, the backup role dumps the mixed table" \
    pg_dump -U regress_biotoken_backup -d test_guard_src -Fc -f "$BT_TMPDIR/mixed.dump"

createdb test_guard_dst || tap_bail "createdb failed"
bt_psql -d test_guard_dst -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
tap_ok "the dump restores (COPY FROM writes, it does not read)" \
    pg_restore --exit-on-error -d test_guard_dst "$BT_TMPDIR/mixed.dump"
tap_is "$(bt_psql -d test_guard_dst -Atc 'SELECT count(*) FROM dp_people')" "10" \
    "the restored table has its 10 rows"
