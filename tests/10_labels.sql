-- tests/10_labels.sql: classification through pgTAP: the SQL objects and
-- their privileges, every valid label and the SQLSTATE of every refusal,
-- biometric by type, partitions and inheritance, the biotoken_admin rule.
-- Everything happens in one transaction that is rolled back; invalidation
-- across sessions (which needs commits) is tested in sql/labels.sql.
BEGIN;
SELECT plan(46);

CREATE SCHEMA tap_labels;
SET LOCAL search_path = tap_labels, public;

-- run q as role r (SET SESSION AUTHORIZATION, so session and current user
-- are both r); an error leaves with the subtransaction of the caller,
-- which undoes the SET
CREATE FUNCTION pg_temp.as_role(r text, q text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('SET SESSION AUTHORIZATION %I', r);
  EXECUTE q;
  RESET SESSION AUTHORIZATION;
END
$$;

-- the classified columns of this test's relations
CREATE VIEW cc AS
  SELECT c.relation::text AS relation,
         c.column_name::text COLLATE "default" AS column_name,
         c.category, c.source
    FROM biotoken.classified_columns c
    JOIN pg_class r ON r.oid = c.relation
   WHERE r.relnamespace = 'tap_labels'::regnamespace;

-- ---------------------------------------------------------------- objects
SELECT has_view('biotoken', 'classified_columns', 'biotoken.classified_columns exists');
SELECT columns_are('biotoken', 'classified_columns',
                   ARRAY['relation', 'column_name', 'category', 'source'],
                   'classified_columns has relation, column_name, category, source');
SELECT col_type_is('biotoken', 'classified_columns', 'relation', 'regclass', 'relation is regclass');
SELECT col_type_is('biotoken', 'classified_columns', 'column_name', 'name', 'column_name is name');
SELECT col_type_is('biotoken', 'classified_columns', 'category', 'text', 'category is text');
SELECT col_type_is('biotoken', 'classified_columns', 'source', 'text', 'source is text');
SELECT has_table('biotoken', 'label_lineage', 'biotoken.label_lineage exists');
SELECT ok(obj_description('biotoken.classified_columns'::regclass, 'pg_class') IS NOT NULL
          AND obj_description('biotoken.label_lineage'::regclass, 'pg_class') IS NOT NULL
          AND obj_description('biotoken.classified_columns_internal()'::regprocedure, 'pg_proc') IS NOT NULL,
          'the view, the table and the function have comments');
SELECT ok(has_table_privilege('public', 'biotoken.classified_columns', 'SELECT'),
          'PUBLIC may read classified_columns');
SELECT ok(NOT has_table_privilege('public', 'biotoken.label_lineage', 'INSERT')
          AND NOT has_table_privilege('public', 'biotoken.label_lineage', 'UPDATE')
          AND NOT has_table_privilege('public', 'biotoken.label_lineage', 'DELETE'),
          'PUBLIC may not write label_lineage');

-- ---------------------------------------------------------- valid values
CREATE TABLE people (id int, national_id text, iban text, photo bytea,
                     face biometric, note text);
SELECT lives_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.national_id IS 'identity'$$,
                'identity is a valid label');
SELECT lives_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.iban IS 'financial'$$,
                'financial is a valid label');
SELECT lives_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.photo IS 'biometric'$$,
                'biometric is a valid label');
SELECT lives_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.note IS NULL$$,
                'NULL on an unlabelled column is a no-op');
SELECT results_eq(
  $$SELECT column_name, category, source FROM cc WHERE relation = 'people' ORDER BY column_name$$,
  $$VALUES ('face', 'biometric', 'type'), ('iban', 'financial', 'label'),
           ('national_id', 'identity', 'label'), ('photo', 'biometric', 'label')$$,
  'classified_columns lists type and label classifications');

-- -------------------------------------------------------- invalid values
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.note IS 'Identity'$$,
                 '22023', 'invalid biotoken label "Identity"', 'labels are case-sensitive');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.note IS 'secret'$$,
                 '22023', 'invalid biotoken label "secret"', 'an unknown category is refused');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.note IS ''$$,
                 '22023', NULL, 'an empty label is refused');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.note IS 'identity financial'$$,
                 '22023', NULL, 'two categories in one label are refused');

-- ------------------------------------------------------- invalid objects
CREATE VIEW people_v AS SELECT * FROM people;
CREATE TYPE addr AS (street text, city text);
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON TABLE people IS 'identity'$$,
                 '0A000', 'biotoken labels apply only to columns', 'a table cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON SCHEMA tap_labels IS 'identity'$$,
                 '0A000', 'biotoken labels apply only to columns', 'a schema cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON FUNCTION f() IS 'identity'$$,
                 '0A000', 'biotoken labels apply only to columns', 'a function cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people_v.iban IS 'financial'$$,
                 '0A000', NULL, 'a view''s column cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN addr.city IS 'identity'$$,
                 '0A000', NULL, 'a composite type''s column cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.xmin IS 'identity'$$,
                 '0A000', 'cannot label system column "xmin" of relation "people"',
                 'a system column cannot be labelled');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN pg_catalog.pg_proc.prosrc IS 'identity'$$,
                 '0A000', NULL, 'a system catalog''s column cannot be labelled');

