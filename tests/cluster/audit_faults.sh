#!/usr/bin/env bash
#
# tests/cluster/audit_faults.sh
#	Fault test of the access log.  Four clients run statements that are
#	logged: 'allowed' records (the statement succeeds only once its record
#	is committed) and refusals (the record is written, then the statement
#	fails with 42501 and rolls back), for BT_FAULT_SECONDS (default 30).
#	Meanwhile the test SIGKILLs the writer and random client backends
#	(each a crash restart of the server), and once shuts the whole server
#	down in immediate mode and starts it again.  fsync is on and
#	synchronous_commit off, as a DBA might set it: the writer must flush
#	its commits itself.  Afterwards every statement whose success a client
#	received has its 'allowed' row, every refusal a client received has
#	its 'refused' row, and the chain verifies.  Prints the counts, and
#	TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"
# shellcheck source=tests/audit_probe/probe.sh
. "$(dirname "${BASH_SOURCE[0]}")/../audit_probe/probe.sh"

DURATION="${BT_FAULT_SECONDS:-30}"
NCLIENTS=4
BATCH=25

tap_plan 10

init_cluster || tap_bail "could not create a cluster"
audit_probe_build || tap_bail "could not build the audit probe"
CONF=("fsync = on" "synchronous_commit = off" "restart_after_crash = on"
    "log_min_messages = warning")
start_server "${CONF[@]}" || tap_bail "no server"
bt_psql -c 'CREATE DATABASE regress_faults' || tap_bail "no database"
audit_probe_install regress_faults || tap_bail "could not install the probe"

OUT="$BT_TMPDIR/faults"
mkdir -p "$OUT"
STOP="$OUT/stop"
cols="'{public.customers.face,public.customers.national_id}'"

# One client: batches of statements in one session each, so that backends
# live long enough to be killed mid-batch.  After each statement psql
# prints what the client received: OK, or ERR with SQLSTATE and message.
client() {
    local c="$1" n=0 i token script
    while [[ ! -e "$STOP" ]]; do
        script=""
        for ((i = 0; i < BATCH; i++)); do
            n=$((n + 1))
            token="c$c-$n"
            if ((RANDOM % 3 == 0)); then
                script+="SELECT audit_probe_refuse(NULL, 3, $cols, '{\"token\": \"$token\"}');"$'\n'
            else
                script+="SELECT audit_probe_write('allowed', 1, 3, $cols, '{\"token\": \"$token\"}');"$'\n'
            fi
            script+="\\if :ERROR"$'\n'"\\echo ERR $token :SQLSTATE :LAST_ERROR_MESSAGE"$'\n'
            script+="\\else"$'\n'"\\echo OK $token"$'\n'"\\endif"$'\n'
            printf 'SENT %s\n' "$token" >>"$OUT/client$c.sent"
        done
        psql -X -q -At -d regress_faults <<<"$script" >>"$OUT/client$c.out" 2>/dev/null || true
        # the server may be restarting; do not spin
        sleep 0.05
    done
}

wait_ready() {
    local i
    for ((i = 0; i < 120; i++)); do
        if bt_psql -d regress_faults -Atc 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.25
    done
    return 1
}

pids=()
for ((c = 1; c <= NCLIENTS; c++)); do
    client "$c" &
    pids+=($!)
done

writer_kills=0
backend_kills=0
next_kill=$((RANDOM % 2))
immediate=0
recovered=1
t_end=$((SECONDS + DURATION))
t_immediate=$((SECONDS + DURATION / 2))
while ((SECONDS < t_end)); do
    sleep "$(((RANDOM % 20) / 10)).$((RANDOM % 10))"
    wait_ready || recovered=0
    if ((!immediate && SECONDS >= t_immediate)); then
        as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m immediate -w -s stop >/dev/null 2>&1 || true
        as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -l "$BT_LOG" -w -t 60 -s start >/dev/null 2>&1 \
            || recovered=0
        immediate=1
        continue
    fi
    # Writer and backend kills take turns; a turn passes only when its
    # kill happened, so a slow machine still gets both kinds of fault
    # (random choice left one kind out in about one run of three).
    if ((next_kill == 0)); then
        pid="$(audit_writer_pid regress_faults 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; then
            writer_kills=$((writer_kills + 1))
            next_kill=1
        fi
    else
        pid="$(bt_psql -d postgres -Atc "SELECT pid FROM pg_stat_activity
                WHERE backend_type = 'client backend' AND datname = 'regress_faults'
                ORDER BY random() LIMIT 1" 2>/dev/null || true)"
        if [[ -n "$pid" ]] && kill -KILL "$pid" 2>/dev/null; then
            backend_kills=$((backend_kills + 1))
            next_kill=0
        fi
    fi
