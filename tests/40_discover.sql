-- tests/40_discover.sql: the validators and biotoken.discover() through
-- pgTAP: declarations and privileges, generated valid and invalid numbers
-- (check digits computed here in SQL, not by the C code), false positives
-- on random data, name matching, content evidence, what is never
-- suggested, and that discover(0) reads no table data.
BEGIN;
SELECT plan(53);

-- ---------------------------------------------------------------- helpers

-- ISO 7064 MOD 11-2: weight of position i (1-based) is 2^(18 - i) mod 11
CREATE FUNCTION pg_temp.cn_id(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT body || substr('10X98765432',
                        (sum(substr(body, i, 1)::int * ((2::numeric ^ (18 - i))::bigint % 11)) % 11)::int + 1,
                        1)
    FROM generate_series(1, 17) AS i
$$;
-- IBAN check digits over the whole rearranged number, as numeric
CREATE FUNCTION pg_temp.iban(cc text, bban text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT cc || lpad((98 - n % 97)::text, 2, '0') || bban
    FROM (SELECT string_agg(CASE WHEN c ~ '[0-9]' THEN c ELSE (ascii(c) - 55)::text END,
                            '' ORDER BY i)::numeric AS n
            FROM (SELECT i, substr(bban || cc || '00', i, 1) AS c
                    FROM generate_series(1, length(bban) + 4) AS i) s) t
$$;
-- append the Luhn check digit
CREATE FUNCTION pg_temp.luhn(partial text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT partial || ((10 - sum(CASE WHEN (length(partial) - i) % 2 = 0
                                    THEN (2 * d) / 10 + (2 * d) % 10 ELSE d END) % 10) % 10)::text
    FROM (SELECT i, substr(partial, i, 1)::int AS d
            FROM generate_series(1, length(partial)) AS i) s
$$;
CREATE FUNCTION pg_temp.digits(n int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(floor(random() * 10)::int::text, '') FROM generate_series(1, n)
$$;

-- ------------------------------------------------------- declarations (8)

SELECT has_function('biotoken', 'valid_cn_resident_id', ARRAY['text'], 'valid_cn_resident_id(text) exists');
SELECT has_function('biotoken', 'valid_iban', ARRAY['text'], 'valid_iban(text) exists');
SELECT has_function('biotoken', 'valid_payment_card', ARRAY['text'], 'valid_payment_card(text) exists');
SELECT has_function('biotoken', 'valid_us_ssn', ARRAY['text'], 'valid_us_ssn(text) exists');
SELECT has_function('biotoken', 'discover', ARRAY['integer'], 'discover(int) exists');
SELECT is((SELECT array_agg(DISTINCT provolatile) FROM pg_proc
            WHERE pronamespace = 'biotoken'::regnamespace AND proname LIKE 'valid\_%'),
          ARRAY['i']::"char"[], 'the validators are immutable (usable in CHECK constraints)');
SELECT ok(NOT has_function_privilege('public', 'biotoken.discover(int)', 'EXECUTE')
          AND has_function_privilege('biotoken_admin', 'biotoken.discover(int)', 'EXECUTE'),
          'discover is for biotoken_admin, not PUBLIC');
SELECT ok(NOT (SELECT prosecdef FROM pg_proc WHERE oid = 'biotoken.discover(int)'::regprocedure),
          'discover runs with the caller''s privileges');

-- --------------------------------------------------- validators (16)

SELECT setseed(0.61);
CREATE TEMP TABLE t_ids AS
  SELECT pg_temp.cn_id(region || to_char(date '1920-01-01' + floor(random() * 37000)::int, 'YYYYMMDD')
                       || pg_temp.digits(3)) AS v
    FROM (SELECT (ARRAY['110101', '120102', '310115', '330106', '420111', '440106', '500103',
                        '530102', '610113', '640104', '710000', '810000'])[1 + floor(random() * 12)::int] AS region
            FROM generate_series(1, 400)) s;
SELECT is((SELECT count(*) FROM t_ids WHERE biotoken.valid_cn_resident_id(v)), 400::bigint,
          '400 generated resident identity numbers are valid');
SELECT is((SELECT count(*) FROM t_ids, generate_series(1, 17) AS p
            WHERE biotoken.valid_cn_resident_id(
                    overlay(v placing ((substr(v, p, 1)::int + 3) % 10)::text from p for 1))),
          0::bigint, 'no resident identity number with a changed digit is valid');
SELECT is((SELECT count(*) FROM t_ids
            WHERE biotoken.valid_cn_resident_id(
                    overlay(v placing CASE WHEN right(v, 1) = 'X' THEN '0' ELSE 'X' END from 18 for 1))),
          0::bigint, 'no resident identity number with another check character is valid');
SELECT is(ARRAY[biotoken.valid_cn_resident_id(pg_temp.cn_id('11010519960229123')),
                biotoken.valid_cn_resident_id(pg_temp.cn_id('11010519970229123')),
                biotoken.valid_cn_resident_id(pg_temp.cn_id('11010521000229123')),
                biotoken.valid_cn_resident_id(pg_temp.cn_id('11010520000431123'))],
          ARRAY[true, false, false, false],
          'birth dates: 1996-02-29 exists; 1997-02-29, 2100-02-29 and 2000-04-31 do not');
SELECT is((SELECT count(*) FROM t_ids, (VALUES ('00'), ('10'), ('29'), ('66'), ('72'), ('90'), ('99')) AS r(code)
            WHERE biotoken.valid_cn_resident_id(pg_temp.cn_id(code || substr(v, 3, 15)))),
          0::bigint, 'a number with a region code outside GB/T 2260 is invalid, check character and all');
SELECT setseed(0.62);
SELECT cmp_ok((SELECT count(*) FROM generate_series(1, 20000)
                WHERE biotoken.valid_cn_resident_id(pg_temp.digits(18))),
              '<', 5::bigint, 'random 18-digit strings are (almost) never resident identity numbers');

SELECT setseed(0.63);
CREATE TEMP TABLE t_ibans AS
  SELECT pg_temp.iban(cc, CASE WHEN cc IN ('GB', 'NL', 'IE') THEN 'ABCD' || pg_temp.digits(len - 8)
                               ELSE pg_temp.digits(len - 4) END) AS v
    FROM (VALUES ('DE', 22), ('GB', 22), ('NL', 18), ('IE', 22), ('FI', 18), ('DK', 18),
                 ('PT', 25), ('GR', 27), ('HU', 28), ('CY', 28), ('LU', 20), ('EE', 20)) AS c(cc, len),
         generate_series(1, 50);
SELECT is((SELECT count(*) FROM t_ibans WHERE biotoken.valid_iban(v)), 600::bigint,
          '600 generated IBANs of 12 countries are valid');
SELECT is((SELECT count(*) FROM t_ibans
            WHERE biotoken.valid_iban(regexp_replace(lower(v), '(.{4})(?=.)', '\1 ', 'g'))),
          600::bigint, 'and so are their lower-case print forms');
SELECT is((SELECT count(*) FROM t_ibans, generate_series(5, 16) AS p
            WHERE substr(v, p, 1) ~ '[0-9]'
              AND biotoken.valid_iban(overlay(v placing ((substr(v, p, 1)::int + 5) % 10)::text from p for 1))),
          0::bigint, 'no IBAN with a changed digit is valid');
SELECT is((SELECT count(*) FROM t_ibans
            WHERE biotoken.valid_iban(pg_temp.iban(left(v, 2), substr(v, 5) || '0'))),
          0::bigint, 'an IBAN one character too long for its country is invalid, check digits and all');
SELECT is((SELECT count(*) FROM t_ibans
            WHERE substr(v, 3, 2) IN ('97', '98')
              AND biotoken.valid_iban(overlay(v placing lpad((substr(v, 3, 2)::int - 97)::text, 2, '0')
                                              from 3 for 2))),
          0::bigint, 'check digits 00 and 01 are refused, though mod 97 holds as for 97 and 98');
SELECT setseed(0.64);
SELECT cmp_ok((SELECT count(*) FROM generate_series(1, 5000)
                WHERE biotoken.valid_iban(md5(random()::text))),
              '=', 0::bigint, 'random hex strings are never IBANs');

SELECT setseed(0.65);
CREATE TEMP TABLE t_cards AS
  SELECT pg_temp.luhn(prefix || pg_temp.digits(len - length(prefix) - 1)) AS v
    FROM (VALUES ('4', 16), ('4', 13), ('53', 16), ('2300', 16), ('37', 15), ('6011', 16),
                 ('62', 17), ('3566', 16), ('65', 16)) AS s(prefix, len),
         generate_series(1, 60);
SELECT is((SELECT count(*) FROM t_cards WHERE biotoken.valid_payment_card(v)), 540::bigint,
          '540 generated card numbers of 9 schemes are valid');
SELECT is((SELECT count(*) FROM t_cards, generate_series(1, 12) AS p
            WHERE biotoken.valid_payment_card(
                    overlay(v placing ((substr(v, p, 1)::int + 1) % 10)::text from p for 1))),
          0::bigint, 'no card number with a changed digit is valid');
SELECT setseed(0.66);
SELECT cmp_ok((SELECT count(*) FROM generate_series(1, 10000)
                WHERE biotoken.valid_payment_card(pg_temp.digits(16))),
              '<', 500::bigint, 'fewer than 5% of random 16-digit numbers pass (Luhn and a known prefix)');

SELECT is(ARRAY[biotoken.valid_us_ssn('536-22-1400'), biotoken.valid_us_ssn('536221400'),
                biotoken.valid_us_ssn('666-22-1400'), biotoken.valid_us_ssn('536-22-0000'),
                biotoken.valid_us_ssn('536-00-1400'), biotoken.valid_us_ssn('936-22-1400')],
          ARRAY[true, true, false, false, false, false],
          'SSN: area not 000/666/9xx, group not 00, serial not 0000');

-- ------------------------------------------------- discover by name (9)

CREATE TABLE t_people (
  pk int,
  "customerIBAN" text,
  "cardNumber" text,
  "IDCardNo" text,
  shenfenzheng_hao text,
  personnummer text,
  codice_fiscale text,
  routing_number text,
  "人脸照片" bytea,
  face_template float8[],
  pan text,
  company text,
  span text,
  pancake text,
  face_id text,
  card_id int,
  passport_issue_date text,
  account text
);
CREATE TEMP TABLE t_found AS
  SELECT column_name::text, suggested_category, reason, confidence
    FROM biotoken.discover(0) WHERE relation = 't_people'::regclass;

SELECT set_eq('SELECT column_name, suggested_category FROM t_found',
              $$VALUES ('customerIBAN', 'financial'), ('cardNumber', 'financial'),
                       ('IDCardNo', 'identity'), ('shenfenzheng_hao', 'identity'),
                       ('personnummer', 'identity'), ('codice_fiscale', 'identity'),
                       ('routing_number', 'financial'), ('人脸照片', 'biometric'),
                       ('face_template', 'biometric'), ('pan', 'financial')$$,
              'names are matched on word parts, in several languages and scripts');
SELECT ok(NOT EXISTS (SELECT 1 FROM t_found WHERE column_name IN ('company', 'span', 'pancake')),
          '"pan" inside company, span or pancake is not a match');
SELECT ok(NOT EXISTS (SELECT 1 FROM t_found WHERE column_name IN ('face_id', 'card_id')),
          'a name ending in id after the term is a reference, not the data');
SELECT ok(NOT EXISTS (SELECT 1 FROM t_found WHERE column_name IN ('pk', 'account', 'passport_issue_date')),
          '"id" alone, "account" alone and attributes of a document are not suggested');
SELECT is((SELECT reason FROM t_found WHERE column_name = 'cardNumber'),
          'name matches "card number" (content not sampled)', 'the reason names the term');
SELECT is((SELECT reason FROM t_found WHERE column_name = '人脸照片'),
          'name matches "人脸"', 'the reason names a CJK term; face photos are biometric');
SELECT ok((SELECT bool_and(confidence > 0 AND confidence < 1) FROM t_found),
          'confidence from a name alone is between 0 and 1');
SELECT cmp_ok((SELECT confidence FROM t_found WHERE column_name = 'pan'), '<',
              (SELECT confidence FROM t_found WHERE column_name = 'cardNumber'),
              'an ambiguous abbreviation weighs less than a full term');

-- discover(0) reads no table data; discover() does
INSERT INTO t_people (pk, "cardNumber") SELECT i, pg_temp.luhn('4' || lpad(i::text, 14, '0')) FROM generate_series(1, 30) i;
CREATE TEMP TABLE t_names_only AS SELECT * FROM biotoken.discover(0);
SELECT is(pg_stat_get_xact_numscans('t_people'::regclass), 0::bigint, 'discover(0) scans no table');

-- ---------------------------------------------- discover by content (8)

SELECT setseed(0.67);
CREATE TABLE t_mixed (
  a text, b text, c bigint, d text, e text, f text, g bigint, h text, i text
);
INSERT INTO t_mixed
  SELECT pg_temp.iban('DE', pg_temp.digits(18)),                              -- IBANs
         pg_temp.cn_id('440106' || to_char(date '1970-01-01' + n * 7, 'YYYYMMDD') || pg_temp.digits(3)),
         pg_temp.luhn('62' || pg_temp.digits(13))::bigint,                    -- UnionPay
         lpad((100 + n)::text, 3, '0') || '-' || lpad((1 + n % 90)::text, 2, '0') || '-' || lpad(n::text, 4, '0'),
         pg_temp.digits(18),                                                  -- noise
         pg_temp.digits(9),                                                   -- undashed 9 digits
         ('4' || pg_temp.digits(15))::bigint,                                 -- 16 digits from 4, random
         md5(n::text),
         CASE WHEN n % 2 = 0 THEN pg_temp.iban('NL', 'ABNA' || pg_temp.digits(10)) ELSE 'unknown' END
    FROM generate_series(1, 200) AS n;
CREATE TEMP TABLE t_content AS
  SELECT column_name::text, suggested_category, reason, confidence
    FROM biotoken.discover() WHERE relation = 't_mixed'::regclass;
SELECT ok(pg_stat_get_xact_numscans('t_people'::regclass) > 0, 'discover() read the sample');

SELECT set_eq('SELECT column_name, suggested_category FROM t_content',
              $$VALUES ('a', 'financial'), ('b', 'identity'), ('c', 'financial'), ('d', 'identity')$$,
              'content alone finds IBANs, resident IDs, card numbers and dashed SSNs');
SELECT is((SELECT reason FROM t_content WHERE column_name = 'a'),
          '200 of 200 sampled values are valid IBANs', 'the reason gives counts, never values');
SELECT cmp_ok((SELECT confidence FROM t_content WHERE column_name = 'a'), '>', 0.95::real,
              'all of 200 valid: confidence above 0.95');
SELECT ok(NOT EXISTS (SELECT 1 FROM t_content WHERE column_name IN ('e', 'f', 'g', 'h')),
          'random 18-digit, 9-digit, 16-digit and hex columns are not suggested');
SELECT ok(NOT EXISTS (SELECT 1 FROM t_content WHERE column_name = 'i'),
          'half valid IBANs is not enough from content alone');

-- name and content agreeing strengthen each other; content contradicting
-- a name weakens it
ALTER TABLE t_mixed RENAME COLUMN i TO iban;
ALTER TABLE t_mixed RENAME COLUMN g TO card_no;
SELECT cmp_ok((SELECT confidence FROM biotoken.discover()
                WHERE relation = 't_mixed'::regclass AND column_name = 'iban'),
              '>', 0.9::real, 'the name "iban" over half valid IBANs is strong evidence');
SELECT cmp_ok((SELECT confidence FROM biotoken.discover()
                WHERE relation = 't_mixed'::regclass AND column_name = 'card_no'),
              '<', 0.5::real, 'the name "card_no" over random numbers is weak evidence');

-- -------------------------------------------------- never suggested (6)

CREATE DOMAIN pg_temp.t_face AS biometric;
CREATE TABLE t_classified (face biometric, face_d pg_temp.t_face, faces biometric[], selfie bytea);
SELECT is((SELECT array_agg(column_name::text) FROM biotoken.discover(0)
            WHERE relation = 't_classified'::regclass),
          ARRAY['selfie'], 'columns of the biometric type, domains and arrays of it are not suggested');

SECURITY LABEL FOR biotoken ON COLUMN t_people."cardNumber" IS 'financial';
SECURITY LABEL FOR biotoken ON COLUMN t_people.face_template IS 'biometric';
SELECT ok(NOT EXISTS (SELECT 1 FROM biotoken.discover(0) WHERE relation = 't_people'::regclass
                        AND column_name IN ('cardNumber', 'face_template')),
          'labelled columns are not suggested');

CREATE TABLE t_parted (k int, national_id text) PARTITION BY LIST (k);
CREATE TABLE t_parted_1 PARTITION OF t_parted FOR VALUES IN (1);
SELECT is((SELECT array_agg(relation::text) FROM biotoken.discover(0)
            WHERE column_name = 'national_id'),
          ARRAY['t_parted'], 'a partitioned table is suggested, its partitions are not');

CREATE TABLE biotoken.t_inside (ssn text);
SELECT ok(NOT EXISTS (SELECT 1 FROM biotoken.discover(0) WHERE relation = 'biotoken.t_inside'::regclass),
          'tables in the schema biotoken are not suggested');
DROP TABLE biotoken.t_inside;

SELECT throws_ok('SELECT * FROM biotoken.discover(-1)', '22023',
                 'sample_rows must be between 0 and 1000000', 'a negative sample_rows is refused');

-- not biotoken_admin: 42501 (through a function owned by a plain role)
CREATE ROLE regress_biotoken_t40_plain;
CREATE FUNCTION public.t40_discover_as_plain() RETURNS bigint
  LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM biotoken.discover(0)';
ALTER FUNCTION public.t40_discover_as_plain() OWNER TO regress_biotoken_t40_plain;
SELECT throws_ok('SELECT public.t40_discover_as_plain()', '42501',
                 'permission denied for function discover', 'a role outside biotoken_admin may not run discover');

-- ------------------------------------------------ caller's privileges (2)

CREATE ROLE regress_biotoken_t40_admin IN ROLE biotoken_admin;
GRANT SELECT (a) ON t_mixed TO regress_biotoken_t40_admin;
CREATE FUNCTION public.t40_discover_as_admin()
  RETURNS TABLE(column_name text, reason text)
  LANGUAGE sql SECURITY DEFINER
  AS $$SELECT column_name::text, reason FROM biotoken.discover() WHERE relation = 't_mixed'::regclass$$;
ALTER FUNCTION public.t40_discover_as_admin() OWNER TO regress_biotoken_t40_admin;
SET client_min_messages = warning;
SELECT set_eq('SELECT column_name FROM public.t40_discover_as_admin()',
              ARRAY['a', 'iban', 'card_no'],
              'a caller samples only the columns it may SELECT; others by name only');
SELECT is((SELECT reason FROM public.t40_discover_as_admin() WHERE column_name = 'iban'),
          'name matches "iban" (content not sampled: no SELECT privilege)',
          'the reason says why content was not sampled');
RESET client_min_messages;

-- ------------------------------------------------ separation_report (4)

SELECT has_function('biotoken', 'separation_report', ARRAY[]::text[], 'separation_report() exists');
SELECT ok(NOT has_function_privilege('public', 'biotoken.separation_report()', 'EXECUTE')
          AND has_function_privilege('biotoken_admin', 'biotoken.separation_report()', 'EXECUTE'),
          'separation_report is for biotoken_admin, not PUBLIC');

CREATE TABLE t_bundle (person_id int, face biometric, passport text, account text, note text);
SECURITY LABEL FOR biotoken ON COLUMN t_bundle.passport IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN t_bundle.account IS 'financial';
CREATE TABLE t_faces (person_id int, face biometric);
SET SESSION AUTHORIZATION regress_biotoken_t40_admin;
SELECT biotoken.grant_audit('regress_biotoken_t40_plain', 'ticket T40', '10 minutes',
                            ARRAY['t_bundle']::regclass[]) AS t40_grant \gset
RESET SESSION AUTHORIZATION;

SELECT results_eq(
  $$SELECT relation, biometric_columns, other_columns FROM biotoken.separation_report()
     WHERE relation IN ('t_bundle'::regclass, 't_faces'::regclass)$$,
  $$VALUES ('t_bundle'::regclass, ARRAY['face'], ARRAY['passport', 'account'])$$,
  'a table holding biometric with identity and financial columns is reported; biometric alone is not');
-- run by a superuser that is not a member of biotoken_admin, to whom
-- biotoken.active_grants shows nothing: the report must still list it
SELECT is((SELECT grant_ids FROM biotoken.separation_report() WHERE relation = 't_bundle'::regclass),
          ARRAY[:t40_grant]::bigint[], 'with the audit grant that covers it, whoever runs the report');

-- ---------------------------------------------------------- done

SELECT * FROM finish();
ROLLBACK;
