# shellcheck shell=bash
#
# tests/harness/common.sh
#	Shared shell functions for biotoken's test harness: install the
#	Debian packages, build and install the extension, run throwaway
#	PostgreSQL clusters with biotoken preloaded, and print TAP.
#
# Source it from bash (`. tests/harness/common.sh`); it sets no shell
# options of its own beyond what the caller has, and starts nothing.
# run_tests.sh (`make test`), demo.sh (`make demo`) and every
# tests/cluster/*.sh script use it.
#
# Environment read (all optional):
#   BT_DESTDIR        install with `make install DESTDIR=$BT_DESTDIR` instead
#                     of globally, and point the server at it through
#                     extension_destdir and dynamic_library_path (Debian's
#                     PostgreSQL).  Lets several people test in parallel.
#                     Must be readable by the postgres user (e.g. under /tmp).
#   PG_CONFIG         pg_config to use (default: pg_config on PATH).
#   BT_PG_MAJOR       the PostgreSQL major whose Debian packages
#                     ensure_packages installs (default 15; chroot.sh sets
#                     it inside the chroot of another major).
#   BT_SKIP_PACKAGES  1 = do not check or install Debian packages.
#   BT_SKIP_BUILD     1 = run_tests.sh/demo.sh do not build or install.
#   BT_PRELOAD        shared_preload_libraries of every start (default biotoken).
#   BT_EXTRA_CONF     postgresql.conf lines (newline-separated) added to every
#                     start, before the per-call lines of start_server.
#   BT_KEEP           1 = keep each cluster's temporary directory on exit.
#   BT_KEY_HEX        64 hex digits: the key (id 1) of the key file every new
#                     cluster gets; default a fresh random key per cluster.
#                     run_tests.sh fixes it for the pg_regress/pgTAP server.
#   BT_OUTPUTDIR      where pg_regress writes results/ and regression.diffs
#                     (default: the repository top, as with installcheck).
#
# Set by start_server (for the calling shell; the PG* ones are exported so
# psql, pg_dump, pg_restore, createdb and pg_prove connect without options):
#   PGHOST PGPORT PGUSER=postgres PGDATABASE=postgres
#   BT_TMPDIR   the cluster's private directory (owned by postgres)
#   BT_PGDATA   its data directory          BT_LOG   its server log
#   BT_SOCKDIR  its unix socket directory   BT_KEY_FILE  the default key file
# Always set: BT_ROOT (repository top), BT_BINDIR (PostgreSQL programs),
#   BT_PSQL (array: psql with no psqlrc, ON_ERROR_STOP, quiet).
#
# Functions:
#   ensure_packages         apt-get install whatever `dpkg -s` says is missing
#   build_and_install       make && make install (honours BT_DESTDIR)
#   start_server [LINE...]  create this shell's cluster if needed and start it;
#                           each LINE is a postgresql.conf line, written after
#                           the harness defaults, so it wins ("name = value").
#                           Returns non-zero (with the log tail on stderr) if
#                           the server does not start.
#   try_start_server [LINE...]  the same, but silent on failure (for tests
#                           that expect the start to fail).
#   restart_server [LINE...]    stop, then start with exactly these LINEs
#                           (lines of the previous start are not kept).
#   stop_server             fast shutdown; no-op if not running.
#   init_cluster            create this shell's cluster (initdb) without
#                           starting it, e.g. to put files in BT_TMPDIR
#                           first; start_server calls it when needed.
#   destroy_cluster         stop and remove this shell's cluster; the next
#                           start_server makes a fresh one (new initdb).
#   cleanup_server          destroy_cluster, unless BT_KEEP=1; run from the
#                           EXIT trap (bt_on_exit) that sourcing installs,
#                           which also makes the exit status non-zero if a
#                           TAP assertion failed.
#   server_log_since_start  the server log written since the last start call.
#   server_log_has ERE      that log matches the extended regexp ERE.
#   server_log_tail [N]     the last N (default 40) lines of the server log.
#   as_postgres CMD...      run CMD as the postgres user (root cannot run
#                           the server), in the cluster's directory.
#   make_key_file PATH [MODE] [KEYID] [HEX]  write a key file owned by
#                           postgres (random key unless HEX); prints the
#                           key's hex on stdout.
#   bt_psql ARGS...         "${BT_PSQL[@]}" ARGS...
#   create_test_embedding_fn [DB]  create test_embedding(seed int,
#                           dims int DEFAULT 128) -> float4[]: deterministic
#                           pseudo-random embeddings; different seeds are
#                           nearly orthogonal.
#   TAP: tap_plan N; tap_ok DESC CMD...; tap_not DESC CMD...;
#        tap_start_fails DESC [LINE...]; tap_is GOT WANT DESC; tap_pass DESC; tap_fail DESC [DIAG...];
#        tap_diag MSG...; tap_bail MSG
#
# A script that needs its own EXIT trap must call cleanup_server from it.
#
# Writing a cluster test (tests/cluster/NAME.sh, executable): source this
# file, print the plan with tap_plan, then start_server / restart_server /
# tap_start_fails and tap_* assertions against this script's own cluster;
# tap_bail when going on makes no sense.  run_tests.sh runs it with
# BT_DESTDIR and PG_CONFIG passed on and BT_SKIP_PACKAGES=BT_SKIP_BUILD=1,
# and counts its "ok N" / "not ok N" lines against the plan.  To run one
# alone after a build and install:
#   BT_DESTDIR=/tmp/bt-inst tests/cluster/NAME.sh