-- ---------------------------------------------------- biometric by type
CREATE DOMAIN face_d AS biometric;
CREATE TYPE face_pair AS (l biometric, r biometric);
CREATE TYPE visit AS (at date, pairs face_pair[]);
CREATE TABLE kiosk (id int, d face_d, a biometric[], c face_pair, v visit, plain text);
SELECT results_eq(
  $$SELECT column_name, category, source FROM cc WHERE relation = 'kiosk' ORDER BY column_name$$,
  $$VALUES ('a', 'biometric', 'type'), ('c', 'biometric', 'type'),
           ('d', 'biometric', 'type'), ('v', 'biometric', 'type')$$,
  'domains, arrays, composites and nested composites of biometric are biometric by type');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN people.face IS 'identity'$$,
                 '22023', 'column "face" of relation "people" is biometric by its type',
                 'a biometric column cannot be labelled identity');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN kiosk.d IS 'financial'$$,
                 '22023', NULL, 'a domain-over-biometric column cannot be labelled financial');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN kiosk.v IS 'identity'$$,
                 '22023', NULL, 'a column of a composite holding biometric cannot be labelled identity');

-- -------------------------------------------------- partitions, children
CREATE TABLE pay (id int, card text) PARTITION BY LIST (id);
CREATE TABLE pay_1 PARTITION OF pay FOR VALUES IN (1);
CREATE TABLE pay_2 (card text, id int);
SECURITY LABEL FOR biotoken ON COLUMN pay.card IS 'financial';
SELECT is((SELECT source FROM cc WHERE relation = 'pay_1' AND column_name = 'card'),
          'inherited', 'a partition created before the label inherits it');
SELECT is((SELECT count(*) FROM cc WHERE relation = 'pay_2'), 0::bigint,
          'a table not yet attached is not classified');
ALTER TABLE pay ATTACH PARTITION pay_2 FOR VALUES IN (2);
SELECT results_eq(
  $$SELECT relation, category, source FROM cc WHERE column_name = 'card' ORDER BY relation$$,
  $$VALUES ('pay', 'financial', 'label'), ('pay_1', 'financial', 'inherited'),
           ('pay_2', 'financial', 'inherited')$$,
  'a partition attached after the label inherits it, matched by name');
CREATE TABLE base (nid text);
SECURITY LABEL FOR biotoken ON COLUMN base.nid IS 'identity';
CREATE TABLE mid (x int) INHERITS (base);
CREATE TABLE leaf () INHERITS (mid);
SELECT is((SELECT category || '/' || source FROM cc WHERE relation = 'leaf'),
          'identity/inherited', 'a grandchild queried by its own name is classified');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN leaf.nid IS 'financial'$$,
                 '42501', NULL,
                 'a child''s own label weaker than the one it inherits is a weakening: biotoken_admin only');
SELECT lives_ok($$SECURITY LABEL FOR biotoken ON COLUMN leaf.nid IS 'identity'$$,
                'a child may add its own label');
SELECT is((SELECT category FROM cc WHERE relation = 'leaf'), 'identity',
          'the child stays identity');
ALTER TABLE mid NO INHERIT base;
SELECT is((SELECT category || '/' || source FROM cc WHERE relation = 'mid'),
          'identity/lineage', 'a disinherited child keeps the classification as lineage');
SELECT is((SELECT source_columns FROM biotoken.label_lineage WHERE relid = 'mid'::regclass),
          ARRAY['tap_labels.base.nid'], 'the lineage row names the parent''s column');

-- ------------------------------------------------- the biotoken_admin rule
CREATE ROLE regress_biotoken_tap_owner;
CREATE ROLE regress_biotoken_tap_admin IN ROLE biotoken_admin, regress_biotoken_tap_owner;
GRANT USAGE ON SCHEMA tap_labels TO regress_biotoken_tap_owner;
CREATE TABLE ledger (iban text, nid text);
ALTER TABLE ledger OWNER TO regress_biotoken_tap_owner;
SELECT lives_ok($$SELECT pg_temp.as_role('regress_biotoken_tap_owner',
                  $q$SECURITY LABEL FOR biotoken ON COLUMN tap_labels.ledger.iban IS 'financial'$q$)$$,
                'the table owner may add a label');
SELECT throws_ok($$SELECT pg_temp.as_role('regress_biotoken_tap_owner',
                  $q$SECURITY LABEL FOR biotoken ON COLUMN tap_labels.ledger.iban IS NULL$q$)$$,
                 '42501', 'permission denied to remove the biotoken label of column "iban" of relation "ledger"',
                 'the owner may not remove it');
SELECT throws_ok($$SELECT pg_temp.as_role('regress_biotoken_tap_owner',
                  $q$SECURITY LABEL FOR biotoken ON COLUMN tap_labels.ledger.iban IS 'identity'$q$)$$,
                 '42501', 'permission denied to change the biotoken label of column "iban" of relation "ledger"',
                 'the owner may not change it');
SELECT throws_ok($$SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS NULL$$,
                 '42501', 'permission denied to remove the biotoken label of column "iban" of relation "ledger"',
                 'a superuser that is not a member of biotoken_admin may not remove it');
SELECT lives_ok($$SELECT pg_temp.as_role('regress_biotoken_tap_admin',
                  $q$SECURITY LABEL FOR biotoken ON COLUMN tap_labels.ledger.iban IS NULL$q$)$$,
                'a member of biotoken_admin may remove it');
SELECT is((SELECT count(*) FROM cc WHERE relation = 'ledger'), 0::bigint,
          'the removed label is gone from classified_columns at once');
ALTER TABLE mid OWNER TO regress_biotoken_tap_owner;
SELECT throws_ok($$SELECT pg_temp.as_role('regress_biotoken_tap_owner',
                  $q$SECURITY LABEL FOR biotoken ON COLUMN tap_labels.mid.nid IS NULL$q$)$$,
                 '42501', 'permission denied to remove the biotoken label of column "nid" of relation "mid"',
                 'a lineage label is removed under the same rule');

SELECT * FROM finish();
ROLLBACK;
