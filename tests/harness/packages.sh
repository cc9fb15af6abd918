# shellcheck shell=bash
#
# tests/harness/packages.sh
#	The Debian packages biotoken's build and tests need, for one
#	PostgreSQL major version.  Sourced by common.sh (the host, 15) and by
#	chroot.sh (the Debian chroots of the other majors), so both install
#	the same things.
#
# bt_packages MAJOR           the packages that must be installed
# bt_optional_packages MAJOR  packages installed where the archive has
#                             them (nothing in the suites needs them)
# bt_command_packages         "COMMAND PACKAGE" lines: PACKAGE is installed
#                             only if COMMAND is missing (a machine may
#                             have node from elsewhere: NodeSource's nodejs
#                             bundles npm, and Debian's npm conflicts)
#

bt_packages() {
    local major="$1"
    printf '%s\n' \
        make gcc libc6-dev libssl-dev \
        postgresql-common "postgresql-client-$major" \
        "postgresql-$major" "postgresql-server-dev-$major" \
        "postgresql-$major-pgtap" libtap-parser-sourcehandler-pgtap-perl \
        util-linux coreutils \
        python3-psycopg
}

bt_optional_packages() {
    local major="$1"
    # pgaudit: tests/bench/guard compares the guard's cost with it.
    printf '%s\n' "postgresql-$major-pgaudit"
}

# The driver tests (tests/cluster/drivers.sh) run node-postgres.
bt_command_packages() {
    printf '%s\n' "node nodejs" "npm npm"
}
