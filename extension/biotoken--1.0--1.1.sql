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

-- ====================================================================
-- Versions and packaging (issue #13)
-- ====================================================================
