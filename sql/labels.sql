--
-- labels: the biotoken SECURITY LABEL provider; classification by type,
-- by label and through inheritance and partitioning; the view
-- biotoken.classified_columns; the biotoken_admin rule for removing or
-- changing a label; and invalidation seen from a second session
--
CREATE SCHEMA regress_labels;
SET search_path = regress_labels, public;

-- the classified columns of this test's relations only
CREATE VIEW cc AS
  SELECT c.relation, c.column_name, c.category, c.source
    FROM biotoken.classified_columns c
    JOIN pg_class r ON r.oid = c.relation
   WHERE r.relnamespace = 'regress_labels'::regnamespace;

-- ====================================================================
-- Every valid value
-- ====================================================================
CREATE TABLE people (id int, national_id text, iban text, photo bytea,
                     face biometric, note text);
SECURITY LABEL FOR biotoken ON COLUMN people.national_id IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN people.iban IS 'financial';
SECURITY LABEL FOR biotoken ON COLUMN people.photo IS 'biometric';
-- redundant on a biometric column, but true
SECURITY LABEL FOR biotoken ON COLUMN people.face IS 'biometric';
-- the same value again, and removing a label that is not there: no change
SECURITY LABEL FOR biotoken ON COLUMN people.iban IS 'financial';
SECURITY LABEL FOR biotoken ON COLUMN people.note IS NULL;
SELECT * FROM cc ORDER BY relation::text, column_name;
SELECT objname, label FROM pg_seclabels
 WHERE provider = 'biotoken' AND objnamespace = 'regress_labels'::regnamespace
 ORDER BY objname;

