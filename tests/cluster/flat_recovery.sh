#!/usr/bin/env bash
#
# tests/cluster/flat_recovery.sh
#	The biotoken_flat index survives a crash and replicates.  After a
#	checkpoint, with the background writer off so that the changes stay
#	in shared buffers only: rows are inserted (new pages, the metapage's
#	list of pages with room), deleted and vacuumed (pages emptied, given
#	to the free space map, reused) and inserted again.  A physical
#	standby, made from a base backup before those changes, replays them
#	from the WAL stream.  Then a backend is killed with SIGKILL: the
#	server throws its shared buffers away and replays the WAL since the
#	checkpoint.  Throughout, index scans (ORDER BY face <~> probe) return
#	the same distances in the same order as sequential scans, on the
#	primary and on the standby, before and after the crash and after more
#	changes.  Prints TAP.
#
set -euo pipefail
# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../harness/common.sh"

tap_plan 13

STANDBY=""
STANDBY_PORT=""
stop_standby() {
    if [[ -n "$STANDBY" && -f "$STANDBY/postmaster.pid" ]]; then
        as_postgres "$BT_BINDIR/pg_ctl" -D "$STANDBY" -m immediate -w -s stop >/dev/null 2>&1 || true
    fi
}
trap 'rc=$?; stop_standby; (exit "$rc"); bt_on_exit' EXIT

start_server "checkpoint_timeout = 1h" "max_wal_size = 1GB" "bgwriter_lru_maxpages = 0" \
    "restart_after_crash = on" || tap_bail "the server did not start"
bt_psql -c 'CREATE EXTENSION biotoken' || tap_bail "CREATE EXTENSION failed"
create_test_embedding_fn || tap_bail "could not create test_embedding()"
bt_psql <<'SQL' || tap_bail "could not set up the table"
CREATE TABLE test_people (id int PRIMARY KEY, face biometric);
INSERT INTO test_people SELECT g, test_embedding(g) FROM generate_series(1, 2000) g;
CREATE INDEX test_people_face ON test_people USING biotoken_flat (face);
ANALYZE test_people;

-- The ranking of every row by distance to probe, as the distances in the
-- order returned, the number of rows and the ids, one fingerprint.  The
-- caller's enable_* settings choose the plan.
CREATE FUNCTION test_ranking(probe float4[]) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT count(*) || ' ' || md5(string_agg(coalesce(d::text, 'null'), ',' ORDER BY n))
         || ' ' || md5(string_agg(id::text, ',' ORDER BY id))
    FROM (SELECT id, d, row_number() OVER () AS n
            FROM (SELECT id, face <~> probe AS d FROM test_people
                   ORDER BY face <~> probe) s) r
$$;
CREATE FUNCTION test_rankings() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(test_ranking(test_embedding(seed)), ' | ' ORDER BY seed)
    FROM unnest(ARRAY[7, 1500, 2600, 3300, 99999]) seed
$$;
-- the nearest row for the embeddings of a few people: each finds itself
CREATE FUNCTION test_identified() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT string_agg(seed || '->' || (SELECT id FROM test_people
                                      ORDER BY face <~> test_embedding(seed) LIMIT 1),
                    ' ' ORDER BY seed)
    FROM unnest(ARRAY[7, 1502, 2600, 3300]) seed
$$;
CHECKPOINT;
SQL

INDEX_ON="SET enable_seqscan = off;"
INDEX_OFF="SET enable_indexscan = off; SET enable_bitmapscan = off;"
# rankings DB-CONNECTION-ARGS... PLAN-SETTINGS
rankings() {
    local settings="${*: -1}"
    bt_psql "${@:1:$#-1}" -Atc "$settings SELECT test_rankings()"
}

plan="$(bt_psql -Atc "$INDEX_ON EXPLAIN (COSTS OFF) SELECT id FROM test_people ORDER BY face <~> test_embedding(7)")"
tap_ok "with enable_seqscan off, ORDER BY <~> is an index scan of test_people_face" \
    grep -q 'Index Scan using test_people_face' <<<"$plan"

# a standby from a base backup taken now, before the changes
STANDBY="$BT_TMPDIR/standby"
as_postgres "$BT_BINDIR/pg_basebackup" -D "$STANDBY" -R -X stream -c fast \
    -h "$PGHOST" -p "$PGPORT" -U postgres >/dev/null 2>&1 || tap_bail "pg_basebackup failed"