BT_HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BT_ROOT="$(cd "$BT_HARNESS_DIR/../.." && pwd)"
PG_CONFIG="${PG_CONFIG:-pg_config}"
BT_PRELOAD="${BT_PRELOAD-biotoken}"

# make install runs in BT_ROOT and the server has another working
# directory: a relative BT_DESTDIR would mean three different places.
if [[ -n "${BT_DESTDIR:-}" && "$BT_DESTDIR" != /* ]]; then
    BT_DESTDIR="$PWD/$BT_DESTDIR"
    export BT_DESTDIR
fi

# Messages the tests grep for are English; the C.UTF-8 locale is built
# into Debian 12's libc, so it exists even on a bare system.
export LC_ALL=C.UTF-8
unset LANGUAGE

# A script must only ever talk to the cluster it started itself: drop
# connection settings inherited from a parent (e.g. run_tests.sh's server).
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS PGPASSWORD

# The PostgreSQL major version the packages are for: 15 on the host
# (Debian 12); chroot.sh sets it for the chroots of the other majors.
BT_PG_MAJOR="${BT_PG_MAJOR:-15}"
# shellcheck source=tests/harness/packages.sh
. "$BT_HARNESS_DIR/packages.sh"
mapfile -t BT_PACKAGES < <(bt_packages "$BT_PG_MAJOR")
mapfile -t BT_OPTIONAL_PACKAGES < <(bt_optional_packages "$BT_PG_MAJOR")

BT_PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# This shell's cluster; empty until start_server creates one.
BT_TMPDIR=""
BT_PGDATA=""
BT_LOG=""
BT_SOCKDIR=""
BT_KEY_FILE=""
BT_LOG_OFFSET=0
BT_RUNNING=0

bt_say() {
    printf '%s\n' "harness: $*" >&2
}

bt_die() {
    bt_say "ERROR: $*"
    exit 1
}

# Set BT_BINDIR once pg_config exists (it may not before ensure_packages).
bt_find_bindir() {
    if [[ -n "${BT_BINDIR:-}" ]]; then
        return 0
    fi
    if ! command -v "$PG_CONFIG" >/dev/null 2>&1; then
        bt_say "pg_config ($PG_CONFIG) not found; install postgresql-server-dev-$BT_PG_MAJOR"
        return 1
    fi
    BT_BINDIR="$("$PG_CONFIG" --bindir)" || return 1
    export PATH="$BT_BINDIR:$PATH"
}

#
# ensure_packages
#	Install the Debian packages the build and the tests need, but only
#	those `dpkg -s` reports as not installed, so a repeat run does no
#	apt work at all.  apt-get update runs once, and only when something
#	is missing.
#
ensure_packages() {
    local pkg cmd missing=() optional=()

    if [[ "${BT_SKIP_PACKAGES:-0}" == 1 ]]; then
        return 0
    fi
    while read -r cmd pkg; do
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done < <(bt_command_packages)
    for pkg in "${BT_PACKAGES[@]}"; do
        bt_pkg_installed "$pkg" || missing+=("$pkg")
    done
    for pkg in "${BT_OPTIONAL_PACKAGES[@]}"; do
        bt_pkg_installed "$pkg" || optional+=("$pkg")
    done
    # An optional package the archive lacks never causes apt work.
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if ((EUID != 0)); then
        bt_say "missing packages: ${missing[*]} (run as root to install them)"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Wait for a dpkg lock held by another apt run instead of failing.
    apt-get -o DPkg::Lock::Timeout=300 update -q || return 1
    for pkg in "${optional[@]}"; do
        if apt-cache show "$pkg" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    bt_say "installing: ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
        "${missing[@]}" || return 1
}

# dpkg -s also succeeds for a removed package whose conffiles remain, so
# look at the status line, not just the exit code.
bt_pkg_installed() {
    dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

#
# build_and_install
#	Build in the repository top and install, into BT_DESTDIR if set.
#
build_and_install() {
    bt_find_bindir || return 1
    bt_say "building in $BT_ROOT"
    make -C "$BT_ROOT" PG_CONFIG="$PG_CONFIG" || return 1
    if [[ -n "${BT_DESTDIR:-}" ]]; then
        bt_say "installing into BT_DESTDIR=$BT_DESTDIR"
        make -C "$BT_ROOT" PG_CONFIG="$PG_CONFIG" install DESTDIR="$BT_DESTDIR" || return 1
        # The server runs as postgres and must read the installed files.
        if ((EUID == 0)) &&
            ! runuser -u postgres -- test -r "$BT_DESTDIR$("$PG_CONFIG" --pkglibdir)/biotoken.so"; then
            bt_say "the postgres user cannot read $BT_DESTDIR; use a directory under /tmp"
            return 1
        fi
    else
        make -C "$BT_ROOT" PG_CONFIG="$PG_CONFIG" install || return 1
    fi
}

# Run a command as the postgres user from a directory it may enter:
# PostgreSQL refuses to run as root, and the caller's cwd (e.g. a clone
# under /root) may be closed to postgres.
as_postgres() {
    local dir="${BT_TMPDIR:-/tmp}"
    if ((EUID == 0)); then
        (cd "$dir" && runuser -u postgres -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

bt_psql() {
    "${BT_PSQL[@]}" "$@"
}

create_test_embedding_fn() {
    bt_psql -d "${1:-$PGDATABASE}" <<'SQL'
-- fract(sin(x) * 43758.5453): a well-known cheap hash; values in [-0.5, 0.5)
CREATE FUNCTION test_embedding(seed int, dims int DEFAULT 128) RETURNS float4[]
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT array_agg((h.x - floor(h.x) - 0.5)::float4 ORDER BY i)
    FROM generate_series(1, dims) AS i,
         LATERAL (SELECT sin(seed * 7919.0 + i * 104.729) * 43758.5453 AS x) AS h
$$;
SQL
}

# Quote a value for postgresql.conf.
bt_conf_quote() {
    printf "'%s'" "${1//\'/\'\'}"
}

# 32 random bytes as 64 hex digits, without needing the openssl CLI.
bt_random_hex() {
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n'
}

#
# make_key_file PATH [MODE] [KEYID] [HEX]
#	Write a key file ("<key id> <64 hex digits>") owned by postgres with
#	the given mode (default 0600), key id (default 1) and key (default
#	random).  Prints the key's hex digits so tests can look for leaks.
#
make_key_file() {
    local path="$1" mode="${2:-0600}" keyid="${3:-1}" hex="${4:-}"
    if [[ -z "$hex" ]]; then
        hex="$(bt_random_hex)" || return 1
    fi
    if [[ ! "$hex" =~ ^[0-9a-fA-F]{64}$ ]]; then
        bt_say "a key must be 64 hex digits"
        return 1
    fi
    (umask 077 && printf '%s %s\n' "$keyid" "$hex" >"$path") || return 1
    if ((EUID == 0)); then
        chown postgres:postgres "$path" || return 1
    fi
    chmod "$mode" "$path" || return 1
    printf '%s\n' "$hex"
}

# A TCP port nobody listens on.  Several clusters (and several people)
# may run at once; a start that still loses the race is retried.
bt_pick_port() {
    local port i
    for ((i = 0; i < 50; i++)); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

# Create this shell's cluster: a mktemp directory owned by postgres with
# the data directory, the socket directory, the log and a key file.
# Does nothing if this shell already has one.
init_cluster() {
    local out
    if [[ -n "$BT_TMPDIR" ]]; then
        return 0
    fi
    bt_find_bindir || return 1
    BT_TMPDIR="$(mktemp -d /tmp/biotoken-test.XXXXXX)" || return 1
    BT_PGDATA="$BT_TMPDIR/data"
    BT_SOCKDIR="$BT_TMPDIR/sock"
    BT_LOG="$BT_TMPDIR/server.log"
    BT_KEY_FILE="$BT_TMPDIR/keys"
    BT_LOG_OFFSET=0
    mkdir -p "$BT_SOCKDIR" || return 1
    : >"$BT_LOG" || return 1
    if ((EUID == 0)); then
        chown -R postgres:postgres "$BT_TMPDIR" || return 1
    fi
    chmod 0700 "$BT_TMPDIR" || return 1
    # C locale and UTF8: output and messages are the same on every machine.
    if ! out="$(as_postgres "$BT_BINDIR/initdb" -D "$BT_PGDATA" -U postgres \
        -A trust -E UTF8 --locale=C -N 2>&1)"; then
        printf '%s\n' "$out" >&2
        bt_say "initdb failed"
        return 1
    fi
    printf "\ninclude 'biotoken_harness.conf'\n" >>"$BT_PGDATA/postgresql.conf" || return 1
    # Key id 1, outside the data directory, as a DBA would set it up;
    # tests of the generated key file override biotoken.key_file.
    make_key_file "$BT_KEY_FILE" 0600 1 "${BT_KEY_HEX:-}" >/dev/null || return 1
}

# Write the settings of one start: harness defaults, then BT_EXTRA_CONF,
# then the caller's lines; PostgreSQL takes the last value of a setting.
bt_write_conf() {
    local port="$1" line libdir sharedir
    shift
    {
        echo "# written by tests/harness/common.sh for each start"
        echo "port = $port"
        echo "listen_addresses = '127.0.0.1'"
        echo "unix_socket_directories = $(bt_conf_quote "$BT_SOCKDIR")"
        echo "shared_preload_libraries = $(bt_conf_quote "$BT_PRELOAD")"
        # biotoken's audit writer plus parallel query workers
        echo "max_worker_processes = 16"
        echo "max_connections = 40"
        echo "log_min_messages = warning"
        echo "lc_messages = 'C'"
        # a throwaway cluster: durability against OS crashes is not needed
        echo "fsync = off"
        echo "full_page_writes = off"
        echo "biotoken.key_file = $(bt_conf_quote "$BT_KEY_FILE")"
        if [[ -n "${BT_DESTDIR:-}" ]]; then
            libdir="$("$PG_CONFIG" --pkglibdir)" || return 1
            # Debian's PostgreSQL up to 17 looks for control and script
            # files under extension_destdir first; 18 has none, but a path
            # of its own (each entry a share directory, "extension" added).
            # The preload library is found through dynamic_library_path.
            if (($("$PG_CONFIG" --version | sed 's/^PostgreSQL \([0-9]*\).*/\1/') >= 18)); then
                sharedir="$("$PG_CONFIG" --sharedir)" || return 1
                echo "extension_control_path = $(bt_conf_quote "$BT_DESTDIR$sharedir:\$system")"
            else
                echo "extension_destdir = $(bt_conf_quote "$BT_DESTDIR")"
            fi
            echo "dynamic_library_path = $(bt_conf_quote "$BT_DESTDIR$libdir:\$libdir")"
        fi
        if [[ -n "${BT_EXTRA_CONF:-}" ]]; then
            printf '%s\n' "$BT_EXTRA_CONF"
        fi
        for line in "$@"; do
            printf '%s\n' "$line"
        done
    } >"$BT_PGDATA/biotoken_harness.conf"
}

