--
-- setup: create the extension and the roles the other tests use
--
CREATE EXTENSION biotoken;

-- the extension creates its three roles
SELECT rolname, rolcanlogin FROM pg_roles
 WHERE rolname IN ('biotoken_admin', 'biotoken_auditor', 'biotoken_matcher')
 ORDER BY rolname;

-- administrative objects live in schema biotoken, the type in the
-- extension's schema (here: public)
SELECT n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE t.typname = 'biometric';
SELECT biotoken.library_version() = extversion AS library_matches_sql
  FROM pg_extension WHERE extname = 'biotoken';

-- test roles (kept if a previous run on the same cluster made them)
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('regress_biotoken_app', NULL),
      ('regress_biotoken_matcher', 'biotoken_matcher'),
      ('regress_biotoken_admin', 'biotoken_admin'),
      ('regress_biotoken_admin2', 'biotoken_admin'),
      ('regress_biotoken_auditor', 'biotoken_auditor')) AS v(name, member_of)
  LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.name) THEN
      EXECUTE format('CREATE ROLE %I', r.name);
    END IF;
    IF r.member_of IS NOT NULL AND NOT EXISTS (
         SELECT 1 FROM pg_auth_members m
           JOIN pg_roles g ON g.oid = m.roleid
           JOIN pg_roles u ON u.oid = m.member
          WHERE g.rolname = r.member_of AND u.rolname = r.name) THEN
      EXECUTE format('GRANT %I TO %I', r.member_of, r.name);
    END IF;
  END LOOP;
END
$$;
GRANT USAGE, CREATE ON SCHEMA public TO PUBLIC;

-- A deterministic pseudo-random embedding: the same (seed, dims) always
-- gives the same vector; noise > 0 adds a deterministic perturbation, as a
-- second capture of the same face would.
CREATE FUNCTION regress_emb(seed int, dims int DEFAULT 128, noise float8 DEFAULT 0,
                            noise_seed int DEFAULT 1)
RETURNS float4[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg((
           (sin(seed * 12.9898 + i * 78.233) * 43758.5453
            - floor(sin(seed * 12.9898 + i * 78.233) * 43758.5453) - 0.5)
         + noise * (sin(noise_seed * 93.989 + seed * 7.13 + i * 39.346) * 24634.6345
            - floor(sin(noise_seed * 93.989 + seed * 7.13 + i * 39.346) * 24634.6345) - 0.5)
         )::float4 ORDER BY i)
    FROM generate_series(1, dims) AS i
$$;
GRANT EXECUTE ON FUNCTION regress_emb(int, int, float8, int) TO PUBLIC;

-- The SQLSTATE and message of a statement, or 'ok'.
CREATE FUNCTION regress_sqlstate(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION regress_sqlstate(text) TO PUBLIC;

-- base64url without padding, as the bt1 text form uses
CREATE FUNCTION regress_b64url(b bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT translate(replace(replace(encode(b, 'base64'), E'\n', ''), '=', ''), '+/', '-_')
$$;
