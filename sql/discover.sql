--
-- discover: the validators and biotoken.discover(), in a database of their
-- own, so that discover() sees only the tables made here
--
CREATE DATABASE regress_biotoken_discover;
\c regress_biotoken_discover
CREATE EXTENSION IF NOT EXISTS biotoken;
SET client_min_messages = notice;

-- Check characters computed here, in SQL, independently of the C code.
-- ISO 7064 MOD 11-2 over the 17 digits of a resident identity number: the
-- weight of position i (1-based) is 2^(18 - i) mod 11.
CREATE FUNCTION regress_cn_id(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT body || substr('10X98765432',
                        (sum(substr(body, i, 1)::int * ((2::numeric ^ (18 - i))::bigint % 11)) % 11)::int + 1,
                        1)
    FROM generate_series(1, 17) AS i
$$;
-- IBAN check digits: 98 - (BBAN || country || '00', letters as 10..35) mod 97,
-- computed on the whole number (numeric), not piecewise.
CREATE FUNCTION regress_iban(cc text, bban text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT cc || lpad((98 - n % 97)::text, 2, '0') || bban
    FROM (SELECT string_agg(CASE WHEN c ~ '[0-9]' THEN c ELSE (ascii(c) - 55)::text END,
                            '' ORDER BY i)::numeric AS n
            FROM (SELECT i, substr(bban || cc || '00', i, 1) AS c
                    FROM generate_series(1, length(bban) + 4) AS i) s) t
$$;
-- Luhn: append the digit that makes the number valid; digits at odd
-- positions from the right of the finished number (1-based, the check
-- digit is position 0) are doubled.
CREATE FUNCTION regress_luhn(partial text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT partial || ((10 - sum(CASE WHEN (length(partial) - i) % 2 = 0
                                    THEN (2 * d) / 10 + (2 * d) % 10 ELSE d END) % 10) % 10)::text
    FROM (SELECT i, substr(partial, i, 1)::int AS d
            FROM generate_series(1, length(partial)) AS i) s
$$;
-- n random digits
CREATE FUNCTION regress_digits(n int) RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT string_agg(floor(random() * 10)::int::text, '') FROM generate_series(1, n)
$$;

-- ====================================================================
-- valid_cn_resident_id
-- ====================================================================

-- the helper reproduces a published example
SELECT regress_cn_id('11010519491231002') = '11010519491231002X' AS helper_ok;

SELECT v, biotoken.valid_cn_resident_id(v) FROM (VALUES
  ('11010519491231002X'),
  ('11010519491231002x'),             -- lower-case check character
  ('  11010519491231002X '),          -- surrounding white space
  (regress_cn_id('44030520000229123')),  -- 29 February of a leap year (2000)
  (regress_cn_id('51010720240229001')),  -- and 2024
  (regress_cn_id('81000019991231001')),  -- Hong Kong residence permit
  (regress_cn_id('83000019850101001')),  -- Taiwan residence permit
  ('110105194912310021'),             -- fail (check character)
  ('11010519491231002'),              -- fail (17 characters)
  ('11010519491231002X1'),            -- fail (19 characters)
  ('110105 9491231002X'),             -- fail (not a digit)
  ('110105491231002'),                -- fail (old 15-digit form)
  (regress_cn_id('44030519000229123')),  -- fail (1900 is not a leap year)
  (regress_cn_id('44030520230229123')),  -- fail (2023 is not a leap year)
  (regress_cn_id('44030520230230123')),  -- fail (30 February)
  (regress_cn_id('44030520231301123')),  -- fail (month 13)
  (regress_cn_id('44030520230100123')),  -- fail (day 0)
  (regress_cn_id('44030518991231123')),  -- fail (born before 1900)
  (regress_cn_id('00030519900101123')),  -- fail (region 00)
  (regress_cn_id('99030519900101123')),  -- fail (region 99)
  (regress_cn_id('20030519900101123')),  -- fail (region 20)
  (regress_cn_id('72030519900101123')),  -- fail (region 72)
  ('')                                -- fail (empty)
) AS t(v);

-- 500 generated numbers: real regions and dates, random sequence numbers
SELECT setseed(0.17);
CREATE TABLE regress_cn_ids AS
  SELECT regress_cn_id(region || to_char(birth, 'YYYYMMDD') || regress_digits(3)) AS v
    FROM (SELECT (ARRAY['110105', '310104', '440305', '510107', '650102', '130102',
                        '230103', '370102', '460105', '540102', '820000'])[1 + floor(random() * 11)::int] AS region,
                 date '1930-01-01' + floor(random() * 32000)::int AS birth
            FROM generate_series(1, 500)) s;
SELECT count(*) FILTER (WHERE biotoken.valid_cn_resident_id(v)) AS valid,
       count(*) AS total FROM regress_cn_ids;
-- MOD 11-2 catches every single changed character and every swap of two
-- different adjacent digits
SELECT count(*) FILTER (WHERE biotoken.valid_cn_resident_id(
         overlay(v placing ((substr(v, p, 1)::int + 1 + k) % 10)::text from p for 1))) AS changed_valid,
       count(*) FILTER (WHERE substr(v, p, 1) <> substr(v, p + 1, 1)
                          AND biotoken.valid_cn_resident_id(
         overlay(v placing substr(v, p + 1, 1) || substr(v, p, 1) from p for 2))) AS swapped_valid
  FROM regress_cn_ids, generate_series(1, 16) AS p, generate_series(0, 1) AS k;
-- random 18-digit strings almost never pass (region, date and check)
SELECT setseed(0.5);
SELECT count(*) FILTER (WHERE biotoken.valid_cn_resident_id(regress_digits(18))) AS random_valid
  FROM generate_series(1, 20000);

-- ====================================================================
-- valid_iban
-- ====================================================================

SELECT regress_iban('DE', '370400440532013000') = 'DE89370400440532013000' AS helper_ok;

SELECT v, biotoken.valid_iban(v) FROM (VALUES
  ('DE89370400440532013000'),
  ('DE89 3704 0044 0532 0130 00'),    -- print form
  ('de89370400440532013000'),         -- lower case
  ('GB82WEST12345698765432'),
  ('FR1420041010050500013M02606'),
  ('NL91ABNA0417164300'),
  ('NO9386011117947'),                -- shortest (15)
  ('LC55HEMM000100010012001200023015'),  -- 32
  ('MT84MALT011000012345MTLCAST001S'),
  (regress_iban('RU', '04452560040702810412345678901')),  -- 33, the longest
  ('DE88370400440532013000'),         -- fail (check digits)
  ('DE89370400440532013001'),         -- fail (one digit changed)
  ('DE89370400440532031000'),         -- fail (two digits swapped)
  ('DE8937040044053201300'),          -- fail (21 characters for DE)
  (regress_iban('DE', '3704004405320130001')),  -- fail (23 characters for DE, mod 97 holds)
  (regress_iban('US', '370400440532013000')),   -- fail (US has no IBAN)
  (regress_iban('XX', '370400440532013000')),   -- fail (no such country)
  ('DE89  3704 0044 0532 0130 00'),   -- fail (two spaces)
  ('DE89-3704-0044-0532-0130-00'),    -- fail (dashes)
  ('DE89370400440532013000X'),        -- fail (trailing character)
  ('D189370400440532013000'),         -- fail (country code)
  ('DE8G370400440532013000'),         -- fail (check digits not digits)
  ('ÄE89370400440532013000'),         -- fail (not ASCII)
  ('')                                -- fail (empty)
) AS t(v);

-- check digits 00 and 01 are refused although mod 97 cannot tell them from
-- 97 and 98: rewrite the generated IBANs whose check digits are 97 or 98
SELECT setseed(0.3);
CREATE TABLE regress_ibans AS
  SELECT regress_iban(cc, regress_digits(len - 4)) AS v
    FROM (VALUES ('DE', 22), ('FR', 27), ('IT', 27), ('ES', 24), ('NL', 18), ('BE', 16),
                 ('AT', 20), ('CH', 21), ('PL', 28), ('SE', 24), ('GB', 22), ('BR', 29),
                 ('SA', 24), ('TR', 26), ('UA', 29), ('NO', 15)) AS c(cc, len),
         generate_series(1, 150);
SELECT count(*) FILTER (WHERE biotoken.valid_iban(v)) AS valid, count(*) AS total
  FROM regress_ibans;
SELECT substr(v, 3, 2) AS check_digits, count(*) AS n,
       bool_and(biotoken.valid_iban(v)) AS valid,
       bool_or(biotoken.valid_iban(overlay(v placing lpad((substr(v, 3, 2)::int - 97)::text, 2, '0')
                                           from 3 for 2))) AS minus_97_valid
  FROM regress_ibans WHERE substr(v, 3, 2) IN ('97', '98')
 GROUP BY 1 ORDER BY 1;
-- mod 97 catches every single changed digit and adjacent swap in the BBAN
SELECT count(*) FILTER (WHERE biotoken.valid_iban(
         overlay(v placing ((substr(v, p, 1)::int + 1) % 10)::text from p for 1))) AS changed_valid,
       count(*) FILTER (WHERE substr(v, p, 1) <> substr(v, p + 1, 1)
                          AND biotoken.valid_iban(
         overlay(v placing substr(v, p + 1, 1) || substr(v, p, 1) from p for 2))) AS swapped_valid
  FROM regress_ibans, generate_series(5, 14) AS p;

-- ====================================================================
-- valid_payment_card
-- ====================================================================

SELECT regress_luhn('411111111111111') = '4111111111111111' AS helper_ok;

SELECT v, biotoken.valid_payment_card(v) FROM (VALUES
  ('4111111111111111'),               -- Visa
  ('4222222222222'),                  -- Visa, 13 digits
  ('4111 1111 1111 1111'),            -- grouped by spaces
  ('4111-1111-1111-1111'),            -- grouped by dashes
  ('5555555555554444'),               -- Mastercard 51-55
  ('2223003122003222'),               -- Mastercard 2221-2720
  ('378282246310005'),                -- American Express
  ('6011111111111117'),               -- Discover
  ('3530111333300000'),               -- JCB
  ('6200000000000005'),               -- UnionPay
  (regress_luhn('621700000000000000')),  -- UnionPay, 19 digits
  ('36227206271667'),                 -- Diners Club, 14 digits
  ('4111111111111112'),               -- fail (Luhn)
  ('4111111111111'),                  -- fail (Luhn, 13 digits)
  (regress_luhn('41111111111111111')),  -- fail (Visa, 18 digits)
  (regress_luhn('41111111111111')),   -- fail (Visa, 15 digits)
  (regress_luhn('378282246310005')),  -- fail (American Express, 16 digits)
  (regress_luhn('55555555555544')),   -- fail (Mastercard, 15 digits)
  (regress_luhn('000000000000000')),  -- fail (no issuer starts with 0)
  (regress_luhn('700000000000000')),  -- fail (no issuer starts with 7)
  (regress_luhn('990000000000000')),  -- fail (no issuer starts with 99)
  (regress_luhn('222000000000000')),  -- fail (2220 is not Mastercard)
  (regress_luhn('41111111111')),      -- fail (12 digits)
  (regress_luhn('4111111111111111111')),  -- fail (20 digits)
  ('4111--1111-1111-1111'),           -- fail (two separators)
  ('-4111111111111111'),              -- fail (leading separator)
  ('4111 1111 1111 111a'),            -- fail (letter)
  ('')                                -- fail (empty)
) AS t(v);

-- Visa issues 13, 16 and 19 digits only
SELECT length(v) AS len, biotoken.valid_payment_card(v)
  FROM (SELECT regress_luhn(rpad('4', n - 1, '1')) AS v FROM generate_series(13, 19) AS n) s;

-- generated numbers of every scheme, prefix and length listed here
SELECT setseed(0.7);
CREATE TABLE regress_cards AS
  SELECT scheme, regress_luhn(prefix || regress_digits(len - length(prefix) - 1)) AS v
    FROM (VALUES ('visa', '4', 16), ('mastercard', '51', 16), ('mastercard', '55', 16),
                 ('mastercard', '2221', 16), ('mastercard', '2720', 16), ('amex', '34', 15),
                 ('amex', '37', 15), ('discover', '6011', 16), ('discover', '644', 16),
                 ('discover', '65', 19), ('unionpay', '62', 16), ('unionpay', '62', 19),
                 ('jcb', '3528', 16), ('jcb', '3589', 16), ('diners', '36', 14),
                 ('maestro', '6759', 18), ('mir', '2200', 16)) AS s(scheme, prefix, len),
         generate_series(1, 40);
SELECT scheme, count(*) FILTER (WHERE biotoken.valid_payment_card(v)) AS valid, count(*) AS total
  FROM regress_cards GROUP BY scheme ORDER BY scheme;
-- Luhn catches every single changed digit and every adjacent swap except 09/90
SELECT count(*) FILTER (WHERE biotoken.valid_payment_card(
         overlay(v placing ((substr(v, p, 1)::int + 1) % 10)::text from p for 1))) AS changed_valid,
       count(*) FILTER (WHERE substr(v, p, 2) NOT IN ('09', '90')
                          AND substr(v, p, 1) <> substr(v, p + 1, 1)
                          AND biotoken.valid_payment_card(
         overlay(v placing substr(v, p + 1, 1) || substr(v, p, 1) from p for 2))) AS swapped_valid
  FROM regress_cards, generate_series(3, 12) AS p;
-- random 16-digit numbers pass Luhn one time in ten and need a known prefix
SELECT setseed(0.9);
SELECT count(*) FILTER (WHERE biotoken.valid_payment_card(regress_digits(16))) AS random_valid,
       count(*) AS total
  FROM generate_series(1, 5000);

-- ====================================================================
-- valid_us_ssn
-- ====================================================================

SELECT v, biotoken.valid_us_ssn(v) FROM (VALUES
  ('123-45-6789'),
  ('123456789'),                      -- without dashes
  ('001-01-0001'),
  ('899-99-9999'),
  ('665-12-3456'),
  ('000-12-3456'),                    -- fail (area 000)
  ('666-12-3456'),                    -- fail (area 666)
  ('900-12-3456'),                    -- fail (area 9xx: ITIN)
  ('999-99-9999'),                    -- fail (area 9xx)
  ('123-00-4567'),                    -- fail (group 00)
  ('123-45-0000'),                    -- fail (serial 0000)
  ('078-05-1120'),                    -- fail (voided: published in advertising)
  ('219-09-9999'),                    -- fail (voided)
  ('12-345-6789'),                    -- fail (dashes misplaced)
  ('123 45 6789'),                    -- fail (spaces)
  ('123-45-678'),                     -- fail (too short)
  ('1234567890'),                     -- fail (10 digits)
  ('abc-de-fghi'),                    -- fail (letters)
  ('')                                -- fail (empty)
) AS t(v);

SELECT setseed(0.11);
SELECT count(*) FILTER (WHERE biotoken.valid_us_ssn(v)) AS valid, count(*) AS total
  FROM (SELECT lpad(a::text, 3, '0') || '-' || lpad(g::text, 2, '0') || '-' || lpad(s::text, 4, '0') AS v
          FROM (SELECT 1 + floor(random() * 899)::int AS a, 1 + floor(random() * 99)::int AS g,
                       1 + floor(random() * 9999)::int AS s
                  FROM generate_series(1, 1000)) r
         WHERE a <> 666) t;

-- NULL in, NULL out
SELECT biotoken.valid_cn_resident_id(NULL), biotoken.valid_iban(NULL),
       biotoken.valid_payment_card(NULL), biotoken.valid_us_ssn(NULL);

DROP TABLE regress_cn_ids, regress_ibans, regress_cards;

-- ====================================================================
-- discover(): by name
-- ====================================================================

CREATE TABLE regress_customers (
  id serial PRIMARY KEY,
  national_id text,
  "IBANCode" text,
  card_no text,
  ssn text,
  passport_no varchar(20),
  "身份证号" text,
  idCardNo text,
  sfzh char(18),
  bank_card bigint,
  face_embedding float4[],
  selfie bytea,
  passport_photo bytea,
  -- none of these is sensitive by name
  company text,
  span int,
  pan_tilt float8,
  user_id int,
  face_id int,
  card_type text,
  passport_expiry date,
  iban_country text,
  photo_url text,
  ssn_last4 text,
  notes text
);

-- names only: no table data is read
SELECT relation, column_name, suggested_category, reason, confidence
  FROM biotoken.discover(0) ORDER BY relation::text COLLATE "C", column_name;

-- ====================================================================
-- discover(): by content
-- ====================================================================

SELECT setseed(0.25);
INSERT INTO regress_customers (national_id, "IBANCode", card_no, ssn, sfzh, notes)
  SELECT regress_cn_id('310104' || to_char(date '1950-01-01' + i * 97, 'YYYYMMDD') || lpad(i::text, 3, '0')),
         regress_iban('DE', regress_digits(18)),
         regress_digits(16),          -- not card numbers, whatever the name says
         lpad((100 + i)::text, 3, '0') || '-' || lpad((i % 98 + 1)::text, 2, '0') || '-' || lpad((i * 7)::text, 4, '0'),
         -- char(18); half of the rows NULL
         CASE WHEN i % 2 = 0 THEN regress_cn_id('320102' || to_char(date '1960-03-01' + i, 'YYYYMMDD') || '042') END,
         md5(i::text)
    FROM generate_series(1, 120) AS i;

-- columns whose names say nothing; content does
CREATE TABLE regress_payments (
  ref text,
  beneficiary text,
  instrument text,
  holder text,
  tax_ref text,
  amount numeric,
  plastic bigint
);
SELECT setseed(0.33);
INSERT INTO regress_payments
  SELECT 'R' || i,
         regress_iban((ARRAY['FR', 'GB', 'NL'])[1 + i % 3],
                      CASE i % 3 WHEN 0 THEN regress_digits(10) || 'A' || regress_digits(12)
                                 WHEN 1 THEN 'NWBK' || regress_digits(14)
                                 ELSE 'ABNA' || regress_digits(10) END),
         -- card numbers grouped in fours, one in ten malformed
         CASE WHEN i % 10 = 0 THEN 'n/a'
              ELSE regexp_replace(regress_luhn('4' || regress_digits(14)), '(\d{4})(?=\d)', '\1 ', 'g') END,
         regress_cn_id('440305' || to_char(date '1980-01-01' + i, 'YYYYMMDD') || regress_digits(3)),
         lpad((200 + i % 600)::text, 3, '0') || '-' || lpad((1 + i % 97)::text, 2, '0') || '-' || lpad((1 + i)::text, 4, '0'),
         round((random() * 1000)::numeric, 2),
         regress_luhn('5' || (1 + i % 5)::text || regress_digits(13))::bigint
    FROM generate_series(1, 300) AS i;

-- random values of the validators' shapes: nothing to suggest
CREATE TABLE regress_noise (
  r18 text,           -- random 18-digit strings (resident ID shape)
  r16 bigint,         -- random 16-digit numbers (card shape)
  r9 text,            -- random 9 digits (undashed SSN shape)
  rde text,           -- 'DE' and 20 random digits (IBAN shape)
  rtext text,
  rnum numeric
);
SELECT setseed(0.42);
INSERT INTO regress_noise
  SELECT regress_digits(18), ('1' || regress_digits(15))::bigint + (i % 9) * 1000000000000000,
         regress_digits(9), 'DE' || regress_digits(20), md5(random()::text), random() * 1e6
    FROM generate_series(1, 400) AS i;

-- too few values to judge
CREATE TABLE regress_few (v text);
INSERT INTO regress_few SELECT regress_cn_id('11010519491231' || lpad(i::text, 3, '0')) FROM generate_series(1, 5) i;

SELECT relation, column_name, suggested_category, reason, round(confidence::numeric, 2) AS confidence
  FROM biotoken.discover() ORDER BY relation::text COLLATE "C", column_name;

-- identifiers are quoted in the sample query
CREATE TABLE "regress odd ""table""" ("Card Number" text, "x"";DROP TABLE regress_few;--" text);
INSERT INTO "regress odd ""table"""
  SELECT regress_luhn('6011' || lpad(i::text, 11, '0')), regress_luhn('6011' || lpad(i::text, 11, '0'))
    FROM generate_series(1, 20) AS i;
SELECT relation, column_name, reason FROM biotoken.discover()
 WHERE relation = '"regress odd ""table"""'::regclass ORDER BY column_name;
SELECT count(*) FROM regress_few;
DROP TABLE "regress odd ""table""";

-- sample_rows bounds the rows read per table (300 rows here, sampled)
SELECT column_name, reason FROM biotoken.discover(50)
 WHERE relation = 'regress_payments'::regclass ORDER BY column_name;

-- a second run samples the same rows
SELECT count(*) FROM (
  SELECT * FROM biotoken.discover() EXCEPT SELECT * FROM biotoken.discover()) d;

-- ====================================================================
-- discover(): what is not suggested
-- ====================================================================

-- columns of the biometric type, domains, arrays and composites of it are
-- classified by type
CREATE DOMAIN regress_face_domain AS biometric;
CREATE TYPE regress_face_pair AS (face biometric, note text);
CREATE TABLE regress_typed (
  face biometric,
  face2 regress_face_domain,
  faces biometric[],
  pair regress_face_pair,
  selfie bytea
);
SELECT column_name, reason FROM biotoken.discover(0)
 WHERE relation = 'regress_typed'::regclass ORDER BY column_name;

-- partitions and children: their columns are the parent's
CREATE TABLE regress_parted (id int, citizen_id text) PARTITION BY RANGE (id);
CREATE TABLE regress_parted_1 PARTITION OF regress_parted FOR VALUES FROM (0) TO (100);
CREATE TABLE regress_parted_2 PARTITION OF regress_parted FOR VALUES FROM (100) TO (1000);
INSERT INTO regress_parted
  SELECT i, regress_cn_id('110105' || to_char(date '1990-01-01' + i, 'YYYYMMDD') || '123')
    FROM generate_series(1, 500) AS i;
CREATE TABLE regress_parent (iban text);
CREATE TABLE regress_child (card_number text) INHERITS (regress_parent);
SELECT relation, column_name, suggested_category, reason, round(confidence::numeric, 2) AS confidence
  FROM biotoken.discover()
 WHERE relation::text ~ '^regress_(parted|parent|child)' ORDER BY relation::text COLLATE "C", column_name;

-- an unpopulated materialized view is checked by name only
CREATE MATERIALIZED VIEW regress_mv AS SELECT national_id AS id_number FROM regress_customers WITH NO DATA;
SELECT relation, column_name, reason FROM biotoken.discover()
 WHERE relation = 'regress_mv'::regclass;
REFRESH MATERIALIZED VIEW regress_mv;
SELECT relation, column_name, reason FROM biotoken.discover()
 WHERE relation = 'regress_mv'::regclass;
DROP MATERIALIZED VIEW regress_mv;

-- ====================================================================
-- discover(): privileges
-- ====================================================================

-- for biotoken_admin only
SELECT has_function_privilege('public', 'biotoken.discover(int)', 'EXECUTE') AS public_may_execute,
       has_function_privilege('biotoken_admin', 'biotoken.discover(int)', 'EXECUTE') AS admin_may_execute;
SELECT prosecdef FROM pg_proc WHERE oid = 'biotoken.discover(int)'::regprocedure;
-- the validators are for everyone: they read nothing
SELECT has_function_privilege('public', 'biotoken.valid_iban(text)', 'EXECUTE') AS public_may_validate;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_biotoken_discoverer') THEN
    CREATE ROLE regress_biotoken_discoverer;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'regress_biotoken_nobody') THEN
    CREATE ROLE regress_biotoken_nobody;
  END IF;
END
$$;
GRANT biotoken_admin TO regress_biotoken_discoverer;
-- may read two columns of one table, nothing else
GRANT SELECT (id, national_id) ON regress_customers TO regress_biotoken_discoverer;

SET ROLE regress_biotoken_nobody;
SELECT count(*) FROM biotoken.discover(0);  -- fail (not biotoken_admin)
RESET ROLE;

-- runs with the caller's privileges: what it may not read is checked by
-- name only, and a NOTICE says so
SET ROLE regress_biotoken_discoverer;
SELECT relation, column_name, suggested_category, reason, round(confidence::numeric, 2) AS confidence
  FROM biotoken.discover()
 WHERE relation = 'regress_customers'::regclass ORDER BY column_name;
RESET ROLE;

-- discover() never runs a table owner's policies (they would run as the
-- admin who calls it): a table whose row-level security applies to the
-- caller is skipped, with row_security on or off
ALTER TABLE regress_payments ENABLE ROW LEVEL SECURITY;
CREATE POLICY regress_none ON regress_payments USING (false);
GRANT SELECT ON regress_payments TO regress_biotoken_discoverer;
SET ROLE regress_biotoken_discoverer;
SELECT count(*) AS suggested_from_payments FROM biotoken.discover()
 WHERE relation = 'regress_payments'::regclass;
SET row_security = off;
SELECT count(*) AS suggested_from_payments FROM biotoken.discover()
 WHERE relation = 'regress_payments'::regclass;
RESET row_security;
RESET ROLE;
ALTER TABLE regress_payments DISABLE ROW LEVEL SECURITY;

-- ====================================================================
-- discover(): arguments
-- ====================================================================

SELECT count(*) FROM biotoken.discover(NULL);
SELECT count(*) FROM biotoken.discover(-1);       -- fail (negative)
SELECT count(*) FROM biotoken.discover(1000001);  -- fail (too many)
SELECT count(*) > 0 AS found FROM biotoken.discover(1000000);

-- ====================================================================
-- discover(): a table locked by another session is not waited for
-- ====================================================================

CREATE EXTENSION dblink;
SELECT dblink_connect('regress_locker',
         format('dbname=%s host=%s port=%s', current_database(),
                split_part(current_setting('unix_socket_directories'), ',', 1),
                current_setting('port')));
SELECT dblink_exec('regress_locker', 'BEGIN');
SELECT dblink_exec('regress_locker', 'LOCK TABLE regress_payments IN ACCESS EXCLUSIVE MODE');
-- its columns are suggested from content only: none is left
SELECT count(*) AS suggested_from_payments FROM biotoken.discover()
 WHERE relation = 'regress_payments'::regclass;
-- a partition locked: the parent's sample waits briefly, then skips
SELECT dblink_exec('regress_locker', 'LOCK TABLE regress_parted_2 IN ACCESS EXCLUSIVE MODE');
SELECT relation, column_name, reason FROM biotoken.discover()
 WHERE relation = 'regress_parted'::regclass;
SELECT dblink_exec('regress_locker', 'ROLLBACK');
SELECT dblink_disconnect('regress_locker');
SELECT relation, column_name, reason FROM biotoken.discover()
 WHERE relation = 'regress_parted'::regclass;

-- ====================================================================
-- discover(): classified columns are not suggested
-- ====================================================================

-- a label, whatever its category, and a parent's label (the child's
-- inherited column was never a candidate; its own column still is)
SECURITY LABEL FOR biotoken ON COLUMN regress_customers.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN regress_customers.passport_photo IS 'biometric';
SECURITY LABEL FOR biotoken ON COLUMN regress_customers.card_no IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN regress_parent.iban IS 'financial';
SELECT relation, column_name FROM biotoken.discover(0)
 WHERE relation IN ('regress_customers'::regclass, 'regress_parent'::regclass, 'regress_child'::regclass)
 ORDER BY relation::text COLLATE "C", column_name;