-- ====================================================================
-- Invalid values (22023) and objects (0A000)
-- ====================================================================
SECURITY LABEL FOR biotoken ON COLUMN people.note IS 'identity';	-- ok
SECURITY LABEL FOR biotoken ON COLUMN people.id IS 'Identity';	-- fail (case matters)
SECURITY LABEL FOR biotoken ON COLUMN people.id IS 'identity ';	-- fail (trailing space)
SECURITY LABEL FOR biotoken ON COLUMN people.id IS 'secret';	-- fail (not a category)
SECURITY LABEL FOR biotoken ON COLUMN people.id IS '';	-- fail (empty)
SECURITY LABEL FOR biotoken ON COLUMN people.id IS 'identity,financial';	-- fail (one category per column)
SECURITY LABEL FOR biotoken ON TABLE people IS 'identity';	-- fail (a table)
SECURITY LABEL FOR biotoken ON SCHEMA regress_labels IS 'identity';	-- fail (a schema)
SECURITY LABEL FOR biotoken ON VIEW cc IS 'identity';	-- fail (a view)
SECURITY LABEL FOR biotoken ON COLUMN cc.category IS 'identity';	-- fail (a view's column)
CREATE TYPE address AS (street text, city text);
SECURITY LABEL FOR biotoken ON COLUMN address.city IS 'identity';	-- fail (a composite type's column)
SECURITY LABEL FOR biotoken ON COLUMN people.ctid IS 'identity';	-- fail (a system column)
SECURITY LABEL FOR biotoken ON COLUMN pg_catalog.pg_class.relname IS 'identity';	-- fail (a system catalog)
SECURITY LABEL FOR biotoken ON ROLE regress_biotoken_app IS 'identity';	-- fail (a role)
-- the same refusals with their SQLSTATEs
SELECT q AS statement, regress_sqlstate(q) AS result FROM (VALUES
  ($$SECURITY LABEL FOR biotoken ON COLUMN people.id IS 'secret'$$),
  ($$SECURITY LABEL FOR biotoken ON COLUMN people.face IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON TABLE people IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON SCHEMA regress_labels IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON COLUMN cc.category IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON COLUMN people.ctid IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON COLUMN pg_catalog.pg_class.relname IS 'identity'$$),
  ($$SECURITY LABEL FOR biotoken ON COLUMN people.iban IS NULL$$)) AS v(q);
-- nothing of the refused statements remains
SELECT objname, label FROM pg_seclabels
 WHERE provider = 'biotoken' AND objnamespace = 'regress_labels'::regnamespace
 ORDER BY objname;

-- ====================================================================
-- Biometric by type: domains, arrays, composites, nested
-- ====================================================================
CREATE DOMAIN face_d AS biometric;
CREATE TYPE face_pair AS (left_face biometric, right_face biometric);
CREATE TYPE enrolment AS (taken date, faces face_pair[]);
CREATE TABLE kiosk (id int, d face_d, a biometric[], c face_pair,
                    n enrolment, da face_d[], plain text, addr address);
SELECT * FROM cc WHERE relation = 'kiosk'::regclass ORDER BY column_name;
SECURITY LABEL FOR biotoken ON COLUMN kiosk.c IS 'biometric';	-- ok
SECURITY LABEL FOR biotoken ON COLUMN people.face IS 'identity';	-- fail (biometric type)
SECURITY LABEL FOR biotoken ON COLUMN kiosk.d IS 'financial';	-- fail (domain over biometric)
SECURITY LABEL FOR biotoken ON COLUMN kiosk.a IS 'identity';	-- fail (array of biometric)
SECURITY LABEL FOR biotoken ON COLUMN kiosk.n IS 'identity';	-- fail (composite holding an array of a composite holding biometric)
-- a composite type that gains or loses a biometric attribute
CREATE TYPE extra AS (x int);
CREATE TABLE kiosk2 (id int, e extra);
SELECT count(*) FROM cc WHERE relation = 'kiosk2'::regclass;
ALTER TYPE extra ADD ATTRIBUTE f biometric;
SELECT * FROM cc WHERE relation = 'kiosk2'::regclass;
ALTER TYPE extra DROP ATTRIBUTE f;
SELECT count(*) FROM cc WHERE relation = 'kiosk2'::regclass;
-- and a column whose type changes
ALTER TABLE kiosk2 ALTER COLUMN id TYPE biometric USING NULL;
SELECT * FROM cc WHERE relation = 'kiosk2'::regclass;

-- ====================================================================
-- Partitions: a parent's label covers every partition, also one
-- attached later, one with its columns in another order, one
-- sub-partitioned, and one queried by its own name
-- ====================================================================
CREATE TABLE cards (id int, holder text, card_number text) PARTITION BY RANGE (id);
CREATE TABLE cards_1 PARTITION OF cards FOR VALUES FROM (0) TO (100);
SECURITY LABEL FOR biotoken ON COLUMN cards.card_number IS 'financial';
CREATE TABLE cards_2 PARTITION OF cards FOR VALUES FROM (100) TO (200);
CREATE TABLE cards_3 (card_number text, gone int, id int, holder text);
ALTER TABLE cards_3 DROP COLUMN gone;
CREATE TABLE cards_4 (id int, holder text, card_number text) PARTITION BY RANGE (id);
CREATE TABLE cards_4a PARTITION OF cards_4 FOR VALUES FROM (300) TO (350);
SELECT * FROM cc WHERE relation::text LIKE 'cards%' ORDER BY relation::text, column_name;
ALTER TABLE cards ATTACH PARTITION cards_3 FOR VALUES FROM (200) TO (300);
ALTER TABLE cards ATTACH PARTITION cards_4 FOR VALUES FROM (300) TO (400);
SELECT * FROM cc WHERE relation::text LIKE 'cards%' ORDER BY relation::text, column_name;
-- the attnums differ; the columns match by name
SELECT attrelid::regclass, attnum FROM pg_attribute
 WHERE attname = 'card_number' AND attrelid IN ('cards'::regclass, 'cards_3'::regclass)
 ORDER BY 1::text;
-- a partition's own label adds to what it inherits; the strongest wins
SECURITY LABEL FOR biotoken ON COLUMN cards_1.holder IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN cards_1.card_number IS 'identity';
SECURITY LABEL FOR biotoken ON COLUMN cards_2.card_number IS 'financial';
SELECT * FROM cc WHERE relation::text LIKE 'cards_%' ORDER BY relation::text, column_name;

-- ====================================================================
-- Inheritance: several parents, grandchildren
-- ====================================================================
CREATE TABLE persons (name text, nid text);
SECURITY LABEL FOR biotoken ON COLUMN persons.nid IS 'identity';
CREATE TABLE accounts (acct text);
SECURITY LABEL FOR biotoken ON COLUMN accounts.acct IS 'financial';
CREATE TABLE customers (since date) INHERITS (persons, accounts);
CREATE TABLE vips () INHERITS (customers);
CREATE TABLE staff (name text, nid text, acct text);
ALTER TABLE staff INHERIT persons;
SELECT * FROM cc WHERE relation::text IN ('customers', 'vips', 'staff')
 ORDER BY relation::text, column_name;

-- ====================================================================
-- Detaching keeps the classification, as a lineage label
-- ====================================================================
ALTER TABLE cards DETACH PARTITION cards_2;
ALTER TABLE cards DETACH PARTITION cards_4;
ALTER TABLE customers NO INHERIT accounts;
ALTER TABLE staff NO INHERIT persons;
SELECT * FROM cc
 WHERE relation::text IN ('cards_2', 'cards_4', 'cards_4a', 'customers', 'vips', 'staff')
 ORDER BY relation::text, column_name;
SELECT relid, attnum, column_name, category, source_columns
  FROM biotoken.label_lineage
 WHERE relid::regclass::oid IN (SELECT oid FROM pg_class
                                 WHERE relnamespace = 'regress_labels'::regnamespace)
 ORDER BY relid::text;
-- provenance goes with the table or the column
DROP TABLE cards_4;
ALTER TABLE staff DROP COLUMN nid;
SELECT relid, column_name FROM biotoken.label_lineage
 WHERE source_columns[1] LIKE 'regress\_labels.%'
 ORDER BY relid::text;

-- ====================================================================
-- Removing or changing a label needs biotoken_admin (42501)
-- ====================================================================
CREATE ROLE regress_biotoken_label_owner;
CREATE ROLE regress_biotoken_label_admin IN ROLE biotoken_admin, regress_biotoken_label_owner;
GRANT USAGE ON SCHEMA regress_labels TO regress_biotoken_label_owner;
CREATE TABLE ledger (id int, iban text, nid text, memo text);
ALTER TABLE ledger OWNER TO regress_biotoken_label_owner;
ALTER TABLE customers OWNER TO regress_biotoken_label_owner;
SET SESSION AUTHORIZATION regress_biotoken_label_owner;
-- the owner may add labels
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS 'financial';	-- ok
SECURITY LABEL FOR biotoken ON COLUMN ledger.nid IS 'identity';	-- ok
-- but not remove or change them
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS NULL;	-- fail (removal)
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS 'identity';	-- fail (change)
SECURITY LABEL FOR biotoken ON COLUMN ledger.nid IS 'biometric';	-- fail (change, even to a stronger one)
SECURITY LABEL FOR biotoken ON COLUMN customers.acct IS NULL;	-- fail (a lineage label too)
RESET SESSION AUTHORIZATION;
-- superuser status does not count
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS NULL;	-- fail (superuser, not a member)
-- SET ROLE lends nothing: the session user must be a member too
SET ROLE regress_biotoken_label_admin;
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS NULL;	-- fail (session user not a member)
RESET ROLE;
-- a non-admin's SECURITY DEFINER function does not borrow its admin
-- caller's membership: the current user must be a member too
CREATE FUNCTION unlabel_iban() RETURNS void LANGUAGE plpgsql SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  SECURITY LABEL FOR biotoken ON COLUMN regress_labels.ledger.iban IS NULL;
END
$$;
ALTER FUNCTION unlabel_iban() OWNER TO regress_biotoken_label_owner;
SET SESSION AUTHORIZATION regress_biotoken_label_admin;
SELECT unlabel_iban();	-- fail (current user not a member)
-- a member of biotoken_admin may
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS 'identity';	-- ok
SECURITY LABEL FOR biotoken ON COLUMN ledger.iban IS NULL;	-- ok
SECURITY LABEL FOR biotoken ON COLUMN customers.acct IS NULL;	-- ok
RESET SESSION AUTHORIZATION;
SELECT * FROM cc WHERE relation::text IN ('ledger', 'customers', 'vips')
 ORDER BY relation::text, column_name;
-- an explicit change ends the lineage provenance
SELECT count(*) FROM biotoken.label_lineage WHERE relid = 'customers'::regclass;
-- classification is metadata every role may read
SET ROLE regress_biotoken_label_owner;
SELECT count(*) > 0 AS readable FROM biotoken.classified_columns;
RESET ROLE;

-- ====================================================================
-- Changes reach a second session at once
-- ====================================================================
CREATE EXTENSION dblink;
SELECT dblink_connect('regress_labels_b',
  format('dbname=%s host=%s port=%s', current_database(),
         btrim(split_part(current_setting('unix_socket_directories'), ',', 1)),
         current_setting('port')));
-- what the other session's guard sees for relations named inv*
CREATE FUNCTION remote_cc() RETURNS TABLE (relation text, column_name text,
                                           category text, source text)
LANGUAGE sql AS $$
  SELECT * FROM dblink('regress_labels_b',
    $q$SELECT relation::text, column_name::text, category, source
         FROM biotoken.classified_columns
        WHERE relation::text LIKE 'regress\_labels.inv%'
        ORDER BY 1, 2$q$)
    AS t(relation text, column_name text, category text, source text)
$$;
CREATE TABLE inv_p (id int, nid text) PARTITION BY LIST (id);
CREATE TABLE inv_p1 PARTITION OF inv_p FOR VALUES IN (1);
CREATE TABLE inv_sub (id int, nid text) PARTITION BY LIST (id);
CREATE TABLE inv_sub1 PARTITION OF inv_sub FOR VALUES IN (2);
CREATE TABLE inv_ip (id int, nid text);
CREATE TABLE inv_i (id int, nid text);
CREATE TABLE inv_i1 () INHERITS (inv_i);
CREATE TYPE inv_ct AS (x int);
CREATE TABLE inv_t (id int, f text, c inv_ct);
-- the other session caches all of them as unclassified
SELECT * FROM remote_cc();
-- a label on a parent: the parent and its partitions
SECURITY LABEL FOR biotoken ON COLUMN inv_p.nid IS 'identity';
SELECT * FROM remote_cc();
-- attaching a sub-partitioned table, inheriting into a table that has a child
SECURITY LABEL FOR biotoken ON COLUMN inv_ip.nid IS 'financial';
ALTER TABLE inv_p ATTACH PARTITION inv_sub FOR VALUES IN (2);
ALTER TABLE inv_i INHERIT inv_ip;
SELECT * FROM remote_cc();
-- detaching, disinheriting
ALTER TABLE inv_p DETACH PARTITION inv_sub;
ALTER TABLE inv_i NO INHERIT inv_ip;
SELECT * FROM remote_cc() WHERE relation NOT LIKE '%inv_t';
-- removing the parent's label declassifies the partitions that inherited it
ALTER TABLE inv_p OWNER TO regress_biotoken_label_owner;
SET SESSION AUTHORIZATION regress_biotoken_label_admin;
SECURITY LABEL FOR biotoken ON COLUMN inv_p.nid IS NULL;
RESET SESSION AUTHORIZATION;
SELECT * FROM remote_cc() WHERE relation LIKE '%inv_p%';
-- a column type that changes, a composite type that changes
ALTER TABLE inv_t ALTER COLUMN f TYPE biometric USING NULL;
ALTER TYPE inv_ct ADD ATTRIBUTE face biometric;
SELECT * FROM remote_cc() WHERE relation LIKE '%inv_t';
ALTER TYPE inv_ct DROP ATTRIBUTE face;
SELECT * FROM remote_cc() WHERE relation LIKE '%inv_t';
SELECT dblink_disconnect('regress_labels_b');

-- ====================================================================
-- Clean up
-- ====================================================================
SET client_min_messages = warning;
DROP EXTENSION dblink;
DROP SCHEMA regress_labels CASCADE;
DROP ROLE regress_biotoken_label_admin;
DROP ROLE regress_biotoken_label_owner;
RESET client_min_messages;
RESET search_path;
-- no lineage row outlives its table
SELECT count(*) FROM biotoken.label_lineage l
 WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = l.relid);