try_start_server() {
    local port attempt rc
    if ((BT_RUNNING)); then
        bt_say "server already running; use restart_server"
        return 1
    fi
    init_cluster || return 1
    for ((attempt = 0; attempt < 5; attempt++)); do
        port="$(bt_pick_port)" || return 1
        bt_write_conf "$port" "$@" || return 1
        BT_LOG_OFFSET="$(stat -c %s "$BT_LOG")" || return 1
        rc=0
        as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -l "$BT_LOG" \
            -w -t 60 -s start >/dev/null 2>&1 || rc=$?
        if ((rc == 0)); then
            BT_RUNNING=1
            export PGHOST="$BT_SOCKDIR" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
            return 0
        fi
        # Lost the race for the port to another cluster: pick another.
        if ! server_log_since_start | grep -q -e 'could not bind' \
            -e 'could not create any TCP/IP sockets'; then
            break
        fi
    done
    # pg_ctl may give up while a slow postmaster still runs: make sure
    # nothing is left behind before reporting the failure.
    as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m immediate -s stop >/dev/null 2>&1 || true
    return 1
}

start_server() {
    if try_start_server "$@"; then
        return 0
    fi
    bt_say "the server did not start; server log since the start:"
    server_log_since_start | tail -n 40 | sed 's/^/    /' >&2
    return 1
}