-- ====================================================================
-- separation_report()
-- ====================================================================

-- regress_customers is mixed now (labels above); a partitioned table, an
-- inheritance parent and its child, and a biometric-only table
CREATE TABLE regress_kyc (k int, face biometric, iban text) PARTITION BY LIST (k);
CREATE TABLE regress_kyc_1 PARTITION OF regress_kyc FOR VALUES IN (1);
SECURITY LABEL FOR biotoken ON COLUMN regress_kyc.iban IS 'financial';
CREATE TABLE regress_inh_parent (ssn text, note text, face biometric);
SECURITY LABEL FOR biotoken ON COLUMN regress_inh_parent.ssn IS 'identity';
CREATE TABLE regress_inh_child (card text) INHERITS (regress_inh_parent);
SECURITY LABEL FOR biotoken ON COLUMN regress_inh_child.card IS 'financial';

-- audit grants, given by an admin to another role (two-person rule)
SET SESSION AUTHORIZATION regress_biotoken_discoverer;
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-1') AS g_all \gset
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-2', '1 hour',
                            ARRAY['regress_kyc']::regclass[]) AS g_kyc \gset
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-3', '1 hour',
                            ARRAY['regress_inh_parent']::regclass[]) AS g_parent \gset
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-4', '1 hour',
                            ARRAY['regress_noise']::regclass[]) AS g_other \gset
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-5', '1 hour',
                            ARRAY['regress_kyc_1']::regclass[]) AS g_partition \gset
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-6', '1 hour',
                            ARRAY['regress_customers']::regclass[]) AS g_revoked \gset
