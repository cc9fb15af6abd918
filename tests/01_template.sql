-- tests/01_template.sql: the biometric type through pgTAP: SQLSTATEs of
-- every class of bad input, enrollment properties, privileges.
BEGIN;
SELECT plan(24);

CREATE FUNCTION pg_temp.emb(seed int, dims int DEFAULT 128) RETURNS float4[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg((sin(seed * 12.9898 + i * 78.233) * 43758.5453
                    - floor(sin(seed * 12.9898 + i * 78.233) * 43758.5453) - 0.5)::float4
                   ORDER BY i)
    FROM generate_series(1, dims) AS i
$$;

SELECT has_type('biometric', 'the biometric type exists');
SELECT has_function('biometric_enroll', ARRAY['real[]'], 'biometric_enroll(float4[]) exists');
SELECT has_function('biotoken', 'register_model', ARRAY['text', 'integer', 'real[]'],
                    'biotoken.register_model exists');
SELECT has_cast('real[]', 'biometric', 'float4[] casts to biometric');
SELECT is((SELECT castcontext FROM pg_cast
            WHERE castsource = 'real[]'::regtype AND casttarget = 'biometric'::regtype),
          'a', 'the cast is an assignment cast');
SELECT volatility_is('biometric_enroll', ARRAY['real[]'], 'volatile', 'enroll is volatile (random salt)');
SELECT volatility_is('biometric_verify', ARRAY['biometric', 'real[]'], 'stable',
                     'verify is stable (depends on a setting and the keys)');

-- malformed text: 22P02
SELECT throws_ok($$SELECT '{1,2,3}'::biometric$$, '22P02', NULL, 'a raw embedding is not text input');
SELECT throws_ok($$SELECT 'bt1:AAAA'::biometric$$, '22P02', NULL, 'a truncated record is refused');
SELECT throws_ok($$SELECT 'bt1:A'::biometric$$, '22P02', NULL, 'an impossible base64 length is refused');
SELECT throws_ok($$SELECT 'BT1:AAAA'::biometric$$, '22P02', NULL, 'the prefix is case-sensitive');
-- bad values: 22023 / 22000 / 54000
SELECT throws_ok($$SELECT biometric_enroll('{}')$$, '22023', 'embedding must not be empty',
                 'an empty embedding is refused');
SELECT throws_ok($$SELECT biometric_enroll('{1,NULL}')$$, '22023', 'embedding must not contain nulls',
                 'a NULL element is refused');
SELECT throws_ok($$SELECT biometric_enroll('{{1,2},{3,4}}')$$, '22023', NULL,
                 'a two-dimensional array is refused');
SELECT throws_ok($$SELECT biometric_enroll('{1,NaN}')$$, '22000', 'embedding must contain only finite values',
                 'NaN is refused');
SELECT throws_ok($$SELECT biometric_enroll('{1,-Infinity}')$$, '22000', NULL, '-Infinity is refused');
SELECT throws_ok($$SELECT biometric_enroll('{0,0,0}')$$, '22000', 'embedding must not be a zero vector',
                 'a zero vector is refused');
SELECT throws_ok($$SELECT biometric_verify(biometric_enroll(pg_temp.emb(1)), pg_temp.emb(1, 512))$$,
                 '22000', NULL, 'a probe of the wrong dimension is refused');
SELECT throws_ok($$SELECT biometric_enroll(array_fill(1::float4, ARRAY[20000]))$$, '54000', NULL,
                 'too many dimensions is a size limit');

-- enrollment
SELECT isnt(biometric_enroll(pg_temp.emb(1))::text, biometric_enroll(pg_temp.emb(1))::text,
            'the same embedding enrolls to different templates');
SELECT is(biometric_distance(biometric_enroll(pg_temp.emb(1)), pg_temp.emb(1)), 0::float8,
          'a template is at distance 0 from its embedding');
SELECT ok(biometric_enroll(pg_temp.emb(1))::text !~ '[0-9]\.[0-9]',
          'the text form holds no decimal numbers');

-- privileges of scores
SELECT ok(NOT has_function_privilege('public', 'biometric_distance(biometric, real[])', 'EXECUTE'),
          'PUBLIC may not compute scores');
SELECT ok(has_function_privilege('biotoken_matcher', 'biometric_distance(biometric, real[])', 'EXECUTE'),
          'biotoken_matcher may compute scores');

SELECT * FROM finish();
ROLLBACK;