stop_server() {
    if ((!BT_RUNNING)); then
        return 0
    fi
    BT_RUNNING=0
    if ! as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m fast -w -t 60 -s stop >/dev/null 2>&1; then
        as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m immediate -w -s stop >/dev/null 2>&1 || true
    fi
    unset PGHOST PGPORT
}

restart_server() {
    stop_server || return 1
    start_server "$@"
}

destroy_cluster() {
    stop_server
    # A postmaster that pg_ctl lost track of must not outlive the test.
    if [[ -n "$BT_PGDATA" && -f "$BT_PGDATA/postmaster.pid" ]]; then
        as_postgres "$BT_BINDIR/pg_ctl" -D "$BT_PGDATA" -m immediate -s stop >/dev/null 2>&1 || true
    fi
    if [[ -n "$BT_TMPDIR" && -d "$BT_TMPDIR" ]]; then
        rm -rf "$BT_TMPDIR"
    fi
    BT_TMPDIR=""
    BT_PGDATA=""
    BT_LOG=""
    BT_SOCKDIR=""
    BT_KEY_FILE=""
}

cleanup_server() {
    if [[ "${BT_KEEP:-0}" == 1 && -n "$BT_TMPDIR" ]]; then
        stop_server
        bt_say "kept $BT_TMPDIR (BT_KEEP=1)"
        return 0
    fi
    destroy_cluster
}

