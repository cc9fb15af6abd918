\echo Use "CREATE EXTENSION biotoken" to load this file. \quit

-- ====================================================================
-- Schema, roles and the preload check
-- ====================================================================

-- The administrative objects live in the schema "biotoken", which the
-- extension creates and owns.  A schema of that name that already exists
-- is refused, not adopted (the CVE-2022-2625 class): whoever made it
-- could have put tables, views or functions in it that a superuser or the
-- access-log writer would then use.  Every reference below is
-- schema-qualified, operators included, because this runs as the
-- superuser with the extension's schema on the search_path.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace
			   WHERE nspname OPERATOR(pg_catalog.=) 'biotoken') THEN
		RAISE EXCEPTION 'schema "biotoken" already exists'
			USING ERRCODE = '42P06',
				  DETAIL = 'The extension biotoken creates the schema "biotoken" itself and does not adopt an existing one, whose owner could have placed objects in it.',
				  HINT = 'Drop or rename the existing schema "biotoken" (after checking what it holds), then run CREATE EXTENSION again.';
	END IF;
END
$$;
CREATE SCHEMA biotoken;

CREATE FUNCTION biotoken.library_version() RETURNS text
	AS 'MODULE_PATHNAME', 'biotoken_library_version'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.library_version() IS
	'version of the loaded biotoken library';

-- Fails with SQLSTATE 55000 and a hint if biotoken was not preloaded.
SELECT biotoken.library_version();

-- The three roles are cluster-wide: an existing one (made by another
-- database's CREATE EXTENSION, or by a DBA beforehand) is adopted only if
-- it is a group role: NOLOGIN and without SUPERUSER, CREATEROLE,
-- REPLICATION or BYPASSRLS.  Anything else is refused: a role that can
-- log in or holds such an attribute, made by someone else under this
-- name, would receive the extension's privileges.
DO $$
DECLARE
	r text;
	rr record;
BEGIN
	FOREACH r IN ARRAY ARRAY['biotoken_admin', 'biotoken_auditor', 'biotoken_matcher']
	LOOP
		SELECT rolcanlogin, rolsuper, rolcreaterole, rolreplication, rolbypassrls
		  INTO rr
		  FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) r;
		IF NOT FOUND THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		ELSIF rr.rolcanlogin OR rr.rolsuper OR rr.rolcreaterole
			  OR rr.rolreplication OR rr.rolbypassrls THEN
			RAISE EXCEPTION 'role "%" already exists and is not a group role', r
				USING ERRCODE = '55000',
					  DETAIL = pg_catalog.format('The extension biotoken adopts an existing role "%s" only if it has NOLOGIN and none of SUPERUSER, CREATEROLE, REPLICATION and BYPASSRLS.', r),
					  HINT = pg_catalog.format('Drop the role "%s" or make it a group role (ALTER ROLE %I NOLOGIN NOSUPERUSER NOCREATEROLE NOREPLICATION NOBYPASSRLS), check its members, then run CREATE EXTENSION again.', r, r);
		END IF;
	END LOOP;
END
$$;

GRANT USAGE ON SCHEMA biotoken TO PUBLIC;

-- ====================================================================
-- The biometric type (template.c)
-- ====================================================================

CREATE TYPE @extschema@.biometric;

CREATE FUNCTION @extschema@.biometric_in(cstring) RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.biometric_out(@extschema@.biometric) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.biometric_recv(internal) RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.biometric_send(@extschema@.biometric) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.biometric (
	INPUT = @extschema@.biometric_in,
	OUTPUT = @extschema@.biometric_out,
	RECEIVE = @extschema@.biometric_recv,
	SEND = @extschema@.biometric_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = main
);
COMMENT ON TYPE @extschema@.biometric IS
	'protected biometric template: salted, keyed sign bits of a face embedding, never the embedding itself';
COMMENT ON FUNCTION @extschema@.biometric_in(cstring) IS
	'input function of biometric: accepts only the bt1 text form';
COMMENT ON FUNCTION @extschema@.biometric_out(@extschema@.biometric) IS
	'output function of biometric: the bt1 text form';
COMMENT ON FUNCTION @extschema@.biometric_recv(internal) IS
	'binary input function of biometric';
COMMENT ON FUNCTION @extschema@.biometric_send(@extschema@.biometric) IS
	'binary output function of biometric';

