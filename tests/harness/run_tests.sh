#!/usr/bin/env bash
#
# tests/harness/run_tests.sh
#	What `make test` runs.  Installs the Debian packages, builds and
#	installs biotoken, starts a throwaway server with biotoken preloaded,
#	and runs three suites:
#	  regress  the pg_regress tests listed in the Makefile's REGRESS
#	  pgtap    every tests/[0-9][0-9]_*.sql file, through pg_prove
#	  cluster  every executable tests/cluster/*.sh (own clusters, TAP)
#	Ends with one line "N passed, N failed" and exits non-zero if anything
#	failed or could not run.
#
# Usage: run_tests.sh [regress] [pgtap] [cluster]   (default: all three)
# Environment: see the top of common.sh (BT_DESTDIR, BT_SKIP_BUILD, ...).
#
# Counting: each pg_regress test is one; each pgTAP assertion is one (the
# "ok"/"not ok" lines of pg_prove --verbose); each cluster TAP assertion is
# one.  Assertions that a TAP plan announced but that never ran count as
# failed; a suite or file that fails without a "not ok" (SQL error, crash,
# timeout, server that would not start) counts as one failure.
#
set -euo pipefail

# shellcheck source=tests/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PASSED=0
FAILED=0
RUN_DIR="$(mktemp -d /tmp/biotoken-run.XXXXXX)"
trap 'cleanup_server; rm -rf "$RUN_DIR"' EXIT

SUITES=("$@")
if ((${#SUITES[@]} == 0)); then
    SUITES=(regress pgtap cluster)
fi

want_suite() {
    local s
    for s in "${SUITES[@]}"; do
        [[ "$s" == "$1" ]] && return 0
    done
    return 1
}

section() {
    printf '\n======== %s ========\n' "$*"
}

# Print the closing line and leave; cleanup runs from the EXIT trap, but
# stop the server first so nothing is printed after the closing line.
finish() {
    cleanup_server
    if ((PASSED + FAILED == 0)); then
        echo "harness: no test ran" >&2
        FAILED=1
    fi
    echo
    echo "$PASSED passed, $FAILED failed"
    if ((FAILED > 0)); then
        exit 1
    fi
    exit 0
}

#
# count_tap FILE RC NAME
#	Add the assertions in the TAP output FILE to PASSED/FAILED.  RC is the
#	exit status of whatever produced it.  Only unindented lines are read,
#	so subtests and diagnostics do not count twice.
#
count_tap() {
    local file="$1" rc="$2" name="$3"
    local planned ok nok todo missing fails extra=0

    planned="$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$file" | head -n 1)"
    # Numbered lines only: pg_prove also prints a bare "ok" per file.
    ok="$(grep -c -E '^ok [0-9]+( |$)' "$file" || true)"
    nok="$(grep -c -E '^not ok [0-9]+( |$)' "$file" || true)"
    # "not ok ... # TODO" is an expected failure in TAP, not a failure.
    todo="$(grep -c -E '^not ok.*# *TODO' "$file" || true)"
    ok=$((ok + todo))
    nok=$((nok - todo))
    fails="$nok"
    if [[ -z "$planned" ]]; then
        echo "harness: $name printed no TAP plan"
        extra=1
    else
        missing=$((planned - ok - nok))
        if ((missing > 0)); then
            echo "harness: $name planned $planned assertions but ran $((ok + nok))"
            extra="$missing"
        elif ((missing < 0)); then
            echo "harness: $name ran $((ok + nok)) assertions but planned $planned"
            extra=1
        fi
    fi
    if grep -q '^Bail out!' "$file" && ((extra == 0 && nok == 0)); then
        extra=1
    fi
    if ((rc != 0 && nok == 0 && extra == 0)); then
        echo "harness: $name exited with status $rc"
        extra=1
    fi
    fails=$((fails + extra))
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + fails))
    # Not "N passed, N failed": that form is kept for the one closing line.
    echo "harness: $name: passed $ok, failed $fails"
}

# ---------------------------------------------------------------- set-up
section "set-up"
if ! ensure_packages; then
    echo "harness: could not install the packages the tests need"
    FAILED=$((FAILED + 1))
    finish
