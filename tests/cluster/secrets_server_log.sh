#!/usr/bin/env bash
#
# tests/cluster/secrets_server_log.sh
#	No ID number, embedding or stored value reaches the access log or the
#	server log through biotoken's own output or PostgreSQL's around it,
#	with log_min_error_statement = error, everything run as ordinary
#	roles (an application role and a biotoken_admin member):
#	  - the normalized statement is right whichever
#	    standard_conforming_strings the statement was parsed under (a
#	    multi-statement string that changes it, both directions, and a
#	    function with SET standard_conforming_strings);
#	  - every biotoken error hides the statement (STATEMENT line) and the
#	    CONTEXT lines (PL/pgSQL, dynamic SQL) from the server log;
#	  - one access-log record is one server-log line, whatever the column
#	    names hold;
#	  - PostgreSQL's constraint errors ("Failing row contains", "Key
#	    (...)=(...)") show no stored value of a relation with classified
#	    columns (or of one a foreign key references), to the client, the
#	    server log, GET STACKED DIAGNOSTICS or a re-raise in a procedure,
#	    and leave no 'refused' record.
#	Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 43

tap_ok "the server starts" start_server "log_min_error_statement = error"
((BT_RUNNING)) || tap_bail "no server"
bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE ROLE regress_biotoken_app LOGIN;
CREATE ROLE regress_biotoken_dba LOGIN IN ROLE biotoken_admin;
CREATE TABLE test_people (id int PRIMARY KEY, national_id text UNIQUE,
                          face biometric, age int CHECK (age >= 0));
SECURITY LABEL FOR biotoken ON COLUMN test_people.national_id IS 'identity';
INSERT INTO test_people VALUES
  (1, '11010519491231002X', '{0.25,0.5,0.75,0.125}'::float4[], 40),
  (2, '11010519491231003X', '{0.5,0.25,0.125,0.75}'::float4[], 41);
CREATE TABLE test_plain (id int PRIMARY KEY, note text CHECK (note <> 'bad'));
INSERT INTO test_plain VALUES (1, 'plain-value-1');
GRANT SELECT, INSERT, UPDATE ON test_people, test_plain TO regress_biotoken_app;
GRANT CREATE ON SCHEMA public TO regress_biotoken_app;
-- runs the refused statement with standard_conforming_strings off
CREATE FUNCTION test_lookup(text) RETURNS SETOF text LANGUAGE sql
  SET standard_conforming_strings = off
  AS $$ SELECT face::text FROM test_people WHERE national_id = $1 $$;
GRANT EXECUTE ON FUNCTION test_lookup(text) TO regress_biotoken_app;
SQL

app() {
    bt_psql -U regress_biotoken_app "$@" 2>&1 || true
}
dba() {
    bt_psql -U regress_biotoken_dba "$@" 2>&1 || true
}
refused_count() {
    bt_psql -Atc "SELECT count(*) FROM biotoken.access_log WHERE event = 'refused'"
}
in_access_log() {
    [[ "$(bt_psql -Atc "SELECT count(*) FROM biotoken.access_log
                        WHERE statement LIKE '%$1%' OR columns::text LIKE '%$1%'")" != 0 ]]
}

# ------------------------------------------------------------ lexing (1)
# The string is parsed with standard_conforming_strings on; the refusal's
# record is written after the SET turned it off: re-read under off, the
# second literal becomes a quoted identifier.
app -c "SET standard_conforming_strings = off; SELECT face FROM test_people WHERE national_id = '\\' OR national_id = '\"21010519491231002X\"' --'" >/dev/null
tap_not "a literal re-read with standard_conforming_strings off is not in the access log" \
    in_access_log 21010519491231002X
# The reverse: parsed with it off, written with it on.
app -c "SET standard_conforming_strings = off" -c "SET escape_string_warning = off" \
    -c "SET standard_conforming_strings = on; SELECT face FROM test_people WHERE national_id = 'x\\' OR national_id = ' OR national_id = '\"22010519491231002X\"'" >/dev/null
tap_not "a literal re-read with standard_conforming_strings on is not in the access log" \
    in_access_log 22010519491231002X
# A function's SET clause: the top-level statement was parsed with it on.
app -c "SELECT test_lookup('\\' || '\"23010519491231002X\"')" >/dev/null
tap_not "a function's SET standard_conforming_strings does not expose the caller's literal" \
    in_access_log 23010519491231002X
tap_ok "those three statements were refused and logged" \
    test "$(bt_psql -Atc "SELECT count(*) FROM biotoken.access_log WHERE event = 'refused'
                          AND statement LIKE '%test_%'")" = 3
# A quoted identifier holding an ID number (an alias) is not kept either.
app -c "SELECT face, national_id AS \"24010519491231002X\" FROM test_people" >/dev/null
tap_not "a quoted identifier that holds an ID number is not in the access log" \
    in_access_log 24010519491231002X
