/*-------------------------------------------------------------------------
 *
 * labels.h
 *	  Classification: the biotoken SECURITY LABEL provider (labels.c) and
 *	  the per-backend category cache (labels_cache.c).
 *
 * IDENTIFICATION
 *	  extension/labels.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_LABELS_H
#define BIOTOKEN_LABELS_H

#include "access/attnum.h"
#include "catalog/pg_class.h"
#include "nodes/pg_list.h"

#include "categories.h"

/*
 * A relation's categories and its columns', as bt_labels_relation_lookup
 * returns them: attcats[attnum - 1] for attnum 1..natts, each read with
 * BT_LABELS_ATT_CATEGORY; attcats is NULL when no column is classified.
 */
typedef struct BtLabelsRelation
{
	int			categories;		/* union of the columns' categories */
	int			natts;			/* columns attcats knows */
	int			relflags;		/* BT_LABELS_REL_*, from pg_class */
	const uint8 *attcats;		/* [natts], or NULL */
} BtLabelsRelation;

/*
 * What else of a relation may make the executor read its stored columns
 * without a permission check seeing them (guard_reads.c looks closer).
 */
#define BT_LABELS_REL_TRIGGERS	0x01	/* relhastriggers */
#define BT_LABELS_REL_CHECKS	0x02	/* relchecks > 0 */
#define BT_LABELS_REL_INDEXES	0x04	/* relhasindex */
#define BT_LABELS_REL_RLS		0x08	/* relrowsecurity */
#define BT_LABELS_REL_GENERATED	0x10	/* a stored generated column */

/*
 * Where a column's category comes from.  One byte per column holds the
 * category bit (low bits, BT_LABELS_ATT_CATEGORY) and the source
 * (BT_LABELS_ATT_SOURCE).
 */
typedef enum BtSource
{
	BT_SRC_NONE = 0,
	BT_SRC_TYPE = 1,			/* the column's type is or contains biometric */
	BT_SRC_LABEL = 2,			/* the column's own label */
	BT_SRC_INHERITED = 3		/* a label of an ancestor's column */
} BtSource;

#define BT_LABELS_SRC_SHIFT	4
#define BT_LABELS_ATT_CATEGORY(b)	((int) ((b) & BT_CAT_ALL))
#define BT_LABELS_ATT_SOURCE(b)		((BtSource) ((b) >> BT_LABELS_SRC_SHIFT))

#define BT_LABEL_PROVIDER	"biotoken"

/* The SQL name of a single category bit (see categories.h). */
static inline const char *
bt_labels_category_name(int category)
{
	return bt_categories_name(category);
}

/*
 * Relation kinds whose columns hold data a statement can read: only these
 * are classified.  A view's columns are not (the guard judges the tables
 * under it), nor a composite type's (it stores nothing).
 */
static inline bool
bt_labels_relkind_classifiable(char relkind)
{
	return relkind == RELKIND_RELATION ||
		relkind == RELKIND_PARTITIONED_TABLE ||
		relkind == RELKIND_MATVIEW ||
		relkind == RELKIND_FOREIGN_TABLE;
}

/*
 * The contract between the guard and classification:
 *
 * bt_labels_init (labels.c): registers the "biotoken" label provider, the
 * cache invalidation callbacks and the object access hook; called from
 * _PG_init when preloaded.
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
 * call into labels.c or catalog access (see labels_cache.c).
 */
extern void bt_labels_init(void);
extern int	bt_labels_relation_categories(Oid relid);
extern int	bt_labels_column_category(Oid relid, AttrNumber attnum);
extern void bt_labels_relation_lookup(Oid relid, BtLabelsRelation *rel);

/*
 * Between the files of classification and lineage (labels_cache.c):
 *
 * bt_labels_cache_init: registers the invalidation callbacks.
 * bt_labels_type_is_biometric: whether a type is or contains biometric.
 * bt_labels_has_label: whether a column (subid, or any if 0) has a
 * biotoken label of its own.
 * bt_labels_columns: the per-column bytes (category and source) of a
 * relation, palloc'd in the current context, from the cache or, with
 * fresh, from the catalogs; NULL when nothing is classified.
 * bt_labels_live_attname: a live column's name, palloc'd, or NULL.
 * bt_labels_relation_natts: relnatts, dropped columns included, or 0.
 */
extern void bt_labels_cache_init(void);
extern bool bt_labels_type_is_biometric(Oid typid);
extern bool bt_labels_has_label(Oid relid, int32 subid);
extern uint8 *bt_labels_columns(Oid relid, bool fresh, int *natts);
extern char *bt_labels_live_attname(Oid relid, AttrNumber attnum);
extern AttrNumber bt_labels_relation_natts(Oid relid);

/*
 * labels.c, for lineage.c:
 *
 * bt_labels_column_name: "schema.table.column", quoted where needed, as
 * messages, the access log and the views name a column; palloc'd.
 * bt_labels_require_extension: throws 55000 unless the extension is
 * installed in this database.
 * bt_labels_audit_change: writes a "label" event (how: "label", "lineage"
 * or "detach") before a label changes.
 * bt_labels_invalidate_tree: invalidates relid and all its inheritors.
 */
extern char *bt_labels_column_name(Oid relid, AttrNumber attnum);
extern void bt_labels_require_extension(void);
extern void bt_labels_audit_change(Oid relid, const char *attname,
								   const char *oldlabel, const char *newlabel,
								   const char *how, List *source_columns);
extern void bt_labels_invalidate_tree(Oid relid);

#endif							/* BIOTOKEN_LABELS_H */