fi
bt_find_bindir || { FAILED=$((FAILED + 1)); finish; }
if [[ "${BT_SKIP_BUILD:-0}" != 1 ]]; then
    if ! build_and_install; then
        echo "harness: build or install failed"
        FAILED=$((FAILED + 1))
        finish
    fi
fi

# The pg_regress and pgTAP server gets a fixed, published key so that
# anything a test prints that depends on the key (which neighbours come
# after the true match, say) is the same on every run and machine.  Only
# this shell's server: BT_KEY_HEX is not exported, so the cluster tests
# keep a fresh random key each.  Never use this key outside tests.
BT_KEY_HEX="${BT_KEY_HEX:-cadae4bb36383eb032d67f2444c5b965f9dddc852d20238f0be37a1afd080c1a}"

SERVER_OK=0
if want_suite regress || want_suite pgtap; then
    if start_server; then
        SERVER_OK=1
        echo "harness: server running, PGHOST=$PGHOST PGPORT=$PGPORT log=$BT_LOG"
    else
        echo "harness: the test server did not start"
        FAILED=$((FAILED + 1))
    fi
fi
MAIN_SERVER_FAILED=0

# -------------------------------------------------------------- pg_regress
if want_suite regress; then
    section "pg_regress"
    REGRESS_LIST=""
    if ! REGRESS_LIST="$(make -s -C "$BT_ROOT" PG_CONFIG="$PG_CONFIG" print-regress)"; then
        echo "harness: could not read REGRESS (make print-regress failed)"
        FAILED=$((FAILED + 1))
        MAIN_SERVER_FAILED=1
    elif [[ -z "${REGRESS_LIST// /}" ]]; then
        echo "harness: REGRESS is empty; no pg_regress tests"
    elif ((!SERVER_OK)); then
        echo "harness: pg_regress not run: no server"
        FAILED=$((FAILED + 1))
    else
        read -r -a REGRESS_TESTS <<<"$REGRESS_LIST"
        PGREGRESS="$(dirname "$("$PG_CONFIG" --pgxs)")/../test/regress/pg_regress"
        OUTPUTDIR="${BT_OUTPUTDIR:-$BT_ROOT}"
        REGRESS_OPTS=(--inputdir=. --use-existing --dbname=contrib_regression
            --host="$PGHOST" --port="$PGPORT" --user=postgres
            --bindir="$BT_BINDIR" --outputdir="$OUTPUTDIR")
        # --expecteddir exists from PostgreSQL 16; on 15 the expected files
        # are found under --inputdir, which is the same place.
        if "$PGREGRESS" --help 2>&1 | grep -q -- '--expecteddir'; then
            REGRESS_OPTS+=(--expecteddir=.)
        fi
        rm -f "$OUTPUTDIR/regression.diffs" "$OUTPUTDIR/regression.out"
        # With --use-existing pg_regress neither drops nor creates the
        # database: make a fresh one with the settings pg_regress itself
        # would give it, so expected output does not depend on the machine.
        if ! bt_psql -d postgres -c 'SET client_min_messages = warning' \
            -c 'DROP DATABASE IF EXISTS contrib_regression' \
            -c 'CREATE DATABASE contrib_regression TEMPLATE template0' \
            -c "ALTER DATABASE contrib_regression SET lc_messages TO 'C'" \
            -c "ALTER DATABASE contrib_regression SET lc_monetary TO 'C'" \
            -c "ALTER DATABASE contrib_regression SET lc_numeric TO 'C'" \
            -c "ALTER DATABASE contrib_regression SET lc_time TO 'C'" \
            -c "ALTER DATABASE contrib_regression SET bytea_output TO 'hex'" \
            -c "ALTER DATABASE contrib_regression SET timezone_abbreviations TO 'Default'"; then
            echo "harness: could not create the database contrib_regression"
        fi
        set +e
        (cd "$BT_ROOT" && timeout 300 "$PGREGRESS" "${REGRESS_OPTS[@]}" "${REGRESS_TESTS[@]}") \
            2>&1 | tee "$RUN_DIR/regress.out"
        rc="${PIPESTATUS[0]}"
        set -e
        # PostgreSQL 15: "test name ... ok|FAILED" (indented inside parallel
        # groups); 16 and later print TAP ("ok 1 - name", "not ok 2 - name").
        r_ok="$(grep -c -E '^ *(test +)?[^ ]+ +\.\.\. ok( |$)|^ok [0-9]+ ' "$RUN_DIR/regress.out" || true)"
        r_fail="$(grep -c -E '^ *(test +)?[^ ]+ +\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$RUN_DIR/regress.out" || true)"
        if ((r_ok + r_fail != ${#REGRESS_TESTS[@]})); then
            echo "harness: pg_regress reported $((r_ok + r_fail)) of ${#REGRESS_TESTS[@]} tests"
            missing=$((${#REGRESS_TESTS[@]} - r_ok - r_fail))
            r_fail=$((r_fail + (missing > 0 ? missing : 1)))
        elif ((rc != 0 && r_fail == 0)); then
            echo "harness: pg_regress exited with status $rc"
            r_fail=1
        fi
        PASSED=$((PASSED + r_ok))
        FAILED=$((FAILED + r_fail))
        echo "harness: pg_regress: passed $r_ok, failed $r_fail"
        if ((r_fail > 0)); then
            MAIN_SERVER_FAILED=1
            if [[ -s "$OUTPUTDIR/regression.diffs" ]]; then
                echo "---- regression.diffs ($OUTPUTDIR/regression.diffs) ----"
                cat "$OUTPUTDIR/regression.diffs"
            fi
        fi
    fi
fi

# ------------------------------------------------------------------ pgTAP
if want_suite pgtap; then
    section "pgTAP"
    shopt -s nullglob
    PGTAP_FILES=("$BT_ROOT"/tests/[0-9][0-9]_*.sql)
    shopt -u nullglob
    if ((${#PGTAP_FILES[@]} == 0)); then
        echo "harness: no pgTAP files (tests/NN_*.sql)"
    elif ((!SERVER_OK)); then
        echo "harness: pgTAP not run: no server"
        FAILED=$((FAILED + ${#PGTAP_FILES[@]}))
    elif ! createdb bt_pgtap ||
        ! bt_psql -d bt_pgtap -c 'CREATE EXTENSION pgtap' -c 'CREATE EXTENSION biotoken'; then
        echo "harness: could not prepare the pgTAP database; every file counts as failed"
        FAILED=$((FAILED + ${#PGTAP_FILES[@]}))
        MAIN_SERVER_FAILED=1
    else
        for f in "${PGTAP_FILES[@]}"; do
            rel="${f#"$BT_ROOT"/}"
            set +e
            (cd "$BT_ROOT" && timeout 120 pg_prove --verbose --host "$PGHOST" --port "$PGPORT" \
                --username postgres --dbname bt_pgtap "$rel") 2>&1 | tee "$RUN_DIR/pgtap.out"
            rc="${PIPESTATUS[0]}"
            set -e
            before="$FAILED"
            count_tap "$RUN_DIR/pgtap.out" "$rc" "$rel"
            ((FAILED > before)) && MAIN_SERVER_FAILED=1
        done
    fi
fi

if ((SERVER_OK && MAIN_SERVER_FAILED)); then
    echo "---- server log, last 60 lines ($BT_LOG) ----"
    server_log_tail 60
fi
# The cluster tests run their own servers; this one is done.
cleanup_server

# ------------------------------------------------------- cluster scripts
if want_suite cluster; then
    section "cluster tests"
    # The scripts only use what is already built and installed.
    export BT_SKIP_PACKAGES=1 BT_SKIP_BUILD=1 PG_CONFIG
    shopt -s nullglob
    CLUSTER_FILES=("$BT_ROOT"/tests/cluster/*.sh)
    shopt -u nullglob
    ran=0
    for f in "${CLUSTER_FILES[@]}"; do
        rel="${f#"$BT_ROOT"/}"
        if [[ ! -x "$f" ]]; then
            echo "harness: WARNING: $rel is not executable and was not run (chmod +x it)"
            continue
        fi
        ran=$((ran + 1))
        echo "---- $rel"
        set +e
        timeout 180 "$f" 2>&1 | tee "$RUN_DIR/cluster.out"
        rc="${PIPESTATUS[0]}"
        set -e
        count_tap "$RUN_DIR/cluster.out" "$rc" "$rel"
    done
    if ((ran == 0)); then
        echo "harness: no executable tests/cluster/*.sh"
    fi
fi

finish
