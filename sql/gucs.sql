--
-- gucs: every biotoken.* setting, its context, default and unit
--
SELECT name, setting, unit, context, vartype, boot_val
  FROM pg_settings WHERE name LIKE 'biotoken.%' AND name NOT LIKE 'biotoken.key_%'
 ORDER BY name;
-- the key settings are postmaster-only; they name a key source, never
-- hold key bytes
SELECT name, context, setting !~ '[0-9a-f]{64}' AS no_key_bytes
  FROM pg_settings WHERE name LIKE 'biotoken.key_%' ORDER BY name;

-- the prefix is reserved: a typo is an error, not a new placeholder
SET biotoken.gaurd = off;  -- fail

-- superuser-only settings
SET ROLE regress_biotoken_app;
SET biotoken.guard = off;  -- fail
SET biotoken.scope = transaction;  -- fail
SET biotoken.max_grant_duration = '48h';  -- fail
SET biotoken.audit_timeout = '1min';  -- fail
SET biotoken.log_reads = on;  -- fail
-- the key settings are hidden from ordinary users
SHOW biotoken.key_file;  -- fail
-- a wider threshold would be a score oracle: superuser only
SET biotoken.match_threshold = 0.25;  -- fail
SHOW biotoken.match_threshold;
-- user settings
SET biotoken.model = 'none';
SHOW biotoken.model;
RESET ROLE;
RESET biotoken.match_threshold;
RESET biotoken.model;

-- values and units
SET biotoken.scope = 'sometimes';  -- fail
SET biotoken.max_grant_duration = '90min';
SHOW biotoken.max_grant_duration;
SET biotoken.max_grant_duration = 0;  -- fail
RESET biotoken.max_grant_duration;
SET biotoken.audit_timeout = '250ms';
SHOW biotoken.audit_timeout;
RESET biotoken.audit_timeout;
SET biotoken.key_file = '/tmp/keys';  -- fail (postmaster only)
