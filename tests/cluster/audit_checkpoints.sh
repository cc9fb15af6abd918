#!/usr/bin/env bash
#
# tests/cluster/audit_checkpoints.sh
#	Signed checkpoints and incremental verification (issue #11, "years
#	of log").  With biotoken.audit_checkpoint_rows = 10 the writer appends
#	a checkpoint row every 10 rows; verify_access_log(from_id, max_rows)
#	starts at the last checkpoint at or before from_id and checks a bounded
#	chunk, saying where the next one starts; a loop of chunks, each its own
#	transaction, covers the log.  Tampering is found by the chunk that
#	covers it; a checkpoint cannot be forged or moved; the head of the log
#	cannot be cut off at a checkpoint.  Verification as an auditor, not as
#	a superuser.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 11

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
start_server "biotoken.audit_checkpoint_rows = 10" || tap_bail "no server"
bt_psql -q -c 'CREATE DATABASE regress_cp' || tap_bail "no database"
audit_probe_install regress_cp >/dev/null || tap_bail "could not install the probe"
AUD=regress_biotoken_auditor
bt_psql -d regress_cp -q -c "CREATE ROLE $AUD LOGIN IN ROLE biotoken_auditor" \
    -c "GRANT USAGE ON SCHEMA biotoken TO $AUD" || tap_bail "no auditor"

for i in $(seq 1 34); do
    bt_psql -d regress_cp -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"n\": $i}')" \
        >/dev/null || tap_bail "record $i"
done
aud() {
    psql -X -q -At -U "$AUD" -d regress_cp -c "$1"
}

cps="$(aud "SELECT string_agg(id::text, ',' ORDER BY id) FROM biotoken.access_log WHERE event = 'checkpoint'")"
tap_is "$cps" "11,21,31" "a checkpoint row follows every tenth id"
linked="$(aud "SELECT bool_and(c.prev_hash = p.row_hash) FROM biotoken.access_log c
    JOIN biotoken.access_log p ON p.id = c.id - 1 WHERE c.event = 'checkpoint'")"
tap_is "$linked" "t" "each checkpoint carries the chain head (the previous row's hash)"

one="$(aud "SELECT valid || ' ' || rows_checked || ' ' || start_id || ' ' || coalesce(next_id::text, '-')
    FROM biotoken.verify_access_log(25, 5)")"
tap_is "$one" "true 9 21 30" "a chunk starts at the last checkpoint before from_id and stops after max_rows"

# the auditor's loop: one chunk per transaction
loop="$(psql -X -At -U "$AUD" -d regress_cp -c "DO \$\$
DECLARE r record; nxt bigint := 1; total bigint := 0; ok boolean := true;
BEGIN
    LOOP
        SELECT * INTO r FROM biotoken.verify_access_log(nxt, 7);
        total := total + r.rows_checked; ok := ok AND r.valid;
        EXIT WHEN r.next_id IS NULL OR NOT r.valid;
        nxt := r.next_id;
        COMMIT;
    END LOOP;
    RAISE NOTICE 'loop % %', ok, total;
END \$\$" 2>&1 | sed -n 's/.*NOTICE:  loop //p')"
rows="$(aud 'SELECT count(*) FROM biotoken.access_log')"
tap_ok "chunks in separate transactions cover the log ($loop of $rows rows, checkpoints re-read)" \
    test "${loop%% *}" = t -a "${loop##* }" -ge "$rows"

tamper() {
    bt_psql -d regress_cp -q -c 'ALTER TABLE biotoken.access_log DISABLE TRIGGER access_log_append_only' \
        -c "$1" -c 'ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_append_only'
}
# change row 25 (after checkpoint 21)
orig="$(aud 'SELECT detail::text FROM biotoken.access_log WHERE id = 25')"
tamper "UPDATE biotoken.access_log SET detail = '{\"n\": 999}' WHERE id = 25"
v="$(aud "SELECT valid || ' ' || first_broken_id FROM biotoken.verify_access_log(25, 100)")"
tap_is "$v" "false 25" "the chunk that covers a changed row finds it"
v="$(aud "SELECT valid || ' ' || first_broken_id FROM biotoken.verify_access_log()")"
tap_is "$v" "false 25" "so does the whole-log verification"
tamper "UPDATE biotoken.access_log SET detail = '$orig' WHERE id = 25"
tap_is "$(aud 'SELECT valid FROM biotoken.verify_access_log()')" "t" "restored, the log verifies"

# a forged checkpoint: its prev_hash moved to another head
tamper "UPDATE biotoken.access_log SET prev_hash = (SELECT row_hash FROM biotoken.access_log WHERE id = 5) WHERE id = 21"
v="$(aud "SELECT valid || ' ' || first_broken_id FROM biotoken.verify_access_log(30, 100)")"
tap_is "$v" "false 21" "a checkpoint whose head was changed does not verify"
tamper "UPDATE biotoken.access_log SET prev_hash = (SELECT row_hash FROM biotoken.access_log WHERE id = 20) WHERE id = 21"

# the head of the log cut off at a checkpoint
tamper "DELETE FROM biotoken.access_log WHERE id < 11"
v="$(aud "SELECT valid || ' ' || first_broken_id FROM biotoken.verify_access_log()")"
tap_is "$v" "false 11" "a log cut off at a checkpoint does not verify from the start"
v="$(aud "SELECT valid || ' ' || first_broken_id FROM biotoken.verify_access_log(1, 100)")"
tap_is "$v" "false 11" "nor does a chunk from row 1"

out="$(psql -X -q -At -U "$AUD" -d regress_cp -c 'SELECT * FROM biotoken.verify_access_log(1, 0)' 2>&1 || true)"
tap_ok "max_rows must be positive" grep -q "max_rows must be at least 1" <<<"$out"
