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
