#!/usr/bin/env bash
#
# tests/harness/chroot.sh
#	Run biotoken's test suites against another PostgreSQL major, in a
#	Debian chroot that has that major's packages.  What
#	`make test PG_MAJOR=NN` runs.
#
#	Debian 12 carries only PostgreSQL 15; the archive also serves trixie
#	(PostgreSQL 17) and sid (PostgreSQL 18).  The chroot is made once
#	with debootstrap and kept outside the checkout (BT_CHROOT_CACHE);
#	later runs only check that its packages are still there.  Each run
#	copies the checkout (the files git knows, without build outputs) into
#	the chroot's /tmp and runs tests/harness/run_tests.sh there with the
#	chroot's pg_config, so the output and the closing "N passed, N failed"
#	line are the same as on 15.  The copy is removed afterwards.
#
# Usage: chroot.sh MAJOR [regress] [pgtap] [cluster]   run the suites
#        chroot.sh --prepare MAJOR                     only make the chroot
#
# Environment (all optional):
#   BT_CHROOT_CACHE   where chroots live (default /var/cache/biotoken-chroots)
#   BT_DEBIAN_MIRROR  the Debian archive (default http://deb.debian.org/debian)
#   BT_KEEP           1 = keep the copy of the checkout and the clusters
#
# Needs root (debootstrap, chroot, mount).  /proc, /dev and /dev/shm are
# mounted into the chroot while packages are installed and tests run, and
# unmounted however the script ends.  Runs on one chroot are serialised
# with a lock; runs on different majors may go in parallel.
#
set -euo pipefail

HARNESS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HARNESS_DIR/../.." && pwd)"
CACHE="${BT_CHROOT_CACHE:-/var/cache/biotoken-chroots}"
MIRROR="${BT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# shellcheck source=tests/harness/packages.sh
. "$HARNESS_DIR/packages.sh"

say() {
    printf 'chroot: %s\n' "$*" >&2
}

die() {
    say "ERROR: $*"
    exit 1
}

PREPARE_ONLY=0
if [[ "${1:-}" == --prepare ]]; then
    PREPARE_ONLY=1
    shift
fi
MAJOR="${1:-}"
shift || true

# The Debian suite that carries each major as its PostgreSQL.
case "$MAJOR" in
    17) SUITE=trixie ;;
    18) SUITE=sid ;;
    *) die "no Debian chroot is known for PostgreSQL '$MAJOR' (known: 17, 18; 15 runs on the host)" ;;
esac

((EUID == 0)) || die "run as root: making and entering a chroot needs it"

DIR="$CACHE/$SUITE"
MOUNTED=()
SRC=""
LOCAL_CAS=0

# Unmount what this run mounted, innermost first; remove the checkout copy.
cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTED[i]}" 2>/dev/null || umount -l "${MOUNTED[i]}" 2>/dev/null || true
    done
    MOUNTED=()
    if [[ -n "$SRC" && -d "$SRC" && "${BT_KEEP:-0}" != 1 ]]; then
        rm -rf --one-file-system "$SRC"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# mount_in TARGET MOUNT-ARGS...: mount at $DIR/TARGET unless already there.
mount_in() {
    local target="$DIR/$1"
    shift
    mkdir -p "$target"
    if mountpoint -q "$target"; then
        return 0
    fi
    mount "$@" "$target"
    MOUNTED+=("$target")
}

mount_all() {
    mount_in proc -t proc proc
    mount_in dev --bind /dev
    mount_in dev/shm --bind /dev/shm
}

# Run a command inside the chroot with a clean environment.
in_chroot() {
    chroot "$DIR" /usr/bin/env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt "$@"
}

# debootstrap the suite if no complete chroot is there (a marker file is
# written only when debootstrap succeeded, so a broken attempt is redone).
bootstrap() {
    if [[ -f "$DIR/.biotoken-debootstrap-done" ]]; then
        return 0
    fi
    if ! command -v debootstrap >/dev/null 2>&1; then
        say "installing debootstrap"
        apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
        apt-get -o DPkg::Lock::Timeout=300 install -y -q debootstrap >/dev/null
    fi
    if [[ -e "$DIR" ]]; then
        say "removing the incomplete chroot $DIR"
        for m in dev/shm dev/pts dev proc; do
            mountpoint -q "$DIR/$m" && umount -l "$DIR/$m"
        done
        rm -rf --one-file-system "$DIR"
    fi
    say "debootstrap $SUITE into $DIR (takes a few minutes; done once)"
    debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$CACHE/$SUITE.debootstrap.log" 2>&1 ||
        die "debootstrap failed; see $CACHE/$SUITE.debootstrap.log"
    touch "$DIR/.biotoken-debootstrap-done"
}