CREATE FUNCTION @extschema@.biometric_enroll(embedding float4[])
	RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.biometric_enroll(float4[]) IS
	'turn a raw embedding into a protected template (newest key, fresh salt)';

CREATE CAST (float4[] AS @extschema@.biometric)
	WITH FUNCTION @extschema@.biometric_enroll(float4[]) AS ASSIGNMENT;
COMMENT ON CAST (float4[] AS @extschema@.biometric) IS
	'enrollment: the assignment cast turns an embedding into a template';

CREATE FUNCTION @extschema@.biometric_info(t @extschema@.biometric,
	OUT format int, OUT key_id int, OUT dims int, OUT bits int, OUT model text)
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_info(@extschema@.biometric) IS
	'format version, key id, dimensions, bit count and model profile of a template';

CREATE FUNCTION @extschema@.biometric_rekey(t @extschema@.biometric)
	RETURNS @extschema@.biometric
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_rekey(@extschema@.biometric) IS
	're-salt a template under the newest key, without the raw embedding';

-- ====================================================================
-- Matching (template.c)
-- ====================================================================

CREATE FUNCTION @extschema@.biometric_verify(t @extschema@.biometric, probe float4[])
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_verify(@extschema@.biometric, float4[]) IS
	'whether the probe matches the template at biotoken.match_threshold';

CREATE FUNCTION @extschema@.biometric_verify(t @extschema@.biometric, probe float4[],
	max_distance float8)
	RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_verify(@extschema@.biometric, float4[], float8) IS
	'whether the probe matches the template at the given maximum distance';

CREATE FUNCTION @extschema@.biometric_distance(t @extschema@.biometric, probe float4[])
	RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, float4[]) IS
	'distance (0..1) between a template and a probe; for biotoken_matcher';

CREATE FUNCTION @extschema@.biometric_distance(t @extschema@.biometric, u @extschema@.biometric)
	RETURNS float8
	AS 'MODULE_PATHNAME', 'biometric_distance_template'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, @extschema@.biometric) IS
	'distance (0..1) between two templates of the same key; for biotoken_matcher';

CREATE OPERATOR @extschema@.<~> (
	LEFTARG = @extschema@.biometric,
	RIGHTARG = float4[],
	FUNCTION = @extschema@.biometric_distance
);
COMMENT ON OPERATOR @extschema@.<~> (@extschema@.biometric, float4[]) IS
	'distance between a template and a probe, for ORDER BY ... LIMIT k';

CREATE OPERATOR @extschema@.<~> (
	LEFTARG = @extschema@.biometric,
	RIGHTARG = @extschema@.biometric,
	FUNCTION = @extschema@.biometric_distance,
	COMMUTATOR = OPERATOR(@extschema@.<~>)
);
COMMENT ON OPERATOR @extschema@.<~> (@extschema@.biometric, @extschema@.biometric) IS
	'distance between two templates';

-- A score lets an attacker hill-climb towards a face: scores are for
-- biotoken_matcher only; verify (yes or no) stays open.
REVOKE ALL ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, float4[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, @extschema@.biometric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, float4[]) TO biotoken_matcher;
GRANT EXECUTE ON FUNCTION @extschema@.biometric_distance(@extschema@.biometric, @extschema@.biometric) TO biotoken_matcher;

-- ====================================================================
-- Identification index (flat.c)
-- ====================================================================

-- CREATE INDEX ON people USING biotoken_flat (face) makes
-- "ORDER BY face <~> probe LIMIT k" an exact brute-force Hamming scan done
-- inside the index, with no sort and no function call per row.  It returns
-- the same rows in the same order as a sequential scan (ties may come in
-- another order) and requires the same privilege (EXECUTE on
-- biometric_distance).  Access method names are database-wide, hence the
-- biotoken_ prefix.
CREATE FUNCTION biotoken.flat_handler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME', 'biotoken_flat_handler'
	LANGUAGE C STRICT;
COMMENT ON FUNCTION biotoken.flat_handler(internal) IS
	'index access method handler of biotoken_flat';

CREATE ACCESS METHOD biotoken_flat TYPE INDEX HANDLER biotoken.flat_handler;
COMMENT ON ACCESS METHOD biotoken_flat IS
	'identification index for biometric: exact ORDER BY face <~> probe LIMIT k by a scan of densely packed templates, no sort';