out="$(bt_psql -Atc "SELECT statement FROM biotoken.access_log
                     WHERE statement LIKE '%AS%' ORDER BY id DESC LIMIT 1")"
tap_is "$out" 'SELECT face, national_id AS "?" FROM test_people' \
    "such an identifier is logged as \"?\""

# ------------------------------------------------ STATEMENT lines (2)
out="$(app -c "SELECT biometric_verify(face, '{0.3125,0.4375,0.8125,0.0625}', 2) FROM test_people")"
tap_ok "an invalid max_distance is an error" grep -q 'max_distance must be between 0 and 1' <<<"$out"
# (as the superuser: model_profiles.mean is not readable by other roles)
out="$(bt_psql -c "SET biotoken.model = 'regress_nosuch'" -c "SELECT biometric_enroll('{0.3175,0.4475,0.8175,0.0675}')" 2>&1 || true)"
tap_ok "an unknown model profile is an error" grep -q 'model profile "regress_nosuch" does not exist' <<<"$out"
out="$(app -c "SELECT biometric_verify('bt1:AAAA', '{0.3225,0.4525,0.8225,0.0725}')")"
tap_ok "malformed template text next to a probe is an error" grep -q 'invalid' <<<"$out"
out="$(dba -c "SELECT biotoken.register_model('regress_m', 3, '{0.3275,0.4575,0.8275,0.0775}')")"
tap_ok "a register_model mean of the wrong size is an error" grep -q 'model profile mean has 4 dimensions' <<<"$out"
out="$(dba -c "SELECT biotoken.grant_audit('regress_biotoken_app', 'case 25010519491231002X', '1000 hours')")"
tap_ok "a grant_audit error" grep -q 'valid_for exceeds' <<<"$out"
# raised in a parallel worker, re-raised by the leader
out="$(app -c "SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                                  THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                                  'on', false)" \
           -c "SELECT biometric_verify(face, '{0.3375,0.4675,0.8375,0.0775}', 3) FROM test_people")"
tap_ok "an invalid max_distance in a parallel worker is an error" \
    grep -q 'max_distance must be between 0 and 1' <<<"$out"
out="$(dba -c "SELECT biotoken.revoke_audit(g) FROM (VALUES (987654321, '28010519491231002X')) v(g, nid)")"
tap_ok "a revoke_audit error" grep -q 'audit grant 987654321 does not exist' <<<"$out"
gid="$(bt_psql -U regress_biotoken_dba -Atc "SELECT biotoken.grant_audit('regress_biotoken_app', 'case 1', '1 hour')")"
out="$(app -c "CREATE TABLE test_mixed AS SELECT face::text || national_id AS x FROM test_people WHERE national_id = '26010519491231002X'")"
tap_ok "a mixing copy under a grant is refused by lineage" grep -q 'cannot copy biometric data and identity data' <<<"$out"
dba -c "SELECT biotoken.revoke_audit($gid)" >/dev/null

log="$(server_log_since_start)"
tap_not "no probe of a biotoken error in the server log" grep -q -E '0\.3125|0\.3175|0\.3225|0\.3375' <<<"$log"
tap_not "no register_model mean in the server log" grep -q -F '0.3275' <<<"$log"
tap_not "no grant purpose in the server log" grep -q -F '25010519491231002X' <<<"$log"
tap_not "no literal of a revoke_audit statement in the server log" grep -q -F '28010519491231002X' <<<"$log"
tap_not "no ID number of a lineage refusal in the server log" grep -q -F '26010519491231002X' <<<"$log"

# ------------------------------------------------ CONTEXT lines (3)
bt_psql <<'SQL' || tap_bail "set-up failed"
CREATE FUNCTION test_dyn() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'SELECT face FROM test_people WHERE national_id = ''27010519491231002X''';
END $$;
GRANT EXECUTE ON FUNCTION test_dyn() TO regress_biotoken_app;
SQL
out="$(app -c "SELECT test_dyn()")"
tap_ok "a refusal in dynamic SQL" grep -q 'cannot combine biometric data with identity data' <<<"$out"
out="$(app -c "DO \$\$ BEGIN PERFORM biometric_enroll('{0.3325,0.4625,0.8325,NaN}'); END \$\$")"
tap_ok "an enrollment error in a DO block" grep -q 'must contain only finite values' <<<"$out"
log="$(server_log_since_start)"
tap_not "no ID number of a CONTEXT line in the server log" grep -q -F '27010519491231002X' <<<"$log"
tap_not "no embedding of a CONTEXT line in the server log" grep -q -F '0.3325' <<<"$log"

