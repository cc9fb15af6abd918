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

-- ====================================================================
-- Versions and packaging (issue #13)
-- ====================================================================