STANDBY_PORT="$(bt_pick_port)" || tap_bail "no port for the standby"
as_postgres "$BT_BINDIR/pg_ctl" -D "$STANDBY" -l "$BT_TMPDIR/standby.log" -w -t 60 -s \
    -o "-c port=$STANDBY_PORT -c hot_standby=on" start >/dev/null 2>&1 ||
    { tail -20 "$BT_TMPDIR/standby.log" >&2; tap_bail "the standby did not start"; }
SB=(-p "$STANDBY_PORT")
tap_is "$(bt_psql "${SB[@]}" -Atc 'SELECT pg_is_in_recovery()')" "t" "the standby runs in recovery"

# changes after the checkpoint: new pages, deletions, emptied pages, reuse
bt_psql <<'SQL' || tap_bail "the changes failed"
INSERT INTO test_people SELECT g, test_embedding(g) FROM generate_series(2001, 3000) g;
INSERT INTO test_people VALUES (3001, NULL);
DELETE FROM test_people WHERE id % 3 = 0 OR id BETWEEN 500 AND 1400;
VACUUM test_people;
INSERT INTO test_people SELECT g, test_embedding(g) FROM generate_series(3002, 3400) g;
INSERT INTO test_people SELECT g, test_embedding(g) FROM generate_series(600, 700) g;
SQL

want="$(rankings "$INDEX_OFF")"
tap_is "$(rankings "$INDEX_ON")" "$want" \
    "before the crash, index scans return the rankings of sequential scans"
tap_is "$(bt_psql -Atc 'SELECT test_identified()')" "7->7 1502->1502 2600->2600 3300->3300" \
    "each person's embedding finds that person first"

# wait for the standby to replay everything so far
lsn="$(bt_psql -Atc 'SELECT pg_current_wal_lsn()')"
for _ in $(seq 120); do
    caught_up="$(bt_psql "${SB[@]}" -Atc "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn")" || true
    [[ "$caught_up" == t ]] && break
    sleep 0.5
done
tap_is "$caught_up" "t" "the standby replays the changes"
plan="$(bt_psql "${SB[@]}" -Atc "$INDEX_ON EXPLAIN (COSTS OFF) SELECT id FROM test_people ORDER BY face <~> test_embedding(7)")"
tap_ok "the standby's plan is an index scan of test_people_face" \
    grep -q 'Index Scan using test_people_face' <<<"$plan"
tap_is "$(rankings "${SB[@]}" "$INDEX_ON")" "$want" \
    "on the standby, index scans return the primary's rankings"

# crash: SIGKILL one backend; the postmaster resets shared memory and
# replays the WAL since the checkpoint
bt_psql -Atc 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
sleeper=$!
victim=""
for _ in $(seq 50); do
    victim="$(bt_psql -Atc "SELECT pid FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")" || true
    [[ -n "$victim" ]] && break
    sleep 0.1
done
[[ -n "$victim" ]] || tap_bail "no backend to kill"
kill -KILL "$victim"
wait "$sleeper" 2>/dev/null || true
up=""
for _ in $(seq 120); do
    up="$(bt_psql -Atc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" || true
    [[ "$up" == t ]] && break
    sleep 0.5
done
tap_ok "after SIGKILL of a backend, the server recovers from the WAL" \
    server_log_has 'database system was not properly shut down; automatic recovery in progress'

tap_is "$(rankings "$INDEX_OFF")" "$want" "after recovery, the table holds the same rows"
tap_is "$(rankings "$INDEX_ON")" "$want" \
    "after recovery, index scans return the rankings from before the crash"

# and the recovered index takes more changes
bt_psql <<'SQL' || tap_bail "the changes after recovery failed"
DELETE FROM test_people WHERE id % 5 = 1;
VACUUM test_people;
INSERT INTO test_people SELECT g, test_embedding(g) FROM generate_series(3401, 3900) g;
SQL
want="$(rankings "$INDEX_OFF")"
tap_is "$(rankings "$INDEX_ON")" "$want" \
    "after more changes, index scans return the rankings of sequential scans"
tap_is "$(bt_psql -Atc 'SELECT test_identified()')" "7->7 1502->1502 2600->2600 3300->3300" \
    "each person's embedding still finds that person first"

lsn="$(bt_psql -Atc 'SELECT pg_current_wal_lsn()')"
for _ in $(seq 120); do
    caught_up="$(bt_psql "${SB[@]}" -Atc "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn" 2>/dev/null)" || true
    [[ "$caught_up" == t ]] && break
    sleep 0.5
done
tap_is "$(rankings "${SB[@]}" "$INDEX_ON")" "$want" \
    "the standby follows the recovered primary: its index scans agree"
