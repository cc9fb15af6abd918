#!/usr/bin/env bash
#
# tests/cluster/audit_capacity.sh
#	More databases than access-log writers and queues (issue #11, defect
#	3).  The server has three background worker slots: the logical
#	replication launcher's, one for parallel query and one for biotoken
#	(biotoken.audit_writers = 1), and three
#	access-log queues.  Three databases writing at once share the one
#	writer in turn; a parallel query still gets its worker while they do;
#	when the writer is stuck (its log locked) another database is refused
#	with a message naming biotoken.audit_writers, and with every queue
#	taken a fourth database is refused naming biotoken.audit_queues; once
#	the lock goes, everything works again and every log verifies.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

tap_plan 12

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
# three slots: the logical replication launcher's, one writer's, one parallel worker's
start_server "max_worker_processes = 3" "max_parallel_workers = 1" \
    "biotoken.audit_writers = 1" "biotoken.audit_queues = 3" \
    "biotoken.audit_timeout = '5s'" || tap_bail "no server"
for d in 1 2 3 4; do
    bt_psql -q -c "CREATE DATABASE regress_cap$d" || tap_bail "no database"
    audit_probe_install "regress_cap$d" >/dev/null || tap_bail "could not install the probe"
done
tap_not "the sizes leave parallel query its worker: no warning at start" \
    server_log_has "exceed max_worker_processes"

# (the server's audit_timeout: a SET of it is itself a logged change)
record() {
    bt_psql -d "regress_cap$1" -Atc "SELECT audit_probe_write('label', 0, 0, NULL, '{\"n\": \"$2\"}')" 2>&1
}

# --- three databases at once, one writer
for d in 1 2 3; do
    (
        ok=0
        for i in 1 2 3 4 5; do
            record "$d" "$i" >/dev/null && ok=$((ok + 1))
        done
        echo "$ok" >"$BT_TMPDIR/ok$d"
    ) &
done
wait
total=$(($(cat "$BT_TMPDIR/ok1") + $(cat "$BT_TMPDIR/ok2") + $(cat "$BT_TMPDIR/ok3")))
tap_is "$total" "15" "three databases sharing one writer slot wrote all their records"

# --- parallel query keeps its worker while a writer runs
record 1 warm >/dev/null || true
bt_psql -q -c 'CREATE TABLE regress_par AS SELECT g FROM generate_series(1, 50000) g' \
    -c 'ANALYZE regress_par' || tap_fail "could not create a table"
plan="$(bt_psql -Atc 'SET parallel_setup_cost = 0' -c 'SET parallel_tuple_cost = 0' \
    -c 'SET min_parallel_table_scan_size = 0' -c 'SET max_parallel_workers_per_gather = 1' \
    -c 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM regress_par')"
tap_ok "a parallel query launched its worker" grep -q "Workers Launched: 1" <<<"$plan"

# --- the writer stuck on a lock: another database waits for the slot
REL="$BT_TMPDIR/release"
LOCKED="$BT_TMPDIR/locked"
# a long wait for this one, set (and logged) before the log was locked
(bt_psql -d regress_cap1 -Atc "SET biotoken.audit_timeout = '60s'" \
    -c "\\! while [ ! -e $LOCKED ]; do sleep 0.05; done" \
    -c "SELECT audit_probe_write('label', 0, 0, NULL, '{\"n\": \"stuck\"}')" >"$BT_TMPDIR/stuck.out" 2>&1) &
stuck=$!
sleep 0.5
lock_access_log regress_cap1 "$REL" "$LOCKED" || tap_bail "the log was not locked"
locker=$BT_LOCKER_PID
sleep 0.5
# monitoring sees the record waiting behind the lock, and since when
status="$(bt_psql -d regress_cap1 -Atc "SELECT queued >= 1, oldest_queued_at IS NOT NULL
    AND oldest_queued_at <= now() FROM biotoken.access_log_status()" 2>&1)"
tap_is "$status" "t|t" "access_log_status shows the waiting record and its age"
out="$(record 2 no-slot || true)"
tap_ok "a database that gets no writer is refused, naming biotoken.audit_writers" \
    grep -q "all 1 (biotoken.audit_writers) were writing for other databases" <<<"$out"
record 3 no-slot >/dev/null || true
out="$(record 4 no-queue || true)"
tap_ok "with every queue taken, a fourth database is refused naming biotoken.audit_queues" \
    grep -q "All 3 access-log queues (biotoken.audit_queues) were taken" <<<"$out"
tap_ok "the hint says what to raise" grep -q "HINT:  Raise biotoken.audit_queues" <<<"$out"

as_postgres touch "$REL"
wait "$locker" || true
rc=0
wait "$stuck" || rc=$?
tap_is "$rc" "0" "the record behind the lock was written once it went"
out="$(record 4 later)" && rc=0 || rc=$?
tap_is "$rc" "0" "the fourth database writes once a queue is free"
out="$(record 2 later)" && rc=0 || rc=$?
tap_is "$rc" "0" "so does the second"

bad=0
for d in 1 2 3 4; do
    v="$(bt_psql -d "regress_cap$d" -Atc 'SELECT valid FROM biotoken.verify_access_log()')"
    [[ "$v" == t ]] || bad=$((bad + 1))
done
tap_is "$bad" "0" "every database's log verifies"
n="$(bt_psql -d regress_cap2 -Atc "SELECT count(*) FROM biotoken.access_log WHERE detail->>'n' = 'no-slot'")"
tap_is "$n" "0" "the refused record was not written later"
