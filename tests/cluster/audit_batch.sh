#!/usr/bin/env bash
#
# tests/cluster/audit_batch.sh
#	A large writer batch (issue #11, defect 1).  The access log is locked
#	while one session queues 1,050 'read' records and then one 'grant'
#	record it waits for; when the lock goes, the writer takes all 1,051 in
#	one batch.  The server runs with glibc's MALLOC_PERTURB_, which fills
#	memory with a fixed byte when it is freed: anything the writer reads
#	after its transaction freed it is then garbage, every time.  The row
#	the waiting backend was told it got (its server-log line names the id
#	and row_hash) must be the row in the table, and the chain must verify
#	and continue correctly after the batch.
#
#	The role has a two-letter name so that 1,051 records fit the default
#	128 kB queue (each record carries the role name three times).
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

NREADS=1050

tap_plan 6

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
# freed heap memory is overwritten with 0x5a (glibc malloc tunable)
export MALLOC_PERTURB_=90
start_server "biotoken.audit_timeout = '60s'" "biotoken.log_reads = on" \
    || tap_bail "no server"
unset MALLOC_PERTURB_
bt_psql -c 'CREATE DATABASE regress_batch' || tap_bail "no database"
audit_probe_install regress_batch || tap_bail "could not install the probe"
bt_psql -d regress_batch <<SQL || tap_bail "could not set up"
CREATE ROLE rb LOGIN;
GRANT USAGE ON SCHEMA biotoken TO rb;
CREATE PROCEDURE r() LANGUAGE sql
    AS \$\$ SELECT audit_probe_read('{}'::text[]) FROM generate_series(1, $NREADS) \$\$;
CREATE PROCEDURE g() LANGUAGE sql
    AS \$\$ SELECT audit_probe_write('grant', 7, 0, NULL, NULL) \$\$;
SQL
# one record first, so the writer runs and the log has a chain to extend
bt_psql -d regress_batch -c "SELECT audit_probe_write('label', 0, 0, NULL, NULL)" >/dev/null \
    || tap_bail "the first record was not written"

# hold the log until the batch is queued (the file "release" appears)
lock_access_log regress_batch "$BT_TMPDIR/release" || tap_bail "the log was not locked"
locker=$BT_LOCKER_PID

# PGAPPNAME empty: as small a record as can be
PGAPPNAME= psql -X -q -At -U rb -d regress_batch -c 'CALL r()' -c 'CALL g()' \
    >"$BT_TMPDIR/client.out" 2>&1 &
client=$!
# wait until every record is queued: the grant's backend then waits
for ((i = 0; i < 400; i++)); do
    waiting="$(bt_psql -d postgres -Atc "SELECT count(*) FROM pg_stat_activity
        WHERE usename = 'rb' AND query = 'CALL g()' AND wait_event_type = 'Extension'")"
    [[ "$waiting" == 1 ]] && break
    sleep 0.05
done
as_postgres touch "$BT_TMPDIR/release"
wait "$locker" || true
rc=0
wait "$client" || rc=$?
tap_is "$rc" "0" "the reads and the grant were logged"
[[ $rc == 0 ]] || tap_diag "$(cat "$BT_TMPDIR/client.out")"

batch="$(bt_psql -d regress_batch -Atc "SELECT count(*) FROM biotoken.access_log
    WHERE xmin = (SELECT xmin FROM biotoken.access_log WHERE event = 'grant')")"
tap_ok "one writer transaction took them all ($batch records)" test "$batch" -eq $((NREADS + 1))

row="$(bt_psql -d regress_batch -Atc "SELECT id || ' ' || encode(row_hash, 'hex')
    FROM biotoken.access_log WHERE event = 'grant'")"
told="$(server_log_since_start | sed -n 's/.*biotoken: access_log id=\([0-9-]*\) row_hash=\([0-9a-f]*\) event=grant .*/\1 \2/p' | tail -n 1)"
tap_is "$told" "$row" "the waiting backend was told its own row's id and hash"

# the writer continues the chain from what it kept of the batch
bt_psql -d regress_batch -c "SELECT audit_probe_write('revoke', 7, 0, NULL, NULL)" >/dev/null \
    || tap_fail "a record after the batch was not written"
verify="$(bt_psql -d regress_batch -Atc "SELECT valid || ' ' || rows_checked || ' ' ||
    coalesce(first_broken_id::text, '-') FROM biotoken.verify_access_log()")"
# (+2: the server-wide audit_timeout and log_reads are 'setting' rows)
tap_is "$verify" "true $((NREADS + 5)) -" "the chain verifies after the batch"
tap_not "no writer warned of rows removed from the end" \
    server_log_has "the access log ends at row"
restart_server "biotoken.audit_timeout = '60s'" "biotoken.log_reads = on" || tap_bail "no restart"
verify="$(bt_psql -d regress_batch -Atc "SELECT valid::text FROM biotoken.verify_access_log()")"
tap_is "$verify" "true" "the chain verifies after a restart"
