/*-------------------------------------------------------------------------
 *
 * lineage.h
 *	  Lineage: the columns a copy of classified data flows into, their
 *	  labels, and the biotoken.label_lineage table that records why.
 *
 * IDENTIFICATION
 *	  extension/lineage.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_LINEAGE_H
#define BIOTOKEN_LINEAGE_H

#include "access/attnum.h"
#include "nodes/bitmapset.h"
#include "nodes/parsenodes.h"
#include "utils/hsearch.h"
#include "utils/relcache.h"

/* Key and entry of the map bt_lineage_load_map builds. */
typedef struct BtLineageKey
{
	Oid			relid;
	AttrNumber	attnum;
} BtLineageKey;

typedef struct BtLineageEntry
{
	BtLineageKey key;
	int			category;
	NameData	column_name;
} BtLineageEntry;

/* The lineage of one target of a statement with several (bt_lineage_for_ctes). */
typedef struct BtLineageCopy
{
	Oid			relid;
	List	   *targets;
} BtLineageCopy;

/*
 * For the guard (guard.c):
 *
 * bt_lineage_for_dml: the target columns of an INSERT, UPDATE or MERGE
 * (after rewriting, before planning) that receive classified data they are
 * not yet labelled with; *relid is set to the target relation.
 * bt_lineage_for_ctes: the same for the data-modifying CTEs of any query,
 * as a List of BtLineageCopy *.
 * bt_lineage_for_output: the same for a query whose output columns become
 * columns 1..n of a new relation.
 * bt_lineage_for_columns: the same for column attnum of relid computed
 * from other columns of it (cols offset by FirstLowInvalidHeapAttributeNumber:
 * ALTER COLUMN TYPE ... USING, a generated column).
 * bt_lineage_apply: refuse a mixing copy (42501), then label the targets.
 * bt_lineage_ctas_query: the query of a CREATE TABLE AS (or NULL), a copy.
 * bt_lineage_view_query: the stored query of a (materialized) view, a
 * copy, or NULL; the caller holds a lock on rel.
 *
 * For classification (labels.c):
 *
 * bt_lineage_table_oid: biotoken.label_lineage, or InvalidOid.
 * bt_lineage_delete_rows: delete the rows of a column (attnum 0: all).
 * bt_lineage_label: label a column with a category that flowed into it;
 * how is "lineage" or "detach" for the access log.
 * bt_lineage_load_map: the lineage table as a hash (current context), or
 * NULL.
 */
extern List *bt_lineage_for_dml(Query *query, Oid *relid);
extern List *bt_lineage_for_ctes(Query *query);
extern List *bt_lineage_for_output(Query *query);
extern List *bt_lineage_for_columns(Oid relid, AttrNumber attnum,
									const Bitmapset *cols);
extern void bt_lineage_apply(Oid relid, List *targets);
extern Query *bt_lineage_ctas_query(CreateTableAsStmt *ctas);
extern Query *bt_lineage_view_query(Relation rel);

extern Oid	bt_lineage_table_oid(void);
extern void bt_lineage_delete_rows(Oid lineage_oid, Oid relid,
								   AttrNumber attnum);
extern void bt_lineage_label(Oid relid, AttrNumber attnum, int category,
							 List *source_columns, const char *how);
extern HTAB *bt_lineage_load_map(void);

#endif							/* BIOTOKEN_LINEAGE_H */
