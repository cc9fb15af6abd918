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

-- ====================================================================
-- Hardening: install, roles, profiles, keys, settings, DROP (issue #10)
-- ====================================================================

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