# Settings the chroot needs before apt runs in it.
configure() {
    # The postgres user inside must be able to reach /tmp through it.
    chmod 755 "$DIR"
    # Snapshots of sid carry a Release file past its Valid-Until date.
    cat >"$DIR/etc/apt/apt.conf.d/99biotoken" <<'EOF'
// written by biotoken's tests/harness/chroot.sh
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
Acquire::Retries "3";
EOF
    # Installing packages starts no services in the chroot ...
    printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"
    chmod 755 "$DIR/usr/sbin/policy-rc.d"
    # ... and postgresql-NN makes no "main" cluster: the tests make their own.
    mkdir -p "$DIR/etc/postgresql-common"
    printf 'create_main_cluster = false\n' >"$DIR/etc/postgresql-common/createcluster.conf"
    cp -L /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
    # The host's own certificate authorities (a proxy's, say), so that
    # npm reaches its registry from inside as it does outside.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        mkdir -p "$DIR/usr/local/share/ca-certificates"
        cp /usr/local/share/ca-certificates/*.crt "$DIR/usr/local/share/ca-certificates/"
        LOCAL_CAS=1
    fi
}

# Install whatever of the package list dpkg in the chroot lacks.
install_packages() {
    local pkg cmd missing=() optional=()
    for pkg in $(bt_packages "$MAJOR"); do
        in_chroot dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' ||
            missing+=("$pkg")
    done
    while read -r cmd pkg; do
        in_chroot sh -c "command -v $cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done < <(bt_command_packages)
    for pkg in $(bt_optional_packages "$MAJOR"); do
        in_chroot dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed' ||
            optional+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    in_chroot apt-get update -q >/dev/null || die "apt-get update failed in $DIR"
    for pkg in "${optional[@]}"; do
        if in_chroot apt-cache show "$pkg" >/dev/null 2>&1; then
            missing+=("$pkg")
        fi
    done
    say "installing into the $SUITE chroot: ${missing[*]}"
    in_chroot apt-get install -y -q "${missing[@]}" >"$CACHE/$SUITE.apt.log" 2>&1 ||
        die "apt-get install failed in $DIR; see $CACHE/$SUITE.apt.log"
    in_chroot test -x "/usr/lib/postgresql/$MAJOR/bin/pg_config" ||
        die "the $SUITE chroot has no /usr/lib/postgresql/$MAJOR/bin/pg_config"
}

# Add the host's certificate authorities copied by configure to the
# chroot's bundle (node reads it through NODE_EXTRA_CA_CERTS).
update_cas() {
    if ((LOCAL_CAS)) && in_chroot sh -c 'command -v update-ca-certificates' >/dev/null 2>&1; then
        in_chroot update-ca-certificates >/dev/null 2>&1 || say "update-ca-certificates failed"
    fi
}

# Copy the checkout's files (tracked and untracked, not ignored: no build
# outputs of another major) to a fresh directory under the chroot's /tmp.
copy_checkout() {
    SRC="$(mktemp -d "$DIR/tmp/biotoken-src.XXXXXX")"
    chmod 755 "$SRC"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
            tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
            tar -C "$SRC" -xf -
    else
        tar -C "$ROOT" --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
            --exclude=./results --exclude=./.git -cf - . | tar -C "$SRC" -xf -
    fi
}

mkdir -p "$CACHE"
exec 9>"$CACHE/$SUITE.lock"
if ! flock -n 9; then
    say "waiting for another run on the $SUITE chroot"
    flock -w 3600 9 || die "the $SUITE chroot stayed locked for an hour"
fi

bootstrap
configure
mount_all
install_packages
update_cas
if ((PREPARE_ONLY)); then
    say "the $SUITE chroot for PostgreSQL $MAJOR is ready: $DIR"
    exit 0
fi

copy_checkout
inside="${SRC#"$DIR"}"
say "running the tests in $DIR ($SUITE, PostgreSQL $MAJOR) from $inside"
rc=0
in_chroot BT_PG_MAJOR="$MAJOR" BT_KEEP="${BT_KEEP:-0}" \
    PG_CONFIG="/usr/lib/postgresql/$MAJOR/bin/pg_config" \
    BT_DESTDIR="$inside/.install" \
    bash "$inside/tests/harness/run_tests.sh" "$@" || rc=$?
exit "$rc"