server_log_since_start() {
    if [[ -n "$BT_LOG" && -f "$BT_LOG" ]]; then
        tail -c +"$((BT_LOG_OFFSET + 1))" "$BT_LOG"
    fi
}

# server_log_has ERE: the log since the last start matches ERE.  (Not a
# pipe into grep -q: with pipefail, grep's early exit fails the pipe.)
server_log_has() {
    local log
    log="$(server_log_since_start)"
    grep -q -E -e "$1" <<<"$log"
}

server_log_tail() {
    if [[ -n "$BT_LOG" && -f "$BT_LOG" ]]; then
        tail -n "${1:-40}" "$BT_LOG"
    fi
}

#
# lock_access_log DB RELEASE [LOCKED]
#	Hold biotoken.access_log of database DB in EXCLUSIVE mode from a
#	background session until the file RELEASE appears, so that the
#	writer cannot insert; sets BT_LOCKER_PID.  The file LOCKED (default: a
#	new name) appears once the lock is held.  Returns non-zero if the lock
#	was not taken within 10 seconds.
#
lock_access_log() {
    local db="$1" release="$2" locked="${3:-}" i
    [[ -n "$locked" ]] || locked="$(mktemp -u "$BT_TMPDIR/locked.XXXXXX")"
    (
        bt_psql -d "$db" -q <<SQL
BEGIN;
LOCK TABLE biotoken.access_log IN EXCLUSIVE MODE;
\! touch $locked
DO \$\$ BEGIN
    WHILE (pg_stat_file('$release', true)).size IS NULL LOOP
        PERFORM pg_sleep(0.05);
    END LOOP;
END \$\$;
COMMIT;
SQL
    ) &
    BT_LOCKER_PID=$!
    for ((i = 0; i < 200; i++)); do
        [[ -e $locked ]] && return 0
        sleep 0.05
    done
    return 1
}

