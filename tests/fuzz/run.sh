#!/usr/bin/env bash
#
# tests/fuzz/run.sh
#	What `make fuzz` runs: build the libFuzzer targets for the bt1 codec
#	(fuzz_text.c, fuzz_recv.c, each linked with extension/codec.c alone)
#	into tests/fuzz/build/, replay any saved reproducers under
#	tests/fuzz/regressions/<target>/, then fuzz each target in turn for
#	FUZZ_SECONDS.  Prints, per target, the executions (libFuzzer's
#	stat::number_of_executed_units) and the crashes found (crash-, leak-,
#	timeout- and oom- artifacts in tests/fuzz/build/artifacts-<target>/),
#	and exits non-zero if any target crashed or a reproducer still fails.
#
# The working corpus is tests/fuzz/corpus-<target>/ (gitignored): it is
# seeded from the committed tests/fuzz/seeds/<target>/ and kept between
# runs, so later runs start where earlier ones stopped.  The artifacts
# directory is emptied at the start of each run, so its count is this
# run's; copy a reproducer to tests/fuzz/regressions/<target>/ to keep it.
#
# Usage: bash tests/fuzz/run.sh [text] [recv]    (default: both)
# Environment:
#	FUZZ_SECONDS	seconds to fuzz each target (default 300)
#	CC				compiler with libFuzzer (default clang, then clang-14)
#
# Needs clang and libclang-rt-14-dev (libFuzzer); installs them with
# apt-get only when dpkg says they are missing.
#
set -euo pipefail

FUZZ_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$FUZZ_DIR/../.." && pwd)
BUILD="$FUZZ_DIR/build"
FUZZ_SECONDS=${FUZZ_SECONDS:-300}

die() {
    echo "fuzz: $*" >&2
    exit 2
}

[[ "$FUZZ_SECONDS" =~ ^[0-9]+$ ]] || die "FUZZ_SECONDS must be a whole number of seconds"

# max_len per target: the longest valid input plus room to overshoot it.
# The largest record is BT_MAX_RECORD_BYTES = 4122 bytes, 5500 as text.
declare -A MAX_LEN=([text]=6000 [recv]=4200)

if (($# > 0)); then
    TARGETS=("$@")
else
    TARGETS=(text recv)
fi
for t in "${TARGETS[@]}"; do
    [[ -n "${MAX_LEN[$t]:-}" ]] || die "unrecognized target \"$t\" (expected text or recv)"
done

# Install the compiler and libFuzzer only if they are missing.
ensure_packages() {
    local missing=() pkg sudo=()

    command -v dpkg >/dev/null 2>&1 || return 0
    for pkg in clang libclang-rt-14-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]} == 0)) && return 0
    echo "fuzz: installing ${missing[*]}"
    if ((EUID != 0)); then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install ${missing[*]}"
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q \
        --no-install-recommends "${missing[@]}"
}

ensure_packages
if [[ -z "${CC:-}" ]]; then
    if command -v clang >/dev/null 2>&1; then
        CC=clang
    elif command -v clang-14 >/dev/null 2>&1; then
        CC=clang-14
    else
        die "no clang found"
    fi
fi

CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=undefined -Wall -Wextra
        -I "$ROOT/extension")

mkdir -p "$BUILD"
for t in "${TARGETS[@]}"; do
    echo "fuzz: building fuzz_$t"
    "$CC" "${CFLAGS[@]}" -o "$BUILD/fuzz_$t" \
        "$FUZZ_DIR/fuzz_$t.c" "$ROOT/extension/codec.c" ||
        die "could not build fuzz_$t"
done

declare -A EXECS CRASHES REPLAY
status=0

for t in "${TARGETS[@]}"; do
    bin="$BUILD/fuzz_$t"
    corpus="$FUZZ_DIR/corpus-$t"
    artifacts="$BUILD/artifacts-$t"
    log="$BUILD/fuzz_$t.log"

    # Saved reproducers must all pass before fuzzing means anything.
    REPLAY[$t]=ok
    shopt -s nullglob
    repros=("$FUZZ_DIR/regressions/$t"/*)
    shopt -u nullglob
    if ((${#repros[@]} > 0)); then
        echo "fuzz: replaying ${#repros[@]} reproducer(s) for fuzz_$t"
        if ! "$bin" "${repros[@]}" >"$BUILD/replay_$t.log" 2>&1; then
            REPLAY[$t]=FAILED
            status=1
            echo "fuzz: a reproducer for fuzz_$t still fails; see $BUILD/replay_$t.log"
        fi
    fi

    rm -rf "$artifacts"
    mkdir -p "$artifacts" "$corpus"
    cp -n "$FUZZ_DIR/seeds/$t"/* "$corpus"/

    echo "fuzz: running fuzz_$t for ${FUZZ_SECONDS}s (log: $log)"
    rc=0
    "$bin" -max_total_time="$FUZZ_SECONDS" -max_len="${MAX_LEN[$t]}" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1 || rc=$?

    EXECS[$t]=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    EXECS[$t]=${EXECS[$t]:-unknown}
    CRASHES[$t]=$(find "$artifacts" -maxdepth 1 -type f \
        \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
        wc -l)
    if ((rc != 0 || CRASHES[$t] > 0)); then
        status=1
        echo "fuzz: fuzz_$t failed (exit status $rc); last lines of its log:"
        tail -n 40 "$log"
        ls -l "$artifacts"
    fi
done

echo
echo "fuzz summary (FUZZ_SECONDS=$FUZZ_SECONDS per target)"
printf '%-12s %16s %8s %10s\n' target executions crashes replay
for t in "${TARGETS[@]}"; do
    printf '%-12s %16s %8s %10s\n' "fuzz_$t" "${EXECS[$t]}" "${CRASHES[$t]}" "${REPLAY[$t]}"
done
exit "$status"