SELECT biotoken.revoke_audit(:g_revoked);
SELECT biotoken.grant_audit('regress_biotoken_nobody', 'case D-7', '0.2 seconds',
                            ARRAY['regress_customers']::regclass[]) AS g_expired \gset
SELECT pg_sleep(0.3);

-- grants listing no tables cover all; a listed parent covers its children;
-- a grant on a partition covers that part of the partitioned table; a
-- grant on other tables, a revoked or an expired one covers nothing here
SELECT relation, biometric_columns, other_columns,
       CASE grant_ids
         WHEN ARRAY[:g_all]::bigint[] THEN 'all'
         WHEN ARRAY[:g_all, :g_kyc, :g_partition]::bigint[] THEN 'all, kyc, partition'
         WHEN ARRAY[:g_all, :g_parent]::bigint[] THEN 'all, parent'
         ELSE 'unexpected: ' || grant_ids::text END AS grants
  FROM biotoken.separation_report();
RESET SESSION AUTHORIZATION;

-- a superuser outside biotoken_admin sees the same grants (it could read
-- them anyway): the report never understates what is exposed
SELECT relation, cardinality(grant_ids) AS grants FROM biotoken.separation_report();

-- for biotoken_admin only
SELECT has_function_privilege('public', 'biotoken.separation_report()', 'EXECUTE') AS public_may_execute,
       has_function_privilege('biotoken_admin', 'biotoken.separation_report()', 'EXECUTE') AS admin_may_execute;
SET ROLE regress_biotoken_nobody;
SELECT * FROM biotoken.separation_report();  -- fail (not biotoken_admin)
RESET ROLE;

-- splitting the table ends the report's entry
ALTER TABLE regress_kyc DROP COLUMN face;
SELECT relation FROM biotoken.separation_report();

\c contrib_regression
DROP DATABASE regress_biotoken_discover;
DROP ROLE regress_biotoken_discoverer;
DROP ROLE regress_biotoken_nobody;
