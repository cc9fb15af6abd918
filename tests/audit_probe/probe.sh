# tests/audit_probe/probe.sh: sourced by the access-log cluster tests after
# tests/harness/common.sh.  Builds the test-only probe library and creates
# its functions in a database.
#
#   audit_probe_build            build it and copy it into this cluster's
#                                directory (readable by postgres)
#   audit_probe_install DB       CREATE EXTENSION biotoken and the probe
#                                functions in DB (superuser)
#   audit_writer_pid DB          pid of DB's access-log writer, or nothing

BT_AUDIT_PROBE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

audit_probe_build() {
    make -s -C "$BT_AUDIT_PROBE_DIR" PG_CONFIG="$PG_CONFIG" >/dev/null || return 1
    [[ -n "$BT_TMPDIR" ]] || return 1
    cp "$BT_AUDIT_PROBE_DIR/audit_probe.so" "$BT_TMPDIR/audit_probe.so" || return 1
    if ((EUID == 0)); then
        chown postgres:postgres "$BT_TMPDIR/audit_probe.so" || return 1
    fi
}

audit_probe_install() {
    local db="$1" lib="$BT_TMPDIR/audit_probe"
    bt_psql -d "$db" <<SQL
CREATE EXTENSION IF NOT EXISTS biotoken;
CREATE FUNCTION audit_probe_write(event text, grant_id bigint, categories int,
                                  columns text[], detail text) RETURNS void
    AS '$lib', 'audit_probe_write' LANGUAGE C;
CREATE FUNCTION audit_probe_refuse(grant_id bigint, categories int,
                                   columns text[], detail text) RETURNS void
    AS '$lib', 'audit_probe_refuse' LANGUAGE C;
CREATE FUNCTION audit_probe_read(columns text[]) RETURNS void
    AS '$lib', 'audit_probe_read' LANGUAGE C STRICT;
SQL
}

audit_writer_pid() {
    bt_psql -d postgres -Atc "SELECT pid FROM pg_stat_activity
        WHERE backend_type = 'biotoken access log writer' AND datname = '$1'"
}
