/* extension/biotoken--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION biotoken UPDATE TO '1.1'" to load this file. \quit

-- The full 1.1 install script is biotoken--1.0.sql followed by this file
-- (the Makefile concatenates them into biotoken--1.1.sql), so everything
-- here must work both on a fresh 1.0 install and on an updated one.
-- One section per concern; keep each change inside its own section.

-- ====================================================================
-- Guard and lineage (guard.c, lineage.c, labels.c)
-- ====================================================================

-- separation_report() also names the publications that replicate a mixed
-- table's biometric and identity or financial columns together (issue 9):
-- a fifth column, so its result type changes and it is made anew.
DROP FUNCTION biotoken.separation_report();
-- SECURITY DEFINER: see biotoken--1.0.sql.
CREATE FUNCTION biotoken.separation_report()
	RETURNS TABLE(relation regclass, biometric_columns text[],
				  other_columns text[], grant_ids bigint[],
				  publications name[])
	LANGUAGE sql STABLE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
	AS $$
	WITH cols AS (
		-- partitions are reported through their parent, which covers them
		SELECT cc.relation, cc.column_name, cc.category, a.attnum
		  FROM biotoken.classified_columns cc
		  JOIN pg_catalog.pg_class c ON c.oid = cc.relation
		  JOIN pg_catalog.pg_attribute a
			ON a.attrelid = cc.relation AND a.attname = cc.column_name
		 WHERE NOT c.relispartition
	), mixed AS (
		SELECT cols.relation,
			   pg_catalog.array_agg(cols.column_name::text ORDER BY cols.attnum)
				   FILTER (WHERE cols.category = 'biometric') AS biometric_columns,
			   pg_catalog.array_agg(cols.column_name::text ORDER BY cols.attnum)
				   FILTER (WHERE cols.category IN ('identity', 'financial')) AS other_columns
		  FROM cols
		 GROUP BY cols.relation
	)
	SELECT m.relation, m.biometric_columns, m.other_columns,
		   -- a grant covers the table when it lists no tables, or lists the
		   -- table or an ancestor (DESIGN.md, Audit grants); one listing a
		   -- partition or child covers that part of the table's data
		   ARRAY(SELECT g.grant_id
				   FROM biotoken.audit_grants g
				  WHERE g.revoked_at IS NULL
					AND g.expires_at OPERATOR(pg_catalog.>) pg_catalog.clock_timestamp()
					AND (g.relations IS NULL
					 OR g.relations::oid[] OPERATOR(pg_catalog.&&) ARRAY(
						  WITH RECURSIVE up(relid) AS (
							  SELECT m.relation::oid
							  UNION
							  SELECT i.inhparent
								FROM pg_catalog.pg_inherits i
								JOIN up ON i.inhrelid = up.relid),
						  down(relid) AS (
							  SELECT m.relation::oid
							  UNION
							  SELECT i.inhrelid
								FROM pg_catalog.pg_inherits i
								JOIN down ON i.inhparent = down.relid)
						  SELECT up.relid FROM up
						  UNION
						  SELECT down.relid FROM down))
				  ORDER BY g.grant_id),
		   -- logical replication sends whole published rows to any role
		   -- with REPLICATION, and subscribers get no labels: the
		   -- publications whose column list carries both kinds of columns
		   -- of this table (or of one of its partitions)
		   ARRAY(SELECT DISTINCT pt.pubname
				   FROM pg_catalog.pg_publication_tables pt
				   JOIN pg_catalog.pg_namespace pn ON pn.nspname = pt.schemaname
				   JOIN pg_catalog.pg_class pc
					 ON pc.relnamespace = pn.oid AND pc.relname = pt.tablename
				  WHERE (pc.oid OPERATOR(pg_catalog.=) m.relation::oid
						 OR pc.oid IN (SELECT pt2.relid
										 FROM pg_catalog.pg_partition_tree(m.relation) pt2))
					AND pt.attnames OPERATOR(pg_catalog.&&) m.biometric_columns::name[]
					AND pt.attnames OPERATOR(pg_catalog.&&) m.other_columns::name[]
				  ORDER BY pt.pubname)
	  FROM mixed m
	  JOIN pg_catalog.pg_class c ON c.oid = m.relation
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE m.biometric_columns IS NOT NULL AND m.other_columns IS NOT NULL
	 ORDER BY n.nspname, c.relname
	$$;
COMMENT ON FUNCTION biotoken.separation_report() IS
	'tables that keep biometric columns together with identity or financial columns, the active audit grants that cover them, and the publications that replicate both';
REVOKE ALL ON FUNCTION biotoken.separation_report() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.separation_report() TO biotoken_admin;

-- ====================================================================
-- Hardening: install, roles, profiles, keys, settings, DROP (issue #10)
-- ====================================================================

-- pg_dump carries no live power: audit grants are not dumped, since a
-- restored grant would be in force in the new database with no grant
-- record in its access log.  Only the id sequence is, so that grant ids
-- of the new database never repeat those its dumped log rows name.
-- (Calling pg_extension_config_dump again replaces the table's filter.)
SELECT pg_catalog.pg_extension_config_dump('biotoken.audit_grants', 'WHERE false');

-- Key check values: the first use of a key id in this database records an
-- HKDF output of that key under its own label (safe to store: it reveals
-- nothing of the key or its sub-keys); every backend compares it when it
-- first uses the key id, so a different key under a known id is a clear
-- error, not silent non-matches.  Written by the library only; dumped, so
-- a restored database still knows which keys made its templates.
CREATE TABLE biotoken.key_checks (
	key_id int PRIMARY KEY CHECK (key_id BETWEEN 1 AND 65535),
	check_value bytea NOT NULL CHECK (pg_catalog.length(check_value) = 32),
	recorded_at timestamptz NOT NULL
);
COMMENT ON TABLE biotoken.key_checks IS
	'key check values: which key each key id named when this database first used it; a different key under the same id is refused';
REVOKE ALL ON biotoken.key_checks FROM PUBLIC;
GRANT SELECT ON biotoken.key_checks TO biotoken_admin, biotoken_auditor;
SELECT pg_catalog.pg_extension_config_dump('biotoken.key_checks', '');

-- ====================================================================
-- Secrets in logs, memory bounds (issue #16)
-- ====================================================================

-- Plans show a probe constant as 'redacted'::biotoken.redacted_probe
-- (redact.c retypes it after planning); nothing can be entered as one.
CREATE TYPE biotoken.redacted_probe;
CREATE FUNCTION biotoken.redacted_probe_in(cstring)
	RETURNS biotoken.redacted_probe
	AS 'MODULE_PATHNAME', 'biotoken_redacted_probe_in'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.redacted_probe_in(cstring) IS
	'input of biotoken.redacted_probe: always refused';
CREATE FUNCTION biotoken.redacted_probe_out(biotoken.redacted_probe)
	RETURNS cstring
	AS 'MODULE_PATHNAME', 'biotoken_redacted_probe_out'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.redacted_probe_out(biotoken.redacted_probe) IS
	'output of biotoken.redacted_probe: the word redacted, whatever the probe';
CREATE TYPE biotoken.redacted_probe (
	INPUT = biotoken.redacted_probe_in,
	OUTPUT = biotoken.redacted_probe_out,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = plain
);
COMMENT ON TYPE biotoken.redacted_probe IS
	'how plans (EXPLAIN, auto_explain) show a probe constant of a biotoken function';

-- ====================================================================
-- The access log: checkpoints, retention, capacity (issue #11)
-- ====================================================================

-- Two more kinds of row, written by the writer itself: a signed
-- checkpoint every biotoken.audit_checkpoint_rows rows (its prev_hash is
-- the chain head, its row_hash signs it), and the row archive-and-prune
-- leaves where it removed the head of the log.
ALTER TABLE biotoken.access_log DROP CONSTRAINT access_log_event_check;
ALTER TABLE biotoken.access_log ADD CONSTRAINT access_log_event_check
	CHECK (event IN ('refused', 'allowed', 'grant', 'revoke', 'label',
					 'setting', 'read', 'checkpoint', 'prune'));
COMMENT ON COLUMN biotoken.access_log.event IS
	'refused, allowed, grant, revoke, label, setting or read; checkpoint and prune rows are the log''s own';

CREATE FUNCTION biotoken.verify_access_log(from_id bigint,
	max_rows bigint DEFAULT 1000000,
	OUT valid boolean, OUT rows_checked bigint, OUT first_broken_id bigint,
	OUT reason text, OUT start_id bigint, OUT next_id bigint)
	AS 'MODULE_PATHNAME', 'biotoken_verify_access_log_from'
	LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION biotoken.verify_access_log(bigint, bigint) IS
	'checks the access log in a bounded chunk: from the last signed checkpoint at or before from_id, at most max_rows rows; next_id is where the next call goes on (NULL at the end)';
REVOKE ALL ON FUNCTION biotoken.verify_access_log(bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.verify_access_log(bigint, bigint) TO biotoken_auditor;

-- Retention: archive (export) the head of the log, then prune it.  The
-- prune record is found through this index when verification meets a log
-- that starts after row 1 (each one found is checked against its own hash).
CREATE INDEX access_log_prunes ON biotoken.access_log (id)
	WHERE event = 'prune';

CREATE FUNCTION biotoken.prune_access_log(before_id bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'biotoken_prune_access_log'
	LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION biotoken.prune_access_log(bigint) IS
	'removes the access-log rows before before_id (export them first), leaving a signed prune record so that the rest still verifies; returns the rows removed';
REVOKE ALL ON FUNCTION biotoken.prune_access_log(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.prune_access_log(bigint) TO biotoken_admin;

-- ====================================================================
-- Versions and packaging (issue #13)
-- ====================================================================

-- ====================================================================
-- A newcomer's first week: embeddings as double precision[], a template
-- size fixed per column (issue #15)
-- ====================================================================

-- biometric(N): a column whose templates all have N bits, whatever
-- biotoken.template_bits says in the session that enrolls.
CREATE FUNCTION @extschema@.biometric_typmod_in(cstring[]) RETURNS int4
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.biometric_typmod_out(int4) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
ALTER TYPE @extschema@.biometric SET (
	TYPMOD_IN = @extschema@.biometric_typmod_in,
	TYPMOD_OUT = @extschema@.biometric_typmod_out);

-- The length coercion to biometric(N) checks the template's size.
CREATE FUNCTION @extschema@.biometric(@extschema@.biometric, int4, boolean)
	RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME', 'biometric_coerce'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric(@extschema@.biometric, int4, boolean) IS
	'length coercion to biometric(N): refuses a template of another size';
CREATE CAST (@extschema@.biometric AS @extschema@.biometric)
	WITH FUNCTION @extschema@.biometric(@extschema@.biometric, int4, boolean)
	AS IMPLICIT;

-- Enrollment casts that know the target column's size.  The one-argument
-- biometric_enroll(real[]) stays as it was; no one-argument overload for
-- double precision[] is added, since two of them would make an untyped
-- '{...}' argument ambiguous.
CREATE FUNCTION @extschema@.biometric_enroll(embedding float4[], typmod int4,
	is_explicit boolean)
	RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME', 'biometric_enroll_typmod'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.biometric_enroll(float4[], int4, boolean) IS
	'the assignment cast from real[]: enrolls at the target column''s template size';
CREATE FUNCTION @extschema@.biometric_enroll(embedding float8[], typmod int4,
	is_explicit boolean)
	RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME', 'biometric_enroll_typmod'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.biometric_enroll(float8[], int4, boolean) IS
	'the assignment cast from double precision[]: enrolls at the target column''s template size';

DROP CAST (float4[] AS @extschema@.biometric);
CREATE CAST (float4[] AS @extschema@.biometric)
	WITH FUNCTION @extschema@.biometric_enroll(float4[], int4, boolean) AS ASSIGNMENT;
COMMENT ON CAST (float4[] AS @extschema@.biometric) IS
	'enrollment: the assignment cast turns an embedding into a template';
CREATE CAST (float8[] AS @extschema@.biometric)
	WITH FUNCTION @extschema@.biometric_enroll(float8[], int4, boolean) AS ASSIGNMENT;
COMMENT ON CAST (float8[] AS @extschema@.biometric) IS
	'enrollment from double precision[] (what most drivers send for a list of floats)';

-- biometric_info shows both key ids: key_id (the salt mask's, which
-- biometric_rekey() moves to the newest key) and projection_key_id (the
-- projection's, which only a new enrollment changes).
DROP FUNCTION @extschema@.biometric_info(@extschema@.biometric);
CREATE FUNCTION @extschema@.biometric_info(t @extschema@.biometric,
	OUT format int, OUT key_id int, OUT dims int, OUT bits int, OUT model text,
	OUT projection_key_id int)
	AS 'MODULE_PATHNAME', 'biometric_info_1_1'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_info(@extschema@.biometric) IS
	'format version, mask key id, dimensions, bit count, model profile and projection key id of a template';

-- Grant history for auditors: every grant ever given, with its state and
-- how often it let a statement through, without reconstructing it from
-- the access log.  Grant-related log rows are found through a partial
-- index (the rows without a grant, most of the log, are not in it).
CREATE INDEX access_log_grant_id ON biotoken.access_log (grant_id)
	WHERE grant_id IS NOT NULL;

CREATE VIEW biotoken.grant_history AS
	SELECT g.grant_id, g.grantee, g.grantor, g.purpose, g.relations,
		   g.granted_at, g.expires_at, g.revoked_at, g.revoked_by,
		   CASE
			   WHEN g.revoked_at IS NOT NULL THEN 'revoked'
			   WHEN g.expires_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp() THEN 'expired'
			   ELSE 'active'
		   END AS state,
		   u.uses, u.first_used, u.last_used
	  FROM biotoken.audit_grants g
	  LEFT JOIN LATERAL (
		  SELECT pg_catalog.count(*) AS uses,
				 pg_catalog.min(l.logged_at) AS first_used,
				 pg_catalog.max(l.logged_at) AS last_used
			FROM biotoken.access_log l
		   WHERE l.grant_id OPERATOR(pg_catalog.=) g.grant_id
			 AND l.event OPERATOR(pg_catalog.=) 'allowed') u ON true;
COMMENT ON VIEW biotoken.grant_history IS
	'every audit grant (active, expired or revoked) and how often it let a statement through; for biotoken_auditor and biotoken_admin';
COMMENT ON COLUMN biotoken.grant_history.state IS
	'active, expired or revoked, now';
COMMENT ON COLUMN biotoken.grant_history.uses IS
	'statements (and cursor fetches) the grant let through: its "allowed" rows in biotoken.access_log';
REVOKE ALL ON biotoken.grant_history FROM PUBLIC;
GRANT SELECT ON biotoken.grant_history TO biotoken_auditor, biotoken_admin;

-- Monitoring: this database's access-log queue and writer, and the log's
-- events per hour.
CREATE FUNCTION biotoken.access_log_status(OUT queued int,
	OUT oldest_queued_at timestamptz, OUT writer_pid int,
	OUT writer_state text, OUT waiting_for_writer_since timestamptz)
	AS 'MODULE_PATHNAME', 'biotoken_access_log_status'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION biotoken.access_log_status() IS
	'this database''s access-log queue (records waiting, since when) and writer';
REVOKE ALL ON FUNCTION biotoken.access_log_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.access_log_status() TO biotoken_auditor, biotoken_admin;

CREATE VIEW biotoken.access_log_hourly AS
	SELECT pg_catalog.date_trunc('hour', logged_at) AS hour,
		   pg_catalog.count(*) FILTER (WHERE event OPERATOR(pg_catalog.=) 'refused') AS refused,
		   pg_catalog.count(*) FILTER (WHERE event OPERATOR(pg_catalog.=) 'allowed') AS allowed,
		   pg_catalog.count(*) FILTER (WHERE event OPERATOR(pg_catalog.=) 'grant') AS grants,
		   pg_catalog.count(*) FILTER (WHERE event OPERATOR(pg_catalog.=) 'revoke') AS revokes,
		   pg_catalog.count(*) FILTER (WHERE event OPERATOR(pg_catalog.=) 'read') AS reads,
		   pg_catalog.count(*) AS events
	  FROM biotoken.access_log
	 GROUP BY 1;
COMMENT ON VIEW biotoken.access_log_hourly IS
	'refusals, allowed statements, grants, revocations and reads per hour, from the access log';
REVOKE ALL ON biotoken.access_log_hourly FROM PUBLIC;
GRANT SELECT ON biotoken.access_log_hourly TO biotoken_auditor, biotoken_admin;