CREATE OPERATOR CLASS @extschema@.biometric_flat_ops
	DEFAULT FOR TYPE @extschema@.biometric USING biotoken_flat AS
	OPERATOR 1 @extschema@.<~> (@extschema@.biometric, float4[])
		FOR ORDER BY pg_catalog.float_ops;
COMMENT ON OPERATOR CLASS @extschema@.biometric_flat_ops USING biotoken_flat IS
	'default biotoken_flat operator class: orders templates by distance to a probe (<~>)';
COMMENT ON OPERATOR FAMILY @extschema@.biometric_flat_ops USING biotoken_flat IS
	'biotoken_flat operator family of biometric';

-- ====================================================================
-- Model profiles (models.c)
-- ====================================================================

CREATE TABLE biotoken.model_profiles (
	model_id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name <> '' AND length(name) < 64),
	dims int NOT NULL CHECK (dims BETWEEN 1 AND 16000),
	mean float4[] NOT NULL CHECK (array_ndims(mean) = 1
								  AND array_length(mean, 1) = dims
								  AND array_position(mean, NULL) IS NULL),
	registered_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	registered_by name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE biotoken.model_profiles IS
	'model profiles: the mean embedding of a face model, subtracted before projection; append-only';
SELECT pg_catalog.pg_extension_config_dump('biotoken.model_profiles', '');
SELECT pg_catalog.pg_extension_config_dump('biotoken.model_profiles_model_id_seq', '');
GRANT SELECT (model_id, name, dims, registered_at, registered_by)
	ON biotoken.model_profiles TO PUBLIC;

-- Templates record their profile's id: a profile must never change.
CREATE FUNCTION biotoken.model_profiles_append_only() RETURNS trigger
	LANGUAGE plpgsql
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	RAISE EXCEPTION 'model profiles cannot be changed or removed'
		USING ERRCODE = '42501',
			  DETAIL = 'Templates record the profile they were enrolled with.',
			  HINT = 'Register a new profile under a new name.';
END
$$;
COMMENT ON FUNCTION biotoken.model_profiles_append_only() IS
	'refuses UPDATE, DELETE and TRUNCATE on biotoken.model_profiles';
CREATE TRIGGER model_profiles_append_only
	BEFORE UPDATE OR DELETE ON biotoken.model_profiles
	FOR EACH ROW EXECUTE FUNCTION biotoken.model_profiles_append_only();
CREATE TRIGGER model_profiles_no_truncate
	BEFORE TRUNCATE ON biotoken.model_profiles
	FOR EACH STATEMENT EXECUTE FUNCTION biotoken.model_profiles_append_only();

CREATE FUNCTION biotoken.register_model(name text, dims int, mean float4[])
	RETURNS int
	AS 'MODULE_PATHNAME', 'biotoken_register_model'
	LANGUAGE C STRICT VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION biotoken.register_model(text, int, float4[]) IS
	'register a model profile (mean embedding) for biotoken.model; returns its id';
