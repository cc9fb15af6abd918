#!/usr/bin/env bash
#
# tests/cluster/audit_writer_hijack.sh
#	The access-log writer as a database owner would attack it (issue #10,
#	item 1, the writer's part).  The owner of a database controls the
#	schema "biotoken" there: 1.0 adopted one the owner had created before
#	CREATE EXTENSION (if CREATE EXTENSION now refuses that, the test hands
#	the schema over afterwards, the same state).  The owner renames the
#	real schema away and puts an impostor biotoken.access_log in its place:
#	a table with a trigger that makes its owner superuser, then a view.
#	The writer must keep writing to the extension's own table, run no
#	trigger, not crash, and verification must check the real log.  A
#	database-level search_path and lock_timeout must not steer it either.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 11

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server || tap_bail "no server"
OWNER=regress_biotoken_dbowner
bt_psql -q <<SQL || tap_bail "could not set up"
CREATE ROLE $OWNER LOGIN;
CREATE DATABASE regress_hijack OWNER $OWNER;
SQL
psql -X -q -U "$OWNER" -d regress_hijack -c 'CREATE SCHEMA biotoken' \
    || tap_bail "the owner could not create a schema"
if ! audit_probe_install regress_hijack >/dev/null 2>&1; then
    # CREATE EXTENSION refuses a pre-existing schema: give it afterwards
    psql -X -q -U "$OWNER" -d regress_hijack -c 'DROP SCHEMA biotoken' || tap_bail "drop schema"
    audit_probe_install regress_hijack || tap_bail "could not install the probe"
    bt_psql -d regress_hijack -c "ALTER SCHEMA biotoken OWNER TO $OWNER" || tap_bail "alter schema"
fi
start_time="$(bt_psql -Atc 'SELECT pg_postmaster_start_time()')"

# write one record (as a superuser's session would), and say whether it worked
record() {
    bt_psql -d regress_hijack -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"token\": \"$1\"}')" \
        >/dev/null 2>&1
}
record before || tap_fail "no record before the attack"

# --- the attack: an impostor table with a trigger in biotoken's place
psql -X -q -v ON_ERROR_STOP=1 -U "$OWNER" -d regress_hijack <<'SQL' || tap_bail "the attack could not be set up"
ALTER SCHEMA biotoken RENAME TO biotoken_real;
CREATE SCHEMA biotoken;
CREATE TABLE biotoken.access_log (
    id bigint PRIMARY KEY, logged_at timestamptz, event text,
    session_user_name name, current_user_name name, login_user_name name,
    client_addr inet, application_name text, backend_pid int, grant_id bigint,
    categories text[], columns text[], query_id bigint, statement text,
    detail jsonb, key_id int, prev_hash bytea, row_hash bytea);
CREATE FUNCTION biotoken.escalate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE 'ALTER ROLE regress_biotoken_dbowner SUPERUSER';
    RETURN NEW;
END $$;
CREATE TRIGGER escalate BEFORE INSERT ON biotoken.access_log
    FOR EACH ROW EXECUTE FUNCTION biotoken.escalate();
ALTER DATABASE regress_hijack SET search_path = biotoken, public;
ALTER DATABASE regress_hijack SET lock_timeout = '1ms';
SQL
# a new writer, which reads the database's settings
pid="$(audit_writer_pid regress_hijack)"
[[ -n "$pid" ]] && kill "$pid" 2>/dev/null && sleep 0.5
record impostor-table || true

super="$(bt_psql -Atc "SELECT rolsuper FROM pg_roles WHERE rolname = '$OWNER'")"
tap_is "$super" "f" "the database owner did not become superuser through the writer"
n="$(bt_psql -d regress_hijack -Atc "SELECT count(*) FROM biotoken_real.access_log
    WHERE detail->>'token' = 'impostor-table'")"
tap_is "$n" "1" "the record went to the extension's own table"
n="$(bt_psql -d regress_hijack -Atc 'SELECT count(*) FROM biotoken.access_log')"
tap_is "$n" "0" "the impostor table got nothing"