# ------------------------------------------------ one line per record (5)
app <<'SQL' >/dev/null
CREATE TABLE test_forge (face biometric, "x
biotoken: access_log id=999999 event=grant forged" text);
SQL
bt_psql -c "SECURITY LABEL FOR biotoken ON COLUMN test_forge.\"x
biotoken: access_log id=999999 event=grant forged\" IS 'identity'" >/dev/null
app -c "SELECT * FROM test_forge" >/dev/null
tap_ok "the forging statement was refused and logged" \
    test "$(bt_psql -Atc "SELECT count(*) FROM biotoken.access_log
                          WHERE event = 'refused' AND statement LIKE '%test_forge%'")" = 1
log="$(server_log_since_start)"
# (the server log indents a message's continuation lines with a tab)
tap_not "no server-log line starts with a forged record" \
    grep -q -E '^[[:space:]]*biotoken: access_log' <<<"$log"
tap_ok "the column name is escaped in the record's line" \
    grep -q -E 'event=refused .*columns=\{public.test_forge.face,"public.test_forge.\\"x\\nbiotoken: access_log id=999999 event=grant forged\\""\}' <<<"$log"

# ------------------------------------------ constraint details (#9 item 3)
before="$(refused_count)"
out="$(app -c "UPDATE test_people SET age = -1
               WHERE biometric_verify(face, '{0.25,0.5,0.75,0.125}')")"
tap_ok "a check violation of a face-selected row is an error" grep -q 'violates check constraint' <<<"$out"
tap_not "the client sees no ID number of the failing row" grep -q -F '11010519491231002X' <<<"$out"
out="$(app -c "UPDATE test_people SET age = -1 WHERE national_id = '11010519491231003X'")"
tap_not "the client sees no template of the failing row" grep -q -F 'bt1:' <<<"$out"
out="$(app -c "UPDATE test_people SET national_id = '11010519491231002X' WHERE id = 2")"
tap_ok "a unique violation is an error" grep -q 'duplicate key value violates unique constraint' <<<"$out"
tap_not "the client sees no key of a classified relation" grep -q -F '(11010519491231002X)' <<<"$out"
out="$(app <<'SQL'
DO $$
DECLARE d text;
BEGIN
  UPDATE test_people SET age = -1 WHERE biometric_verify(face, '{0.25,0.5,0.75,0.125}');
EXCEPTION WHEN check_violation THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'caught: %', d;
END $$;
SQL
)"
tap_ok "the error is caught in PL/pgSQL" grep -q 'caught:' <<<"$out"
tap_not "GET STACKED DIAGNOSTICS gives no ID number" grep -q -F '11010519491231002X' <<<"$out"
out="$(app -c "UPDATE test_plain SET note = 'bad'")"
tap_ok "an unclassified relation keeps its detail" grep -q -F 'Failing row contains (1, bad)' <<<"$out"
tap_is "$(refused_count)" "$before" "constraint errors write no 'refused' record"
# a foreign key from an unclassified table: its key is an ID number
bt_psql <<'SQL' >/dev/null || tap_bail "set-up failed"
CREATE TABLE test_accounts (id int, person_nid text REFERENCES test_people (national_id));
INSERT INTO test_accounts VALUES (1, '11010519491231003X');
GRANT SELECT, INSERT ON test_accounts TO regress_biotoken_app;
GRANT DELETE ON test_people TO regress_biotoken_app;
SQL
out="$(app -c "DELETE FROM test_people WHERE biometric_verify(face, '{0.5,0.25,0.125,0.75}')")"
# (refused by the guard, or a foreign key error: either way no ID number)
tap_ok "deleting a face-selected, still referenced row is an error" grep -q 'ERROR' <<<"$out"
tap_not "the client sees no referenced ID number" grep -q -F '11010519491231003X' <<<"$out"
out="$(app -c "INSERT INTO test_accounts VALUES (2, '31010519491231002X')")"
tap_ok "a foreign key violation is an error" grep -q 'violates foreign key constraint' <<<"$out"
tap_not "the client sees no key of a referenced classified relation" \
    grep -q -F '31010519491231002X' <<<"$out"
# caught in a procedure, and re-raised
bt_psql <<'SQL' >/dev/null || tap_bail "set-up failed"
CREATE PROCEDURE test_proc() LANGUAGE plpgsql AS $$
BEGIN
  UPDATE test_people SET national_id = '11010519491231002X' WHERE id = 2;
EXCEPTION WHEN unique_violation THEN
  RAISE NOTICE 'detail: %', (SELECT 1);
  RAISE;
END $$;
GRANT EXECUTE ON PROCEDURE test_proc() TO regress_biotoken_app;
SQL
out="$(app -c "CALL test_proc()")"
tap_ok "a unique violation caught and re-raised in a procedure" grep -q 'duplicate key value' <<<"$out"
tap_not "the re-raised error shows no key" grep -q -F '(11010519491231002X)' <<<"$out"
log="$(server_log_since_start)"
tap_not "no stored value of a classified relation in the server log" \
    grep -q -E 'Failing row contains \(1, 110|Key \((national_id|person_nid)\)=' <<<"$log"