REVOKE ALL ON FUNCTION biotoken.register_model(text, int, float4[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.register_model(text, int, float4[]) TO biotoken_admin;

-- ====================================================================
-- Classification (labels.c)
-- ====================================================================

-- Columns are classified by type (biometric, and domains, arrays and
-- composites of it) and by SECURITY LABEL FOR biotoken ('biometric',
-- 'identity', 'financial'); labels of a parent's columns cover its
-- partitions and children.  When the guard copies classified data into a
-- column it labels the column too, and records the provenance here.
-- labels.c writes the rows directly (no privilege on the table is needed
-- by whoever made the copy) and deletes them with the column or table.
CREATE TABLE biotoken.label_lineage (
	relid regclass NOT NULL,
	attnum int2 NOT NULL CHECK (attnum > 0),
	column_name name NOT NULL,
	category text NOT NULL
		CHECK (category IN ('biometric', 'identity', 'financial')),
	source_columns text[] NOT NULL,
	labelled_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	labelled_by name NOT NULL DEFAULT session_user,
	PRIMARY KEY (relid, attnum)
);
COMMENT ON TABLE biotoken.label_lineage IS
	'provenance of labels set by lineage: the column received data copied from classified columns';
COMMENT ON COLUMN biotoken.label_lineage.relid IS
	'the relation whose column was labelled';
COMMENT ON COLUMN biotoken.label_lineage.attnum IS
	'the column''s number when it was labelled';
COMMENT ON COLUMN biotoken.label_lineage.column_name IS
	'the column''s name when it was labelled';
COMMENT ON COLUMN biotoken.label_lineage.category IS
	'the category the label gave the column';
COMMENT ON COLUMN biotoken.label_lineage.source_columns IS
	'the classified columns the data came from, as schema.table.column';
COMMENT ON COLUMN biotoken.label_lineage.labelled_at IS
	'start of the transaction that set the label';
COMMENT ON COLUMN biotoken.label_lineage.labelled_by IS
	'session user of the transaction that set the label';
-- Dumped for pg_dump/pg_restore, except rows of temporary tables and of
-- relations that no longer exist (their regclass would not restore).
SELECT pg_catalog.pg_extension_config_dump('biotoken.label_lineage',
	'WHERE relid::pg_catalog.oid IN (SELECT c.oid FROM pg_catalog.pg_class c '
	'WHERE c.relpersistence OPERATOR(pg_catalog.<>) ''t'')');
REVOKE ALL ON biotoken.label_lineage FROM PUBLIC;
GRANT SELECT ON biotoken.label_lineage TO PUBLIC;

CREATE FUNCTION biotoken.classified_columns_internal(
	OUT relation regclass, OUT column_name name,
	OUT category text, OUT source text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'biotoken_classified_columns_internal'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.classified_columns_internal() IS
	'every classified column of the database as the guard sees it; use the view biotoken.classified_columns';

-- Classification is metadata, like pg_seclabels and pg_attribute, which
-- every role can read already: the view is readable by PUBLIC.
CREATE VIEW biotoken.classified_columns AS
	SELECT relation, column_name, category, source
	FROM biotoken.classified_columns_internal();
COMMENT ON VIEW biotoken.classified_columns IS
	'every classified column of every table, partition, materialized view and foreign table in the database';
COMMENT ON COLUMN biotoken.classified_columns.relation IS
	'the relation';
COMMENT ON COLUMN biotoken.classified_columns.column_name IS
	'the column';
COMMENT ON COLUMN biotoken.classified_columns.category IS
	'biometric, identity or financial; the strongest when several apply';
COMMENT ON COLUMN biotoken.classified_columns.source IS
	'type (biometric by type), label (own label), inherited (a parent''s label) or lineage (labelled by a copy)';
GRANT SELECT ON biotoken.classified_columns TO PUBLIC;

-- ====================================================================
-- Audit grants (grants.c)
-- ====================================================================

-- One row per audit grant.  Only the extension owner writes it, through
-- the SECURITY DEFINER functions below; rows are revoked, never deleted.
CREATE TABLE biotoken.audit_grants (
	grant_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	grantee regrole NOT NULL,
	grantor regrole NOT NULL,
	purpose text NOT NULL CHECK (pg_catalog.btrim(purpose) <> ''),
	granted_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	relations regclass[] CHECK (pg_catalog.cardinality(relations) > 0),
	revoked_at timestamptz,
	revoked_by regrole,
	CHECK (expires_at > granted_at),
	CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
COMMENT ON TABLE biotoken.audit_grants IS
	'audit grants: who may combine biometric with identity or financial data, why, until when, on which tables';
REVOKE ALL ON biotoken.audit_grants FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('biotoken.audit_grants', '');
SELECT pg_catalog.pg_extension_config_dump('biotoken.audit_grants_grant_id_seq', '');

CREATE FUNCTION biotoken.grant_audit(grantee regrole, purpose text,
	valid_for interval DEFAULT '1 hour', relations regclass[] DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'biotoken_grant_audit'
	LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION biotoken.grant_audit(regrole, text, interval, regclass[]) IS
	'give grantee an audit grant for purpose, valid_for long, on relations (NULL: all); returns the grant id';
REVOKE ALL ON FUNCTION biotoken.grant_audit(regrole, text, interval, regclass[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.grant_audit(regrole, text, interval, regclass[]) TO biotoken_admin;

CREATE FUNCTION biotoken.revoke_audit(grant_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'biotoken_revoke_audit'
	LANGUAGE C STRICT VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION biotoken.revoke_audit(bigint) IS
	'revoke an audit grant at once';
REVOKE ALL ON FUNCTION biotoken.revoke_audit(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.revoke_audit(bigint) TO biotoken_admin;

-- The row filter of active_grants; it reveals only the session user's own
-- memberships.
CREATE FUNCTION biotoken.grant_is_visible(grantee regrole, grantor regrole)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'biotoken_grant_is_visible'
	LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.grant_is_visible(regrole, regrole) IS
	'whether the session user may see a grant in biotoken.active_grants';

CREATE VIEW biotoken.active_grants WITH (security_barrier) AS
	SELECT grant_id, grantee, grantor, purpose, granted_at, expires_at,
		   relations
	  FROM biotoken.audit_grants
	 WHERE revoked_at IS NULL
	   AND expires_at > pg_catalog.clock_timestamp()
	   AND biotoken.grant_is_visible(grantee, grantor);
COMMENT ON VIEW biotoken.active_grants IS
	'audit grants in force: all of them for biotoken_admin and biotoken_auditor, the ones covering you for everyone else';
GRANT SELECT ON biotoken.active_grants TO PUBLIC;

-- ====================================================================
-- The guard (guard.c)
-- ====================================================================

-- ====================================================================
-- The access log (audit.c, audit_worker.c)
-- ====================================================================

-- One row per event, written only by the access-log writer (a background
-- worker) in its own transactions; row_hash chains every row to the one
-- before it (see audit_worker.c for the exact serialization).  key_id names
-- the key whose log sub-key made row_hash, so keys can be rotated.
CREATE TABLE biotoken.access_log (
	id bigint PRIMARY KEY,
	logged_at timestamptz NOT NULL,
	event text NOT NULL CHECK (event IN ('refused', 'allowed', 'grant', 'revoke',
										 'label', 'setting', 'read')),
	session_user_name name,
	current_user_name name,
	login_user_name name,
	client_addr inet,
	application_name text,
	backend_pid int,
	grant_id bigint,
	categories text[],
	columns text[],
	query_id bigint,
	statement text,
	detail jsonb,
	key_id int NOT NULL,
	prev_hash bytea,
	row_hash bytea NOT NULL
);
COMMENT ON TABLE biotoken.access_log IS
	'the access log: one row per refused or granted combining statement, grant, revoke, label or setting change (and read, with biotoken.log_reads); append-only, hash-chained';
COMMENT ON COLUMN biotoken.access_log.id IS 'row number, gapless from 1';
COMMENT ON COLUMN biotoken.access_log.logged_at IS 'when the event happened';
COMMENT ON COLUMN biotoken.access_log.event IS 'refused, allowed, grant, revoke, label, setting or read';
COMMENT ON COLUMN biotoken.access_log.login_user_name IS 'the role the client logged in as';
COMMENT ON COLUMN biotoken.access_log.grant_id IS 'the audit grant used, given or revoked';
COMMENT ON COLUMN biotoken.access_log.categories IS 'the categories of data involved';
COMMENT ON COLUMN biotoken.access_log.columns IS 'the columns involved, as schema.table.column';
COMMENT ON COLUMN biotoken.access_log.query_id IS 'the query identifier, as in pg_stat_statements';
COMMENT ON COLUMN biotoken.access_log.statement IS 'the top-level statement with every literal replaced by $n and comments removed';
COMMENT ON COLUMN biotoken.access_log.detail IS 'event-specific facts (purpose, expiry, old and new label or setting, ...)';
COMMENT ON COLUMN biotoken.access_log.key_id IS 'the biotoken key whose log sub-key made row_hash';
COMMENT ON COLUMN biotoken.access_log.prev_hash IS 'row_hash of the previous row (NULL for row 1)';
COMMENT ON COLUMN biotoken.access_log.row_hash IS 'HMAC-SHA256 with the log key over every other column of the row';

REVOKE ALL ON biotoken.access_log FROM PUBLIC;
GRANT SELECT ON biotoken.access_log TO biotoken_auditor;

CREATE FUNCTION biotoken.access_log_append_only() RETURNS trigger
	AS 'MODULE_PATHNAME', 'biotoken_access_log_append_only'
	LANGUAGE C;
COMMENT ON FUNCTION biotoken.access_log_append_only() IS
	'refuses INSERT (except by the access-log writer), UPDATE, DELETE and TRUNCATE on biotoken.access_log';
REVOKE ALL ON FUNCTION biotoken.access_log_append_only() FROM PUBLIC;

CREATE TRIGGER access_log_append_only
	BEFORE INSERT OR UPDATE OR DELETE ON biotoken.access_log
	FOR EACH ROW EXECUTE FUNCTION biotoken.access_log_append_only();
CREATE TRIGGER access_log_no_truncate
	BEFORE TRUNCATE ON biotoken.access_log
	FOR EACH STATEMENT EXECUTE FUNCTION biotoken.access_log_append_only();
-- also under session_replication_role = replica
ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_append_only;
ALTER TABLE biotoken.access_log ENABLE ALWAYS TRIGGER access_log_no_truncate;

CREATE FUNCTION biotoken.verify_access_log(OUT valid boolean,
	OUT rows_checked bigint, OUT first_broken_id bigint, OUT reason text)
	AS 'MODULE_PATHNAME', 'biotoken_verify_access_log'
	LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION biotoken.verify_access_log() IS
	'checks the hash chain of the whole access log: whether it holds, rows checked, the first row that breaks it and why';
REVOKE ALL ON FUNCTION biotoken.verify_access_log() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.verify_access_log() TO biotoken_auditor;

-- ====================================================================
-- Discovery (discover.c)
-- ====================================================================

CREATE FUNCTION biotoken.valid_cn_resident_id(value text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'biotoken_valid_cn_resident_id'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.valid_cn_resident_id(text) IS
	'whether the text is a Chinese resident identity number: 18 characters, ISO 7064 MOD 11-2 check character, province code, real birth date (1900-2099)';

CREATE FUNCTION biotoken.valid_iban(value text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'biotoken_valid_iban'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.valid_iban(text) IS
	'whether the text is an IBAN: registered country and its length, check digits, mod 97 = 1; spaces between groups and lower case allowed';

CREATE FUNCTION biotoken.valid_payment_card(value text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'biotoken_valid_payment_card'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.valid_payment_card(text) IS
	'whether the text is a payment card number: 13-19 digits (single spaces or dashes between), Luhn, a known scheme''s prefix and length';

CREATE FUNCTION biotoken.valid_us_ssn(value text) RETURNS boolean
	AS 'MODULE_PATHNAME', 'biotoken_valid_us_ssn'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION biotoken.valid_us_ssn(text) IS
	'whether the text is a US social security number (AAA-GG-SSSS or 9 digits): area not 000, 666 or 900-999, group not 00, serial not 0000';

-- Reads the catalogs and, as the calling user, a bounded sample of the
-- unclassified text and integer columns of every table it may SELECT;
-- returns counts, never values.
CREATE FUNCTION biotoken.discover(sample_rows int DEFAULT 1000)
	RETURNS TABLE(relation regclass, column_name name,
				  suggested_category text, reason text, confidence real)
	AS 'MODULE_PATHNAME', 'biotoken_discover'
	LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE ROWS 20;
COMMENT ON FUNCTION biotoken.discover(int) IS
	'suggest unclassified columns to classify, from their names and validated samples of their content (sample_rows per table; 0 = names only)';
REVOKE ALL ON FUNCTION biotoken.discover(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.discover(int) TO biotoken_admin;

-- Reads only the catalogs, through biotoken.classified_columns, and the
-- grants in force in biotoken.audit_grants; no table data.
--
-- SECURITY DEFINER so that the grant list is complete for every caller
-- allowed to run the report: biotoken.active_grants filters on the
-- session user's membership, ignoring superuser status, and would show a
-- superuser outside biotoken_admin no grants at all, understating what is
-- exposed.  The predicate below is that of active_grants without the
-- filter; the function returns grant ids only, and only biotoken_admin
-- may execute it.
CREATE FUNCTION biotoken.separation_report()
	RETURNS TABLE(relation regclass, biometric_columns text[],
				  other_columns text[], grant_ids bigint[])
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
				  ORDER BY g.grant_id)
	  FROM mixed m
	  JOIN pg_catalog.pg_class c ON c.oid = m.relation
	  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	 WHERE m.biometric_columns IS NOT NULL AND m.other_columns IS NOT NULL
	 ORDER BY n.nspname, c.relname
	$$;
COMMENT ON FUNCTION biotoken.separation_report() IS
	'tables that keep biometric columns together with identity or financial columns, and the active audit grants that cover them';
REVOKE ALL ON FUNCTION biotoken.separation_report() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION biotoken.separation_report() TO biotoken_admin;