done
touch "$STOP"
for p in "${pids[@]}"; do
    wait "$p" || true
done
wait_ready || recovered=0

# ------------------------------------------------------------- the check
cat "$OUT"/client*.out | sed -n 's/^OK \(c[0-9]*-[0-9]*\)$/allowed \1/p' >"$OUT/expect"
cat "$OUT"/client*.out |
    sed -n 's/^ERR \(c[0-9]*-[0-9]*\) 42501 audit probe refused the statement$/refused \1/p' >>"$OUT/expect"
sent="$(cat "$OUT"/client*.sent | wc -l)"
ok="$(grep -c '^allowed' "$OUT/expect" || true)"
refused="$(grep -c '^refused' "$OUT/expect" || true)"
closed="$(cat "$OUT"/client*.out | grep -c '^ERR .* 58000 statement refused: the access log could not be written' || true)"
other="$(cat "$OUT"/client*.out | grep '^ERR' | grep -v -c -e ' 42501 ' -e ' 58000 ' || true)"

bt_psql -d regress_faults -q <<SQL || tap_fail "could not load the expectations"
CREATE TABLE regress_expect (event text, token text);
\copy regress_expect FROM '$OUT/expect' WITH (DELIMITER ' ')
SQL
missing="$(bt_psql -d regress_faults -Atc "
    SELECT e.event || ' ' || e.token FROM regress_expect e
     WHERE NOT EXISTS (SELECT 1 FROM biotoken.access_log l
                        WHERE l.event = e.event AND l.detail->>'token' = e.token)
     ORDER BY 1")"
nmissing="$(grep -c . <<<"$missing" || true)"
rows="$(bt_psql -d regress_faults -Atc 'SELECT count(*) FROM biotoken.access_log')"
verify="$(bt_psql -d regress_faults -Atc "SELECT valid || ' ' || rows_checked || ' ' ||
    coalesce(first_broken_id::text, '-') FROM biotoken.verify_access_log()")"
dups="$(bt_psql -d regress_faults -Atc "SELECT count(*) FROM (SELECT detail->>'token'
    FROM biotoken.access_log GROUP BY 1 HAVING count(*) > 1) d")"

tap_diag "duration ${DURATION}s, $NCLIENTS clients: $sent statements sent" \
    "received: $ok successes, $refused refusals, $closed fail-closed refusals (log not written), $other other errors (connection lost, recovery)" \
    "faults: $writer_kills writer SIGKILLs, $backend_kills backend SIGKILLs, $immediate immediate shutdown" \
    "access log: $rows rows; verify_access_log: $verify; rows for a received success or refusal missing: $nmissing"

tap_ok "the server came back after every fault" test "$recovered" -eq 1
tap_ok "the writer was killed at least once" test "$writer_kills" -ge 1
tap_ok "a backend was killed at least once" test "$backend_kills" -ge 1
tap_ok "the server was shut down in immediate mode once" test "$immediate" -eq 1
tap_ok "clients received successes ($ok)" test "$ok" -gt 0
tap_ok "clients received refusals ($refused)" test "$refused" -gt 0
tap_is "$nmissing" "0" "every success and refusal a client received has its row"
if ((nmissing > 0)); then
    tap_diag "$(head -n 20 <<<"$missing")"
fi
tap_is "${verify%% *}" "true" "the chain verifies after the faults"
tap_is "$(cut -d' ' -f2 <<<"$verify")" "$rows" "verify_access_log checked every row"
tap_is "$dups" "0" "no record was written twice"