#
# TAP output for tests/cluster/*.sh.  run_tests.sh counts the "ok" and
# "not ok" lines and checks them against the plan; a script that dies
# early therefore fails even though it printed no "not ok".
#
BT_TAP_N=0
BT_TAP_FAILED=0

tap_plan() {
    printf '1..%d\n' "$1"
}

tap_pass() {
    BT_TAP_N=$((BT_TAP_N + 1))
    printf 'ok %d - %s\n' "$BT_TAP_N" "$1"
}

tap_fail() {
    local desc="$1"
    shift
    BT_TAP_N=$((BT_TAP_N + 1))
    BT_TAP_FAILED=$((BT_TAP_FAILED + 1))
    printf 'not ok %d - %s\n' "$BT_TAP_N" "$desc"
    if (($# > 0)); then
        tap_diag "$@"
    fi
}

# Every line of the arguments as a TAP comment.
tap_diag() {
    printf '%s\n' "$@" | sed 's/^/# /'
}

# tap_ok DESC CMD...: passes if CMD succeeds.
tap_ok() {
    local desc="$1"
    shift
    if "$@"; then
        tap_pass "$desc"
    else
        tap_fail "$desc" "command failed: $*"
    fi
}

# tap_not DESC CMD...: passes if CMD fails.
tap_not() {
    local desc="$1"
    shift
    if "$@"; then
        tap_fail "$desc" "command unexpectedly succeeded: $*"
    else
        tap_pass "$desc"
    fi
}

# tap_start_fails DESC [LINE...]: passes if the server refuses to start
# with these settings.  A server that does start is stopped again, so the
# next start in the script is a real attempt, not "already running".
tap_start_fails() {
    local desc="$1"
    shift
    if try_start_server "$@"; then
        stop_server
        tap_fail "$desc" "the server started"
    else
        tap_pass "$desc"
    fi
}

tap_is() {
    if [[ "$1" == "$2" ]]; then
        tap_pass "$3"
    else
        tap_fail "$3" "got:      '$1'" "expected: '$2'"
    fi
}

tap_bail() {
    printf 'Bail out! %s\n' "$*"
    exit 1
}

# Stop and remove the cluster however the script ends, and make a TAP
# script that printed "not ok" exit non-zero even if it ran to the end.
bt_on_exit() {
    local rc=$?
    cleanup_server
    if ((rc == 0 && BT_TAP_FAILED > 0)); then
        rc=1
    fi
    exit "$rc"
}

# INT and TERM go through exit so the EXIT trap runs.
trap bt_on_exit EXIT
trap 'exit 130' INT TERM