# --- a view in its place
psql -X -q -v ON_ERROR_STOP=1 -U "$OWNER" -d regress_hijack <<'SQL' || tap_bail "the view could not be set up"
DROP TABLE biotoken.access_log;
CREATE VIEW biotoken.access_log AS
    SELECT 1::bigint AS id, now() AS logged_at, 'x'::text AS event;
SQL
pid="$(audit_writer_pid regress_hijack)"
[[ -n "$pid" ]] && kill "$pid" 2>/dev/null && sleep 0.5
record impostor-view || true
tap_is "$(bt_psql -Atc 'SELECT pg_postmaster_start_time()')" "$start_time" \
    "the server did not crash (no restart since the start)"
n="$(bt_psql -d regress_hijack -Atc "SELECT count(*) FROM biotoken_real.access_log
    WHERE detail->>'token' = 'impostor-view'")"
tap_is "$n" "1" "with a view in its place the record went to the real table"

verify="$(bt_psql -d regress_hijack -Atc "SELECT valid || ' ' || rows_checked
    FROM biotoken_real.verify_access_log()")"
rows="$(bt_psql -d regress_hijack -Atc 'SELECT count(*) FROM biotoken_real.access_log')"
tap_is "$verify" "true $rows" "verify_access_log checks the extension's own table"

# --- nothing the owner may do to the real table lets the writer run code
# (the owner of the schema cannot alter a table it does not own)
out="$(psql -X -q -U "$OWNER" -d regress_hijack -c \
    'CREATE TRIGGER t BEFORE INSERT ON biotoken_real.access_log
        FOR EACH ROW EXECUTE FUNCTION biotoken.escalate()' 2>&1 || true)"
tap_ok "the owner cannot put a trigger on the real log" grep -q "permission denied" <<<"$out"

# --- a superuser's trigger on the real log does not fire in the writer either
bt_psql -d regress_hijack -q <<'SQL' || tap_fail "could not add a trigger as superuser"
CREATE TABLE public.fired (n int);
CREATE FUNCTION public.note_fired() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.fired VALUES (1); RETURN NEW; END $$;
CREATE TRIGGER note_fired BEFORE INSERT ON biotoken_real.access_log
    FOR EACH ROW EXECUTE FUNCTION public.note_fired();
SQL
record after-trigger || true
n="$(bt_psql -d regress_hijack -Atc "SELECT count(*) FROM biotoken_real.access_log
    WHERE detail->>'token' = 'after-trigger'")"
tap_is "$n" "1" "a record is written with a foreign trigger on the log"
tap_is "$(bt_psql -d regress_hijack -Atc 'SELECT count(*) FROM public.fired')" "0" \
    "the writer fired no trigger"

# --- an index that would run a user's function is refused (main's partial
# index on grant_id, built-in code only, is accepted: every record above)
bt_psql -d regress_hijack -q <<'SQL' || tap_fail "could not add an index"
CREATE FUNCTION public.idx_fn(bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS 'SELECT $1';
CREATE INDEX regress_user_idx ON biotoken_real.access_log (public.idx_fn(id));
SQL
out="$(bt_psql -d regress_hijack -Atc "SELECT audit_probe_write('label', 0, 0, NULL, NULL)" 2>&1 || true)"
tap_ok "an index calling a user's function makes the writer refuse the log (fail closed, said in the server log)" \
    bash -c 'grep -q "could not be written" <<<"$1" && grep -q "it would run code of its own" "$2"' _ "$out" "$BT_LOG"
bt_psql -d regress_hijack -q -c 'DROP INDEX biotoken_real.regress_user_idx' || tap_fail "drop index"

# --- a log table that is not a plain table of the extension's owner is refused
bt_psql -d regress_hijack -q -c "ALTER TABLE biotoken_real.access_log OWNER TO $OWNER" \
    || tap_fail "could not change the owner"
out="$(bt_psql -d regress_hijack -Atc "SELECT audit_probe_write('label', 0, 0, NULL, NULL)" 2>&1 || true)"
tap_ok "a log owned by another role is refused, and the error says why" \
    grep -q "owned by the extension's owner" <<<"$out"
