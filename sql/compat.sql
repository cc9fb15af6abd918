--
-- compat: guard behaviour that rests on code differing between PostgreSQL
-- majors (extension/compat.h and its callers).  Before 16 every
-- inheritance child and partition in a plan carried its parent's column
-- sets, translated to its own column numbers; from 16 on the guard
-- translates them itself (guard.c, child_perms).
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS biotoken;
DROP SCHEMA IF EXISTS regress_compat CASCADE;
RESET client_min_messages;
CREATE SCHEMA regress_compat;
SET search_path = regress_compat, public;

-- a label on one partition's column; that partition's columns are in
-- another order than the parent's, after a dropped one
CREATE TABLE cp_people (id int, region int, national_id text, face biometric)
	PARTITION BY RANGE (region);
CREATE TABLE cp_people_1 PARTITION OF cp_people FOR VALUES FROM (0) TO (100);
CREATE TABLE cp_people_2 (junk int, face biometric, national_id text,
						  region int, id int);
ALTER TABLE cp_people_2 DROP COLUMN junk;
ALTER TABLE cp_people ATTACH PARTITION cp_people_2 FOR VALUES FROM (100) TO (200);
-- and one level further down
CREATE TABLE cp_people_3 PARTITION OF cp_people FOR VALUES FROM (200) TO (300)
	PARTITION BY RANGE (region);
CREATE TABLE cp_people_3a PARTITION OF cp_people_3 FOR VALUES FROM (200) TO (250);
SECURITY LABEL FOR biotoken ON COLUMN cp_people_2.national_id IS 'identity';
INSERT INTO cp_people VALUES
	(1, 5, 'A1', array_fill(0.5::float4, ARRAY[16])),
	(2, 150, 'B2', array_fill(-0.5::float4, ARRAY[16])),
	(3, 210, 'C3', array_fill(0.25::float4, ARRAY[16]));

SELECT count(face), max(national_id) FROM cp_people;	-- fail (partition 2)
SELECT count(*) FROM cp_people t WHERE t IS NOT NULL;	-- fail (whole row)
UPDATE cp_people SET national_id = 'X' WHERE face IS NULL;	-- fail (writes partition 2)
SELECT count(face), max(national_id) FROM cp_people_2;	-- fail
-- partition 2 pruned at plan time, or not read: allowed
SELECT count(face), max(national_id) FROM cp_people WHERE region < 100;
SELECT count(face), max(id) FROM cp_people;

-- a label on a sub-partition's column, reached through two levels
CREATE TABLE cp_deep (id int, region int, national_id text, face biometric)
	PARTITION BY RANGE (region);
CREATE TABLE cp_deep_1 PARTITION OF cp_deep FOR VALUES FROM (0) TO (100);
CREATE TABLE cp_deep_2 PARTITION OF cp_deep FOR VALUES FROM (100) TO (200)
	PARTITION BY RANGE (region);
CREATE TABLE cp_deep_2a (face biometric, id int, region int, national_id text);
ALTER TABLE cp_deep_2 ATTACH PARTITION cp_deep_2a FOR VALUES FROM (100) TO (150);
SECURITY LABEL FOR biotoken ON COLUMN cp_deep_2a.national_id IS 'identity';
INSERT INTO cp_deep VALUES (1, 5, 'A1', NULL), (2, 120, 'B2', NULL);
SELECT count(face), max(national_id) FROM cp_deep;	-- fail (partition 2a)
SELECT count(face), max(national_id) FROM cp_deep WHERE region < 100;

-- inheritance: a label on a child's column counts when the parent is read
CREATE TABLE cp_parent (id int, national_id text, face biometric);
CREATE TABLE cp_child (extra int) INHERITS (cp_parent);
SECURITY LABEL FOR biotoken ON COLUMN cp_child.national_id IS 'identity';
INSERT INTO cp_child VALUES (1, 'A1', array_fill(0.5::float4, ARRAY[16]), 7);
SELECT count(face), max(national_id) FROM cp_parent;	-- fail (cp_child)
SELECT count(face), max(national_id) FROM ONLY cp_parent;

SET client_min_messages = warning;
DROP SCHEMA regress_compat CASCADE;
RESET client_min_messages;
