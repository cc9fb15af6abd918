/*-------------------------------------------------------------------------
 *
 * labels.h
 *	  Classification: the biotoken SECURITY LABEL provider and the
 *	  per-backend category cache.
 *
 * IDENTIFICATION
 *	  extension/labels.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_LABELS_H
#define BIOTOKEN_LABELS_H

#include "access/attnum.h"
#include "nodes/pg_list.h"

/* Categories, as bits so that sets of them are plain ints. */
typedef enum BtCategory
{
	BT_CAT_NONE = 0,
	BT_CAT_BIOMETRIC = 1 << 0,
	BT_CAT_IDENTITY = 1 << 1,
	BT_CAT_FINANCIAL = 1 << 2
} BtCategory;

#define BT_CAT_ALL	(BT_CAT_BIOMETRIC | BT_CAT_IDENTITY | BT_CAT_FINANCIAL)

/*
 * A relation's categories and its columns', as bt_labels_relation_lookup
 * returns them: attcats[attnum - 1] for attnum 1..natts, each read with
 * BT_LABELS_ATT_CATEGORY; attcats is NULL when no column is classified.
 */
typedef struct BtLabelsRelation
{
	int			categories;		/* union of the columns' categories */
	int			natts;			/* columns attcats knows */
	const uint8 *attcats;		/* [natts], or NULL */
} BtLabelsRelation;

#define BT_LABELS_ATT_CATEGORY(b)	((int) ((b) & BT_CAT_ALL))

extern const char *bt_labels_category_name(int category);

/*
 * The contract between the guard and classification (labels.c):
 *
 * bt_labels_init: registers the "biotoken" label provider and the cache
 * invalidation callbacks; called from _PG_init when preloaded.
 *
 * bt_labels_relation_categories: the union of the categories of every
 * column of a relation (by type, own label, a parent's label, lineage);
 * 0 for an unclassified relation.  The guard's fast path: a hash probe
 * when cached, no allocation.
 *
 * bt_labels_column_category: the category of one column (attnum > 0).
 *
 * bt_labels_relation_lookup: both at once, for the guard's per-statement
 * path; the result points into the cache and is valid only until the next
 * call into labels.c or catalog access (see labels.c).
 *
 * bt_labels_set_lineage: label a column that received data copied from
 * classified columns ("source" lineage); source_columns is a List of
 * char * "schema.table.column" for the access log.
 */
extern void bt_labels_init(void);
extern int	bt_labels_relation_categories(Oid relid);
extern int	bt_labels_column_category(Oid relid, AttrNumber attnum);
extern void bt_labels_relation_lookup(Oid relid, BtLabelsRelation *rel);
extern void bt_labels_set_lineage(Oid relid, AttrNumber attnum, int categories,
								  List *source_columns);

#endif							/* BIOTOKEN_LABELS_H */
