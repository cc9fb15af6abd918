/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Classification: the "biotoken" SECURITY LABEL provider, the category
 *	  of every column, and the per-backend cache the guard reads.
 *
 * A column's category (biometric, identity or financial) comes from, in
 * this order of precedence on a tie:
 *
 *	1. its type: biometric, or a domain, array, range or composite that
 *	   contains biometric, is biometric;
 *	2. its own label in pg_seclabel (provider "biotoken"), set by
 *	   SECURITY LABEL or by lineage (bt_labels_set_lineage);
 *	3. a label on the same-named column of any inheritance ancestor or
 *	   partitioned parent, however deep, however attached.
 *
 * A column has at most one category.  When several sources disagree, the
 * strongest wins: biometric over identity over financial.  A relation's
 * categories are the union of its columns'.
 *
 * Changing an existing label (to anything, including NULL) needs
 * membership in biotoken_admin, superuser status not counting; adding one
 * needs only what PostgreSQL itself asks for SECURITY LABEL (ownership).
 * Lineage may add a label or replace it with a stronger one, never weaken
 * it.  Every change is written to the access log and invalidates the
 * relcache entry of the relation and all its inheritors, so every backend
 * drops its cached categories at commit.
 *
 * Cache: one dynahash keyed by relid, in the "biotoken labels" context
 * under CacheMemoryContext.  An entry holds the relation's union and, for
 * classified relations only, one byte per attnum (category and source).
 * A cached lookup is one hash probe, or a compare when the small memo in
 * front of the hash remembers the relation, and allocates nothing; the
 * guard gets a relation's categories and its columns' in one lookup
 * (bt_labels_relation_lookup).  Entries are dropped by the relcache
 * callback (per relid; InvalidOid drops all), and entries that depend on
 * the layout of a composite type also when that type's relation or any
 * pg_type row is invalidated.  Because pg_inherits
 * changes do not by themselves invalidate the descendants of the table
 * that was attached or detached, the object access hook does that.
 *
 * Lookups use only the syscache and systable scans (never SPI), so they
 * cannot recurse into the guard.  They take no locks on user relations.
 * An entry built while invalidation messages arrived is returned but not
 * cached, since it may mix old and new catalog state.
 *
 * IDENTIFICATION
 *	  extension/labels.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_seclabel.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/seclabel.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "biotoken.h"
#include "catalog.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(biotoken_classified_columns_internal);

#define BT_LABEL_PROVIDER	"biotoken"
#define BT_ADMIN_ROLE		"biotoken_admin"
#define BT_EXTENSION_NAME	"biotoken"
#define BT_LINEAGE_TABLE	"label_lineage"

/* C symbol of the biometric input function: how we recognise the type */
#define BT_TYPE_INPUT_SYMBOL	"biometric_in"

/*
 * Nesting of domains, arrays, ranges and composites we follow when looking
 * for biometric inside a type.  PostgreSQL forbids a composite that
 * contains itself, so this only bounds absurd but legal nesting; past it
 * we assume the worst (biometric).
 */
#define BT_TYPE_MAX_DEPTH	32

/*
 * One byte per attnum in a cache entry: category bit (the low bits, read
 * with BT_LABELS_ATT_CATEGORY, see labels.h) and source.
 */
#define BT_ATT_SRC_SHIFT	4

typedef enum BtSource
{
	BT_SRC_NONE = 0,
	BT_SRC_TYPE = 1,			/* the column's type is or contains biometric */
	BT_SRC_LABEL = 2,			/* the column's own label */
	BT_SRC_INHERITED = 3		/* a label of an ancestor's column */
} BtSource;

#define BT_ATT_CAT(b)	BT_LABELS_ATT_CATEGORY(b)
#define BT_ATT_SRC(b)	((BtSource) ((b) >> BT_ATT_SRC_SHIFT))

/* Layout of biotoken.label_lineage (see biotoken--1.0.sql). */
#define Natts_bt_lineage				7
#define Anum_bt_lineage_relid			1
#define Anum_bt_lineage_attnum			2
#define Anum_bt_lineage_column_name		3
#define Anum_bt_lineage_category		4
#define Anum_bt_lineage_source_columns	5
#define Anum_bt_lineage_labelled_at		6
#define Anum_bt_lineage_labelled_by		7

/* A cached relation. */
typedef struct BtRelEntry
{
	Oid			relid;			/* hash key; must be first */
	int			categories;		/* union of the columns' categories */
	bool		composite_dep;	/* depends on a composite type's layout */
	int			natts;			/* relnatts when built */
	uint8	   *attcats;		/* [natts], or NULL when categories == 0 */
} BtRelEntry;

/* The result of resolving one relation from the catalogs. */
typedef struct BtResolved
{
	int			categories;
	bool		composite_dep;
	int			natts;
	uint8	   *attcats;		/* [natts] or NULL */
	List	   *composite_rels; /* typrelids of composite types looked at */
} BtResolved;

/* One label read from pg_seclabel. */
typedef struct BtColLabel
{
	AttrNumber	attnum;
	int			category;
} BtColLabel;

/* Key and entry of the lineage map built by classified_columns. */
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

static MemoryContext labels_cxt = NULL;
static HTAB *rel_hash = NULL;
static HTAB *composite_hash = NULL; /* set of Oid: composite typrelids */
static int	n_composite_entries = 0;	/* entries with composite_dep */

/* The OID of the biometric type in this database (InvalidOid: none). */
static Oid	biometric_oid = InvalidOid;
static bool biometric_oid_valid = false;
static uint32 biometric_oid_hash = 0;

/* Bumped by every invalidation callback; see fetch_entry(). */
static uint64 inval_count = 0;

/*
 * A small direct-mapped memo in front of rel_hash: the entry last found for
 * a relid in each slot, so that the guard's per-statement lookups of the
 * same few relations cost a compare instead of a dynahash probe.  A slot
 * holds a pointer into rel_hash; every path that removes entries clears the
 * whole memo (forget_memo), so a slot never outlives its entry.  Entries
 * never move while they are in the table (dynahash links elements, it does
 * not copy them), and only removal frees them.
 */
#define BT_MEMO_SLOTS	16		/* a power of 2 */
static BtRelEntry *memo[BT_MEMO_SLOTS];

static object_access_hook_type prev_object_access = NULL;


/* ----------------------------------------------------------------
 *		Categories
 * ----------------------------------------------------------------
 */

/*
 * bt_labels_category_name
 *		The SQL name of a single category bit.
 */
const char *
bt_labels_category_name(int category)
{
	switch (category)
	{
		case BT_CAT_BIOMETRIC:
			return "biometric";
		case BT_CAT_IDENTITY:
			return "identity";
		case BT_CAT_FINANCIAL:
			return "financial";
	}
	return "none";
}

/* The order in which one category beats another for the same column. */
static int
category_rank(int category)
{
	switch (category)
	{
		case BT_CAT_BIOMETRIC:
			return 3;
		case BT_CAT_IDENTITY:
			return 2;
		case BT_CAT_FINANCIAL:
			return 1;
	}
	return 0;
}

/* The strongest single category in a set of them (0 for none). */
static int
strongest_category(int categories)
{
	if (categories & BT_CAT_BIOMETRIC)
		return BT_CAT_BIOMETRIC;
	if (categories & BT_CAT_IDENTITY)
		return BT_CAT_IDENTITY;
	if (categories & BT_CAT_FINANCIAL)
		return BT_CAT_FINANCIAL;
	return 0;
}

/*
 * The category a label value stands for: 0 for NULL, -1 for anything that
 * is not exactly one of the three names.
 */
static int
category_from_label(const char *label)
{
	if (label == NULL)
		return 0;
	if (strcmp(label, "biometric") == 0)
		return BT_CAT_BIOMETRIC;
	if (strcmp(label, "identity") == 0)
		return BT_CAT_IDENTITY;
	if (strcmp(label, "financial") == 0)
		return BT_CAT_FINANCIAL;
	return -1;
}

static const char *
source_name(BtSource source)
{
	switch (source)
	{
		case BT_SRC_TYPE:
			return "type";
		case BT_SRC_LABEL:
			return "label";
		case BT_SRC_INHERITED:
			return "inherited";
		case BT_SRC_NONE:
			break;
	}
	return "none";
}

/*
 * Relation kinds whose columns hold data a statement can read: only these
 * are classified.  A view's columns are not (the guard judges the tables
 * under it), nor a composite type's (it stores nothing).
 */
static bool
relkind_is_classifiable(char relkind)
{
	return relkind == RELKIND_RELATION ||
		relkind == RELKIND_PARTITIONED_TABLE ||
		relkind == RELKIND_MATVIEW ||
		relkind == RELKIND_FOREIGN_TABLE;
}


/* ----------------------------------------------------------------
 *		The cache and its invalidation
 * ----------------------------------------------------------------
 */

/* Create the cache context and hash tables if they do not exist. */
static void
ensure_cache(void)
{
	HASHCTL		ctl;

	if (labels_cxt == NULL)
	{
		if (CacheMemoryContext == NULL)
			CreateCacheMemoryContext();
		labels_cxt = AllocSetContextCreate(CacheMemoryContext,
										   "biotoken labels",
										   ALLOCSET_SMALL_SIZES);
	}
	if (rel_hash == NULL)
	{
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(BtRelEntry);
		ctl.hcxt = labels_cxt;
		rel_hash = hash_create("biotoken relation categories", 256, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	if (composite_hash == NULL)
	{
		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(Oid);
		ctl.hcxt = labels_cxt;
		composite_hash = hash_create("biotoken composite dependencies", 16,
									 &ctl,
									 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
}

/* Forget the memo; called before any entry is removed or freed. */
static inline void
forget_memo(void)
{
	memset(memo, 0, sizeof(memo));
}

/* The memo missed: probe the hash table and remember what it found. */
static pg_noinline BtRelEntry *
lookup_hashed(Oid relid)
{
	BtRelEntry *entry;

	if (rel_hash == NULL)
		return NULL;
	entry = hash_search(rel_hash, &relid, HASH_FIND, NULL);
	if (entry != NULL)
		memo[relid & (BT_MEMO_SLOTS - 1)] = entry;
	return entry;
}

/*
 * The cached entry of relid, or NULL if it is not in the cache.  Does no
 * catalog access and allocates nothing.
 */
static inline BtRelEntry *
lookup_cached(Oid relid)
{
	BtRelEntry *entry = memo[relid & (BT_MEMO_SLOTS - 1)];

	if (likely(entry != NULL && entry->relid == relid))
		return entry;
	return lookup_hashed(relid);
}

/*
 * Forget everything.  The hash tables live in child contexts of
 * labels_cxt, so resetting it frees them and every attcats array.
 */
static void
reset_cache(void)
{
	forget_memo();
	rel_hash = NULL;
	composite_hash = NULL;
	n_composite_entries = 0;
	if (labels_cxt != NULL)
		MemoryContextReset(labels_cxt);
	biometric_oid_valid = false;
}

static void
remove_entry(Oid relid)
{
	BtRelEntry *entry;

	if (rel_hash == NULL)
		return;
	forget_memo();
	entry = hash_search(rel_hash, &relid, HASH_REMOVE, NULL);
	if (entry == NULL)
		return;
	if (entry->composite_dep)
		n_composite_entries--;
	if (entry->attcats != NULL)
		pfree(entry->attcats);
}

/* Drop every entry whose result depends on a composite type's layout. */
static void
remove_composite_entries(void)
{
	HASH_SEQ_STATUS status;
	BtRelEntry *entry;

	/* the common case: a pg_type invalidation and no such entry */
	if (rel_hash == NULL || n_composite_entries == 0)
		return;
	forget_memo();
	hash_seq_init(&status, rel_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (!entry->composite_dep)
			continue;
		if (entry->attcats != NULL)
			pfree(entry->attcats);
		n_composite_entries--;
		/* dynahash allows removing the element just returned */
		hash_search(rel_hash, &entry->relid, HASH_REMOVE, NULL);
	}
}

/*
 * Relcache callback.  Runs outside any catalog access of ours and may run
 * outside a transaction: it only touches the hash tables.
 */
static void
labels_relcache_callback(Datum arg, Oid relid)
{
	inval_count++;

	if (!OidIsValid(relid))
	{
		reset_cache();
		return;
	}
	remove_entry(relid);
	if (composite_hash != NULL &&
		hash_search(composite_hash, &relid, HASH_FIND, NULL) != NULL)
		remove_composite_entries();
}

/*
 * TYPEOID syscache callback.  The type a column is declared with never
 * changes under it (ALTER COLUMN TYPE invalidates the table), and domains,
 * arrays and ranges never change what they are built on; only the set of
 * attributes of a composite type can change (ALTER TYPE ... ADD, DROP or
 * ALTER ATTRIBUTE), and the biometric type itself can come or go with the
 * extension.  So: forget the biometric OID if its row (or every row) was
 * invalidated or if we had not found it, and drop the entries that looked
 * inside a composite type.  Tables created and dropped all the time send
 * pg_type invalidations too; they cost only those few entries.
 */
static void
labels_type_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	inval_count++;

	if (hashvalue == 0 || !OidIsValid(biometric_oid) ||
		hashvalue == biometric_oid_hash)
		biometric_oid_valid = false;
	remove_composite_entries();
}


/* ----------------------------------------------------------------
 *		Resolution from the catalogs
 * ----------------------------------------------------------------
 */

/*
 * The OID of the biometric type of this database's biotoken extension, or
 * InvalidOid.  It is found as the member type of the extension whose input
 * function is the C symbol biometric_in, so renaming the type, its input
 * function or its schema does not declassify a single column.
 */
static Oid
biometric_type_oid(void)
{
	Oid			extoid;
	Oid			found = InvalidOid;
	Relation	depRel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	if (biometric_oid_valid)
		return biometric_oid;

	extoid = get_extension_oid(BT_EXTENSION_NAME, true);
	if (OidIsValid(extoid))
	{
		depRel = table_open(DependRelationId, AccessShareLock);
		ScanKeyInit(&key[0],
					Anum_pg_depend_refclassid,
					BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(ExtensionRelationId));
		ScanKeyInit(&key[1],
					Anum_pg_depend_refobjid,
					BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(extoid));
		scan = systable_beginscan(depRel, DependReferenceIndexId, true,
								  NULL, 2, key);
		while (!OidIsValid(found) &&
			   HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
			HeapTuple	typtup;
			HeapTuple	proctup;
			Oid			typinput;

			if (dep->classid != TypeRelationId ||
				dep->deptype != DEPENDENCY_EXTENSION)
				continue;
			typtup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(dep->objid));
			if (!HeapTupleIsValid(typtup))
				continue;
			typinput = ((Form_pg_type) GETSTRUCT(typtup))->typinput;
			ReleaseSysCache(typtup);

			proctup = SearchSysCache1(PROCOID, ObjectIdGetDatum(typinput));
			if (HeapTupleIsValid(proctup))
			{
				Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(proctup);
				Datum		prosrc;
				bool		isnull;

				prosrc = SysCacheGetAttr(PROCOID, proctup,
										 Anum_pg_proc_prosrc, &isnull);
				if (proc->prolang == ClanguageId && !isnull &&
					strcmp(TextDatumGetCString(prosrc),
						   BT_TYPE_INPUT_SYMBOL) == 0)
					found = dep->objid;
				ReleaseSysCache(proctup);
			}
		}
		systable_endscan(scan);
		table_close(depRel, AccessShareLock);
	}

	biometric_oid = found;
	biometric_oid_hash = OidIsValid(found) ?
		GetSysCacheHashValue1(TYPEOID, ObjectIdGetDatum(found)) : 0;
	biometric_oid_valid = true;
	return found;
}

static bool type_is_biometric(Oid typid, int depth, BtResolved *res);

/*
 * Whether any live attribute of the composite type whose relation is
 * typrelid is or contains biometric.  Records typrelid in res, since
 * ALTER TYPE can change the answer.
 */
static bool
composite_is_biometric(Oid typrelid, int depth, BtResolved *res)
{
	HeapTuple	tp;
	int			natts;
	AttrNumber	attnum;
	bool		result = false;

	res->composite_dep = true;
	res->composite_rels = lappend_oid(res->composite_rels, typrelid);

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(typrelid));
	if (!HeapTupleIsValid(tp))
		return false;
	natts = ((Form_pg_class) GETSTRUCT(tp))->relnatts;
	ReleaseSysCache(tp);

	for (attnum = 1; attnum <= natts && !result; attnum++)
	{
		HeapTuple	atp;
		Form_pg_attribute att;

		atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(typrelid),
							  Int16GetDatum(attnum));
		if (!HeapTupleIsValid(atp))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(atp);
		if (!att->attisdropped)
			result = type_is_biometric(att->atttypid, depth + 1, res);
		ReleaseSysCache(atp);
	}
	return result;
}

/*
 * Whether values of type typid are or contain biometric templates: the
 * type itself, a domain over such a type, an array or range of it, or a
 * composite with such an attribute, recursively.
 */
static bool
type_is_biometric(Oid typid, int depth, BtResolved *res)
{
	HeapTuple	tp;
	Form_pg_type typ;
	bool		result = false;

	if (typid == biometric_type_oid() && OidIsValid(typid))
		return true;

	/* types made by initdb cannot be built on an extension's type */
	if (typid < FirstNormalObjectId)
		return false;

	/* assume the worst rather than give up on absurd nesting */
	if (depth >= BT_TYPE_MAX_DEPTH)
		return true;
	check_stack_depth();

	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		return false;
	typ = (Form_pg_type) GETSTRUCT(tp);

	switch (typ->typtype)
	{
		case TYPTYPE_DOMAIN:
			result = type_is_biometric(typ->typbasetype, depth + 1, res);
			break;
		case TYPTYPE_COMPOSITE:
			result = composite_is_biometric(typ->typrelid, depth + 1, res);
			break;
		case TYPTYPE_RANGE:
			result = type_is_biometric(get_range_subtype(typid), depth + 1, res);
			break;
		case TYPTYPE_MULTIRANGE:
			result = type_is_biometric(get_multirange_range(typid), depth + 1,
									   res);
			break;
		default:
			if (IsTrueArrayType(typ))
				result = type_is_biometric(typ->typelem, depth + 1, res);
			break;
	}
	ReleaseSysCache(tp);
	return result;
}

/*
 * The biotoken labels of a relation's columns, read from pg_seclabel with
 * one index scan.  Returns how many; *labels is palloc'd in the current
 * context.  A value that is not a valid label (which SECURITY LABEL never
 * stores, but a manual catalog edit could) is reported and skipped.
 */
static int
relation_labels(Oid relid, BtColLabel **labels)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			n = 0;
	int			size = 4;

	*labels = palloc(size * sizeof(BtColLabel));

	rel = table_open(SecLabelRelationId, AccessShareLock);
	ScanKeyInit(&key[0],
				Anum_pg_seclabel_objoid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1],
				Anum_pg_seclabel_classoid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationRelationId));
	scan = systable_beginscan(rel, SecLabelObjectIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		FormData_pg_seclabel *sl = (FormData_pg_seclabel *) GETSTRUCT(tup);
		Datum		datum;
		bool		isnull;
		char	   *provider;
		char	   *label;
		int			category;

		if (sl->objsubid <= 0)
			continue;
		datum = heap_getattr(tup, Anum_pg_seclabel_provider,
							 RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		provider = TextDatumGetCString(datum);
		if (strcmp(provider, BT_LABEL_PROVIDER) != 0)
			continue;
		datum = heap_getattr(tup, Anum_pg_seclabel_label,
							 RelationGetDescr(rel), &isnull);
		if (isnull)
			continue;
		label = TextDatumGetCString(datum);
		category = category_from_label(label);
		if (category <= 0)
		{
			ereport(WARNING,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ignoring invalid biotoken label on column %d of relation %u",
							sl->objsubid, relid),
					 errhint("Relabel the column with SECURITY LABEL FOR biotoken.")));
			continue;
		}
		if (n == size)
		{
			size *= 2;
			*labels = repalloc(*labels, size * sizeof(BtColLabel));
		}
		(*labels)[n].attnum = sl->objsubid;
		(*labels)[n].category = category;
		n++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return n;
}

/*
 * Every inheritance ancestor of relid (partitioned parents included), at
 * any depth, through every parent of multiple inheritance; relid itself
 * is not in the list.  Detach-pending partitions still count as attached.
 */
static List *
relation_ancestors(Oid relid)
{
	List	   *result = NIL;
	List	   *queue = list_make1_oid(relid);
	Relation	rel;

	rel = table_open(InheritsRelationId, AccessShareLock);
	while (queue != NIL)
	{
		Oid			child = linitial_oid(queue);
		ScanKeyData key;
		SysScanDesc scan;
		HeapTuple	tup;

		queue = list_delete_first(queue);
		ScanKeyInit(&key,
					Anum_pg_inherits_inhrelid,
					BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(child));
		scan = systable_beginscan(rel, InheritsRelidSeqnoIndexId, true,
								  NULL, 1, &key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Oid			parent = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent;

			if (parent == relid || list_member_oid(result, parent))
				continue;
			result = lappend_oid(result, parent);
			queue = lappend_oid(queue, parent);
		}
		systable_endscan(scan);
	}
	table_close(rel, AccessShareLock);
	return result;
}

/* The name of a live column, palloc'd, or NULL if dropped or missing. */
static char *
live_attname(Oid relid, AttrNumber attnum)
{
	HeapTuple	tp;
	char	   *result = NULL;

	tp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
						 Int16GetDatum(attnum));
	if (HeapTupleIsValid(tp))
	{
		Form_pg_attribute att = (Form_pg_attribute) GETSTRUCT(tp);

		if (!att->attisdropped)
			result = pstrdup(NameStr(att->attname));
		ReleaseSysCache(tp);
	}
	return result;
}

/* Record a candidate category for a column; the stronger one wins. */
static void
merge_category(BtResolved *res, AttrNumber attnum, int category,
			   BtSource source)
{
	uint8	   *slot;

	if (attnum < 1 || attnum > res->natts)
		return;
	slot = &res->attcats[attnum - 1];
	if (category_rank(category) > category_rank(BT_ATT_CAT(*slot)))
		*slot = (uint8) (category | (source << BT_ATT_SRC_SHIFT));
}

/*
 * Work out the category of every column of relid from the catalogs, into
 * res (allocated in the current memory context).  Returns false if the
 * relation does not exist.
 */
static bool
resolve_relation(Oid relid, BtResolved *res)
{
	HeapTuple	tp;
	char		relkind;
	AttrNumber	attnum;
	BtColLabel *labels;
	int			nlabels;
	int			i;
	List	   *ancestors;
	ListCell   *lc;

	memset(res, 0, sizeof(BtResolved));

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		return false;
	relkind = ((Form_pg_class) GETSTRUCT(tp))->relkind;
	res->natts = ((Form_pg_class) GETSTRUCT(tp))->relnatts;
	ReleaseSysCache(tp);

	if (!relkind_is_classifiable(relkind) || res->natts <= 0)
		return true;
	res->attcats = palloc0(res->natts);

	/* 1. by type */
	for (attnum = 1; attnum <= res->natts; attnum++)
	{
		HeapTuple	atp;
		Form_pg_attribute att;

		atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
							  Int16GetDatum(attnum));
		if (!HeapTupleIsValid(atp))
			continue;
		att = (Form_pg_attribute) GETSTRUCT(atp);
		if (!att->attisdropped && type_is_biometric(att->atttypid, 0, res))
			merge_category(res, attnum, BT_CAT_BIOMETRIC, BT_SRC_TYPE);
		ReleaseSysCache(atp);
	}

	/* 2. own labels (explicit or lineage) */
	nlabels = relation_labels(relid, &labels);
	for (i = 0; i < nlabels; i++)
		merge_category(res, labels[i].attnum, labels[i].category,
					   BT_SRC_LABEL);

	/* 3. labels of ancestors' columns, matched by name */
	ancestors = relation_ancestors(relid);
	foreach(lc, ancestors)
	{
		Oid			ancestor = lfirst_oid(lc);

		nlabels = relation_labels(ancestor, &labels);
		for (i = 0; i < nlabels; i++)
		{
			char	   *name = live_attname(ancestor, labels[i].attnum);

			if (name != NULL)
				merge_category(res, get_attnum(relid, name),
							   labels[i].category, BT_SRC_INHERITED);
		}
	}

	for (i = 0; i < res->natts; i++)
		res->categories |= BT_ATT_CAT(res->attcats[i]);
	if (res->categories == 0)
		res->attcats = NULL;
	return true;
}

/*
 * The cache entry of relid, built if needed.  Returns a pointer into the
 * cache or, when the entry could not be cached, to *scratch (whose attcats
 * are then allocated in the caller's memory context).  Either way the
 * result is valid only until the next catalog access, which may process
 * invalidations: copy what you need first.
 */
static BtRelEntry *
fetch_entry(Oid relid, BtRelEntry *scratch)
{
	BtRelEntry *entry;
	MemoryContext buildcxt;
	MemoryContext oldcxt;
	BtResolved	res;
	uint64		before;
	bool		exists;
	bool		found;
	uint8	   *attcats = NULL;
	ListCell   *lc;

	entry = lookup_cached(relid);
	if (likely(entry != NULL))
		return entry;

	buildcxt = AllocSetContextCreate(CurrentMemoryContext,
									 "biotoken labels build",
									 ALLOCSET_SMALL_SIZES);
	oldcxt = MemoryContextSwitchTo(buildcxt);
	before = inval_count;
	exists = resolve_relation(relid, &res);
	MemoryContextSwitchTo(oldcxt);

	/*
	 * A relation that does not exist is not cached (its creation will send
	 * an invalidation anyway), nor is a result during whose making
	 * invalidations arrived: it may mix old and new catalog rows.
	 */
	if (!exists || inval_count != before)
	{
		memset(scratch, 0, sizeof(BtRelEntry));
		scratch->relid = relid;
		scratch->categories = res.categories;
		scratch->composite_dep = res.composite_dep;
		scratch->natts = res.natts;
		if (res.attcats != NULL)
		{
			scratch->attcats = palloc(res.natts);
			memcpy(scratch->attcats, res.attcats, res.natts);
		}
		MemoryContextDelete(buildcxt);
		return scratch;
	}

	ensure_cache();
	if (res.attcats != NULL)
	{
		attcats = MemoryContextAlloc(labels_cxt, res.natts);
		memcpy(attcats, res.attcats, res.natts);
	}
	foreach(lc, res.composite_rels)
	{
		Oid			typrelid = lfirst_oid(lc);

		hash_search(composite_hash, &typrelid, HASH_ENTER, NULL);
	}
	entry = hash_search(rel_hash, &relid, HASH_ENTER, &found);
	if (found)
	{
		/* not reached (we probed first), but never leak the old one */
		forget_memo();
		if (entry->composite_dep)
			n_composite_entries--;
		if (entry->attcats != NULL)
			pfree(entry->attcats);
	}
	if (res.composite_dep)
		n_composite_entries++;
	entry->categories = res.categories;
	entry->composite_dep = res.composite_dep;
	entry->natts = res.natts;
	entry->attcats = attcats;

	MemoryContextDelete(buildcxt);
	return entry;
}

/*
 * What bt_labels_relation_lookup says for a relation not in the cache (out
 * of line, so that the cached path has no stack frame to guard).
 */
static pg_noinline void
lookup_uncached(Oid relid, BtLabelsRelation *rel)
{
	BtRelEntry	scratch;
	BtRelEntry *entry = fetch_entry(relid, &scratch);

	rel->categories = entry->categories;
	rel->natts = entry->natts;
	rel->attcats = entry->attcats;
}

/* The same for bt_labels_relation_categories. */
static pg_noinline int
categories_uncached(Oid relid)
{
	BtRelEntry	scratch;

	return fetch_entry(relid, &scratch)->categories;
}

/*
 * bt_labels_relation_categories
 *		The union of the categories of relid's columns (BtCategory bits),
 *		0 for an unclassified relation, a catalog, or one that does not
 *		exist.  A cached call is one hash probe and allocates nothing; a
 *		miss allocates in a short-lived child of CurrentMemoryContext.
 *		Takes no lock on relid: the caller holds what it needs.
 */
int
bt_labels_relation_categories(Oid relid)
{
	BtRelEntry *entry;

	if (relid < FirstNormalObjectId)
		return 0;
	entry = lookup_cached(relid);
	if (likely(entry != NULL))
		return entry->categories;
	return categories_uncached(relid);
}

/*
 * bt_labels_relation_lookup
 *		The categories of relid and of its columns, in one lookup: what
 *		bt_labels_relation_categories and bt_labels_column_category say,
 *		for the guard's per-statement path.  rel->attcats[attnum - 1] holds
 *		the category of each column 1..rel->natts (see
 *		BT_LABELS_ATT_CATEGORY) and is NULL when no column is classified.
 *		A column past natts may be newer than the cache entry: ask
 *		bt_labels_column_category for it.
 *
 *		rel->attcats points into the cache (or, when the entry could not be
 *		cached, into the caller's memory context): it is valid only until
 *		the next call into labels.c or the next catalog access, either of
 *		which may process invalidations.  A cached lookup costs a compare
 *		or a hash probe and allocates nothing.
 */
void
bt_labels_relation_lookup(Oid relid, BtLabelsRelation *rel)
{
	BtRelEntry *entry;

	if (relid < FirstNormalObjectId)
	{
		rel->categories = 0;
		rel->natts = 0;
		rel->attcats = NULL;
		return;
	}
	entry = lookup_cached(relid);
	if (unlikely(entry == NULL))
	{
		lookup_uncached(relid, rel);
		return;
	}
	rel->categories = entry->categories;
	rel->natts = entry->natts;
	rel->attcats = entry->attcats;
}

/*
 * bt_labels_column_category
 *		The category (one BtCategory bit, or 0) of column attnum of relid.
 *		0 for system columns and the whole-row reference (attnum <= 0):
 *		the caller expands a whole-row reference into its columns.
 */
int
bt_labels_column_category(Oid relid, AttrNumber attnum)
{
	BtRelEntry *entry;
	BtRelEntry	scratch;

	if (relid < FirstNormalObjectId || attnum <= 0)
		return 0;
	entry = fetch_entry(relid, &scratch);
	if (attnum > entry->natts)
	{
		/*
		 * A column the entry does not know about: the invalidation for
		 * its ADD COLUMN has not reached this entry.  Rebuild rather than
		 * guess.
		 */
		if (entry != &scratch)
			remove_entry(relid);
		entry = fetch_entry(relid, &scratch);
		if (attnum > entry->natts)
			return 0;
	}
	if (entry->attcats == NULL)
		return 0;
	return BT_ATT_CAT(entry->attcats[attnum - 1]);
}


/* ----------------------------------------------------------------
 *		Changing labels: shared helpers
 * ----------------------------------------------------------------
 */

/* "schema.table.column", as the access log names columns; palloc'd. */
static char *
qualified_column_name(Oid relid, const char *attname)
{
	char	   *nspname = get_namespace_name(get_rel_namespace(relid));
	char	   *relname = get_rel_name(relid);

	return psprintf("%s.%s.%s",
					nspname ? nspname : "?",
					relname ? relname : "?",
					attname);
}

/*
 * Throw 55000 unless the biotoken extension is installed in this database:
 * labels are written to its access log and lineage table.
 */
static void
require_extension(void)
{
	if (!OidIsValid(get_extension_oid(BT_EXTENSION_NAME, true)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in this database",
						BT_EXTENSION_NAME),
				 errdetail("Classification changes are written to the access log of the extension."),
				 errhint("Run CREATE EXTENSION biotoken in this database first.")));
}

/*
 * Throw 42501 unless both the session user and the current user are
 * members of biotoken_admin, superuser status not counting.
 *
 * Both, because each alone leaves a way round: checking only the current
 * user would let a SECURITY DEFINER function owned by an admin lend its
 * membership to anyone who may call it (the design's rule for audit
 * grants: SET ROLE and SECURITY DEFINER lend nothing); checking only the
 * session user would let a non-admin's SECURITY DEFINER function, called
 * by an unwary admin, declassify the non-admin's own tables.
 */
static void
require_label_admin(Oid relid, const char *attname, bool removing)
{
	Oid			admin = get_role_oid(BT_ADMIN_ROLE, true);

	if (OidIsValid(admin) &&
		is_member_of_role_nosuper(GetSessionUserId(), admin) &&
		is_member_of_role_nosuper(GetUserId(), admin))
		return;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 removing ?
			 errmsg("permission denied to remove the biotoken label of column \"%s\" of relation \"%s\"",
					attname, get_rel_name(relid)) :
			 errmsg("permission denied to change the biotoken label of column \"%s\" of relation \"%s\"",
					attname, get_rel_name(relid)),
			 errdetail("Removing or changing a classification requires membership in role \"%s\" for both the session user and the current user; superuser status does not count.",
					   BT_ADMIN_ROLE),
			 errhint("Ask a member of role \"%s\" to make the change.",
					 BT_ADMIN_ROLE)));
}

/* Append a JSON string or null. */
static void
append_json_string(StringInfo buf, const char *str)
{
	if (str == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, str);
}

/*
 * Write a "label" event to the access log, before the change is made.
 * how is "label" (SECURITY LABEL), "lineage" (a copy) or "detach" (a
 * detached partition or child keeps its parent's classification).
 */
static void
audit_label_change(Oid relid, const char *attname, const char *oldlabel,
				   const char *newlabel, const char *how, List *source_columns)
{
	BtAuditRecord rec;
	StringInfoData detail;
	ListCell   *lc;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"old\": ");
	append_json_string(&detail, oldlabel);
	appendStringInfoString(&detail, ", \"new\": ");
	append_json_string(&detail, newlabel);
	appendStringInfoString(&detail, ", \"source\": ");
	append_json_string(&detail, how);
	if (source_columns != NIL)
	{
		appendStringInfoString(&detail, ", \"source_columns\": [");
		foreach(lc, source_columns)
		{
			if (lc != list_head(source_columns))
				appendStringInfoString(&detail, ", ");
			append_json_string(&detail, (const char *) lfirst(lc));
		}
		appendStringInfoChar(&detail, ']');
	}
	appendStringInfoChar(&detail, '}');

	memset(&rec, 0, sizeof(rec));
	rec.event = BT_EVENT_LABEL;
	rec.grant_id = 0;
	rec.categories = Max(category_from_label(oldlabel), 0) |
		Max(category_from_label(newlabel), 0);
	rec.columns = list_make1(qualified_column_name(relid, attname));
	rec.detail = detail.data;
	bt_audit_write(&rec);
}

/*
 * Queue a relcache invalidation for relid and every inheritor of it, at
 * any depth: their categories may include relid's labels.  Other backends
 * process it at our commit, this one at the next CommandCounterIncrement.
 * No locks are taken on the inheritors; one dropped concurrently is
 * skipped.
 */
static void
invalidate_relation_tree(Oid relid)
{
	List	   *rels = find_all_inheritors(relid, NoLock, NULL);
	ListCell   *lc;

	foreach(lc, rels)
	{
		HeapTuple	tp = SearchSysCache1(RELOID,
										 ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tp))
			continue;
		CacheInvalidateRelcacheByTuple(tp);
		ReleaseSysCache(tp);
	}
	list_free(rels);
}


/* ----------------------------------------------------------------
 *		biotoken.label_lineage
 * ----------------------------------------------------------------
 */

/* The OID of biotoken.label_lineage, or InvalidOid if it is not there. */
static Oid
lineage_table_oid(void)
{
	/* by extension membership, never by name (catalog.c) */
	return bt_catalog_relid(BT_CATALOG_LABEL_LINEAGE);
}

/* Refuse to touch a lineage table whose layout this library does not know. */
static void
check_lineage_layout(Relation rel)
{
	static const Oid types[Natts_bt_lineage] = {
		REGCLASSOID, INT2OID, NAMEOID, TEXTOID, TEXTARRAYOID,
		TIMESTAMPTZOID, NAMEOID
	};
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->natts != Natts_bt_lineage)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken.label_lineage has %d columns, expected %d",
						desc->natts, Natts_bt_lineage),
				 errhint("The table was altered; reinstall the extension's definition of it.")));
	for (i = 0; i < Natts_bt_lineage; i++)
		if (TupleDescAttr(desc, i)->attisdropped ||
			TupleDescAttr(desc, i)->atttypid != types[i])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column %d of biotoken.label_lineage has an unexpected type",
							i + 1),
					 errhint("The table was altered; reinstall the extension's definition of it.")));
}

/*
 * Delete the lineage rows of relid's column attnum (all of relid's if
 * attnum is 0).  The caller holds a lock that keeps the column's label
 * from changing concurrently.
 */
static void
delete_lineage_rows(Oid lineage_oid, Oid relid, AttrNumber attnum)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(lineage_oid, RowExclusiveLock);
	check_lineage_layout(rel);
	ScanKeyInit(&key[0],
				Anum_bt_lineage_relid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1],
				Anum_bt_lineage_attnum,
				BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum(attnum));
	scan = systable_beginscan(rel, RelationGetPrimaryKeyIndex(rel), true,
							  NULL, attnum > 0 ? 2 : 1, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		CatalogTupleDelete(rel, &tup->t_self);
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
}

/*
 * Record that relid's column attnum got its label from lineage.  The row
 * is written directly (like a catalog row): no SPI, so no recursion into
 * the guard, and no privilege on the table is needed by whoever made the
 * copy.
 */
static void
insert_lineage_row(Oid lineage_oid, Oid relid, AttrNumber attnum,
				   const char *attname, int category, List *source_columns)
{
	Relation	rel;
	Datum		values[Natts_bt_lineage];
	bool		nulls[Natts_bt_lineage];
	Datum	   *elems;
	NameData	colname;
	NameData	username;
	HeapTuple	tup;
	ListCell   *lc;
	int			i = 0;
	char	   *session_user;

	elems = palloc(Max(list_length(source_columns), 1) * sizeof(Datum));
	foreach(lc, source_columns)
		elems[i++] = CStringGetTextDatum((const char *) lfirst(lc));

	namestrcpy(&colname, attname);
	session_user = GetUserNameFromId(GetSessionUserId(), true);
	namestrcpy(&username, session_user ? session_user : "");

	memset(nulls, false, sizeof(nulls));
	values[Anum_bt_lineage_relid - 1] = ObjectIdGetDatum(relid);
	values[Anum_bt_lineage_attnum - 1] = Int16GetDatum(attnum);
	values[Anum_bt_lineage_column_name - 1] = NameGetDatum(&colname);
	values[Anum_bt_lineage_category - 1] =
		CStringGetTextDatum(bt_labels_category_name(category));
	values[Anum_bt_lineage_source_columns - 1] =
		PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false,
										TYPALIGN_INT));
	values[Anum_bt_lineage_labelled_at - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[Anum_bt_lineage_labelled_by - 1] = NameGetDatum(&username);

	rel = table_open(lineage_oid, RowExclusiveLock);
	check_lineage_layout(rel);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, RowExclusiveLock);
}


/* ----------------------------------------------------------------
 *		The SECURITY LABEL provider
 * ----------------------------------------------------------------
 */

/*
 * Provider hook of SECURITY LABEL FOR biotoken.  PostgreSQL has already
 * checked ownership of the table and locked it ShareUpdateExclusiveLock
 * (which conflicts with ATTACH PARTITION and INHERIT, so the inheritors we
 * invalidate are all of them); it applies the label after we return.
 */
static void
bt_labels_object_relabel(const ObjectAddress *object, const char *seclabel)
{
	Oid			relid = object->objectId;
	AttrNumber	attnum = (AttrNumber) object->objectSubId;
	char		relkind;
	int			newcat;
	char	   *attname;
	char	   *oldlabel;
	HeapTuple	atp;
	Oid			atttypid;
	BtResolved	scratch;
	Oid			lineage_oid;

	/* Only columns of tables that hold data can be classified. */
	if (object->classId != RelationRelationId || object->objectSubId == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("biotoken labels apply only to columns"),
				 errdetail("The object is %s.",
						   getObjectDescription(object, false)),
				 errhint("Label the columns that hold biometric, identity or financial data, for example SECURITY LABEL FOR biotoken ON COLUMN customers.national_id IS 'identity'.")));
	if (object->objectSubId < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot label system column \"%s\" of relation \"%s\"",
						get_attname(relid, attnum, false), get_rel_name(relid)),
				 errhint("Label the user columns that hold the data.")));
	if (relid < FirstNormalObjectId)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot label a column of system relation \"%s\"",
						get_rel_name(relid)),
				 errdetail("Only user tables are classified.")));
	relkind = get_rel_relkind(relid);
	if (!relkind_is_classifiable(relkind))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("biotoken labels apply only to columns of tables, partitioned tables, materialized views and foreign tables"),
				 errdetail("\"%s\" is %s.", get_rel_name(relid),
						   relkind == RELKIND_VIEW ? "a view" :
						   relkind == RELKIND_COMPOSITE_TYPE ? "a composite type" :
						   "not a table"),
				 errhint("Label the column of the table that stores the data; the guard checks the tables a view reads.")));

	newcat = category_from_label(seclabel);
	if (newcat < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid biotoken label \"%s\"", seclabel),
				 errhint("Valid labels are \"biometric\", \"identity\" and \"financial\"; NULL removes the label.")));

	/*
	 * pg_upgrade restores labels as they were: no change to authorize or
	 * log, and no access log to write to yet.
	 */
	if (IsBinaryUpgrade)
		return;

	require_extension();

	atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
						  Int16GetDatum(attnum));
	if (!HeapTupleIsValid(atp))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	attname = pstrdup(NameStr(((Form_pg_attribute) GETSTRUCT(atp))->attname));
	atttypid = ((Form_pg_attribute) GETSTRUCT(atp))->atttypid;
	ReleaseSysCache(atp);

	memset(&scratch, 0, sizeof(scratch));
	if ((newcat == BT_CAT_IDENTITY || newcat == BT_CAT_FINANCIAL) &&
		type_is_biometric(atttypid, 0, &scratch))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("column \"%s\" of relation \"%s\" is biometric by its type",
						attname, get_rel_name(relid)),
				 errdetail("A column of type biometric, or of a domain, array or composite type containing it, is always classified as biometric."),
				 errhint("Store identity or financial data in a column of another type.")));

	oldlabel = GetSecurityLabel(object, BT_LABEL_PROVIDER);
	if (oldlabel == NULL && seclabel == NULL)
		return;
	if (oldlabel != NULL && seclabel != NULL && strcmp(oldlabel, seclabel) == 0)
		return;
	if (oldlabel != NULL)
		require_label_admin(relid, attname, seclabel == NULL);

	audit_label_change(relid, attname, oldlabel, seclabel, "label", NIL);

	/* An explicit label, or its removal, ends any lineage provenance. */
	lineage_oid = lineage_table_oid();
	if (OidIsValid(lineage_oid))
		delete_lineage_rows(lineage_oid, relid, attnum);

	invalidate_relation_tree(relid);
}


/* ----------------------------------------------------------------
 *		Lineage
 * ----------------------------------------------------------------
 */

/*
 * Give relid's column attnum the label category because data of that
 * category flowed into it, unless it already has that category or a
 * stronger one by type or own label.  Never removes or weakens a label,
 * so it needs no admin membership.  how is "lineage" or "detach" for the
 * access log.  Takes ShareUpdateExclusiveLock on relid, like SECURITY
 * LABEL, so a concurrent ATTACH or INHERIT cannot miss the invalidation.
 */
static void
label_by_lineage(Oid relid, AttrNumber attnum, int category,
				 List *source_columns, const char *how)
{
	ObjectAddress object;
	HeapTuple	atp;
	Form_pg_attribute att;
	char	   *attname;
	Oid			atttypid;
	bool		dropped;
	char	   *oldlabel;
	int			oldcat;
	BtResolved	scratch;
	Oid			lineage_oid;

	LockRelationOid(relid, ShareUpdateExclusiveLock);

	atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
						  Int16GetDatum(attnum));
	if (!HeapTupleIsValid(atp))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	att = (Form_pg_attribute) GETSTRUCT(atp);
	attname = pstrdup(NameStr(att->attname));
	atttypid = att->atttypid;
	dropped = att->attisdropped;
	ReleaseSysCache(atp);
	if (dropped)
		elog(ERROR, "attribute %d of relation %u is dropped", attnum, relid);

	/* biometric by type is already the strongest, and is not a label */
	memset(&scratch, 0, sizeof(scratch));
	if (type_is_biometric(atttypid, 0, &scratch))
		return;

	ObjectAddressSubSet(object, RelationRelationId, relid, attnum);
	oldlabel = GetSecurityLabel(&object, BT_LABEL_PROVIDER);
	oldcat = category_from_label(oldlabel);
	/* an invalid stored value classifies nothing: replace it */
	if (category_rank(oldcat) >= category_rank(category))
		return;

	lineage_oid = lineage_table_oid();
	if (!OidIsValid(lineage_oid))
		require_extension();
	if (!OidIsValid(lineage_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s.%s\" does not exist", BT_SCHEMA,
						BT_LINEAGE_TABLE),
				 errhint("Reinstall the biotoken extension.")));

	audit_label_change(relid, attname, oldlabel,
					   bt_labels_category_name(category), how, source_columns);
	SetSecurityLabel(&object, BT_LABEL_PROVIDER,
					 bt_labels_category_name(category));
	delete_lineage_rows(lineage_oid, relid, attnum);
	insert_lineage_row(lineage_oid, relid, attnum, attname, category,
					   source_columns);
	invalidate_relation_tree(relid);
}

/*
 * bt_labels_set_lineage
 *		Classify a column that received data copied from classified
 *		columns (CREATE TABLE AS, SELECT INTO, materialized views,
 *		INSERT ... SELECT, UPDATE ... SET col = (SELECT ...)).
 *
 * categories may hold several bits; a column has one category, so the
 * strongest is applied (biometric over identity over financial).  The
 * label is added, or an existing weaker one replaced, without the admin
 * check; an equal or stronger one (by type or label) is left alone.
 * relid must be a table, partitioned table, materialized view or foreign
 * table (the relation written, not a view over it); catalogs are ignored.
 * source_columns (List of char *, "schema.table.column") go to the access
 * log and to biotoken.label_lineage.
 *
 * The change is made visible to the rest of the transaction at once (we
 * call CommandCounterIncrement, so calling this twice for one column in
 * one command is safe) and to other sessions at commit.  Throws 55000 if
 * the extension is not installed in this database.
 */
void
bt_labels_set_lineage(Oid relid, AttrNumber attnum, int categories,
					  List *source_columns)
{
	char		relkind;

	if (categories & ~BT_CAT_ALL)
		elog(ERROR, "invalid biotoken category set %d", categories);
	if (categories == 0 || relid < FirstNormalObjectId)
		return;
	if (attnum <= 0)
		elog(ERROR, "cannot label attribute %d of relation %u", attnum, relid);
	relkind = get_rel_relkind(relid);
	if (!relkind_is_classifiable(relkind))
		elog(ERROR, "relation %u of kind '%c' cannot receive a lineage label",
			 relid, relkind);

	label_by_lineage(relid, attnum, strongest_category(categories),
					 source_columns, "lineage");
	CommandCounterIncrement();
}


/* ----------------------------------------------------------------
 *		Object access hook: drops, attach and detach
 * ----------------------------------------------------------------
 */

/* Whether relid (column subid, or any column if 0) has a biotoken label. */
static bool
has_biotoken_label(Oid relid, int32 subid)
{
	BtColLabel *labels;
	int			n = relation_labels(relid, &labels);
	int			i;

	for (i = 0; i < n; i++)
		if (subid == 0 || labels[i].attnum == subid)
			return true;
	return false;
}

/*
 * A relation or column is being dropped: delete its lineage rows, so no
 * stale row can describe a later relation that reuses the OID.  The
 * labels themselves go with the object (DeleteSecurityLabel).  A lineage
 * row exists only while the column has a label, so the common case costs
 * one pg_seclabel probe.
 */
static pg_noinline void
forget_dropped(Oid relid, int32 subid)
{
	Oid			lineage_oid;

	if (relid < FirstNormalObjectId || subid < 0)
		return;
	if (!has_biotoken_label(relid, subid))
		return;
	lineage_oid = lineage_table_oid();
	if (!OidIsValid(lineage_oid) || lineage_oid == relid)
		return;
	delete_lineage_rows(lineage_oid, relid, (AttrNumber) subid);
}

/* Whether pg_inherits has (child, parent), counting this command's changes. */
static bool
inherits_from(Oid child, Oid parent)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key,
				Anum_pg_inherits_inhrelid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(child));
	/* SnapshotSelf: the row was inserted or deleted by this very command */
	scan = systable_beginscan(rel, InheritsRelidSeqnoIndexId, true,
							  SnapshotSelf, 1, &key);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
		found = ((Form_pg_inherits) GETSTRUCT(tup))->inhparent == parent;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * child was attached to or detached from parent (ATTACH/DETACH PARTITION,
 * CREATE TABLE ... PARTITION OF/INHERITS, ALTER TABLE ... [NO] INHERIT).
 *
 * PostgreSQL invalidates the child, but not the child's own partitions or
 * children, whose ancestors changed too: invalidate them all.
 *
 * On detach, the child keeps the labels it had through the parent, as
 * its own lineage labels: the rows it holds are the same classified data,
 * and detaching a partition must not be a way to declassify it without
 * biotoken_admin.  An admin can remove them afterwards.
 */
static pg_noinline void
inheritance_changed(Oid child, Oid parent)
{
	BtResolved	res;
	AttrNumber	attnum;
	char		relkind;

	if (child < FirstNormalObjectId)
		return;
	relkind = get_rel_relkind(child);
	if (!relkind_is_classifiable(relkind))
		return;

	invalidate_relation_tree(child);

	if (inherits_from(child, parent))
		return;
	if (!OidIsValid(lineage_table_oid()))
		return;					/* no extension: nothing guards this database */
	if (!resolve_relation(parent, &res) || res.categories == 0)
		return;

	for (attnum = 1; attnum <= res.natts; attnum++)
	{
		uint8		b = res.attcats[attnum - 1];
		char	   *name;
		AttrNumber	child_attnum;

		/* a column's type, and so its type category, goes with it */
		if (BT_ATT_CAT(b) == 0 || BT_ATT_SRC(b) == BT_SRC_TYPE)
			continue;
		name = live_attname(parent, attnum);
		if (name == NULL)
			continue;
		child_attnum = get_attnum(child, name);
		if (child_attnum == InvalidAttrNumber)
			continue;
		label_by_lineage(child, child_attnum, BT_ATT_CAT(b),
						 list_make1(qualified_column_name(parent, name)),
						 "detach");
	}
}

static void
bt_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	/*
	 * The hook also runs for every function an executor initialises
	 * (OAT_FUNCTION_EXECUTE): return at once for what is not ours.  The two
	 * handlers are out of line, so that this costs no stack frame.
	 */
	if (access != OAT_DROP && access != OAT_POST_ALTER)
		return;
	if (IsBinaryUpgrade)
		return;

	if (access == OAT_DROP && classId == RelationRelationId)
		forget_dropped(objectId, subId);
	else if (access == OAT_POST_ALTER && classId == InheritsRelationId &&
			 arg != NULL)
		inheritance_changed(objectId,
							((ObjectAccessPostAlter *) arg)->auxiliary_id);
}


/* ----------------------------------------------------------------
 *		biotoken.classified_columns
 * ----------------------------------------------------------------
 */

/*
 * Read biotoken.label_lineage into a hash keyed by (relid, attnum), in the
 * current memory context.  NULL if the table is not there.
 */
static HTAB *
load_lineage_map(void)
{
	Oid			lineage_oid = lineage_table_oid();
	HASHCTL		ctl;
	HTAB	   *map;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(lineage_oid))
		return NULL;

	ctl.keysize = sizeof(BtLineageKey);
	ctl.entrysize = sizeof(BtLineageEntry);
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("biotoken lineage map", 64, &ctl,
					  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	rel = table_open(lineage_oid, AccessShareLock);
	check_lineage_layout(rel);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[Natts_bt_lineage];
		bool		nulls[Natts_bt_lineage];
		BtLineageKey key;
		BtLineageEntry *entry;
		char	   *category;
		Name		colname;

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		if (nulls[Anum_bt_lineage_relid - 1] ||
			nulls[Anum_bt_lineage_attnum - 1] ||
			nulls[Anum_bt_lineage_column_name - 1] ||
			nulls[Anum_bt_lineage_category - 1])
			continue;
		memset(&key, 0, sizeof(key));
		key.relid = DatumGetObjectId(values[Anum_bt_lineage_relid - 1]);
		key.attnum = DatumGetInt16(values[Anum_bt_lineage_attnum - 1]);
		category = TextDatumGetCString(values[Anum_bt_lineage_category - 1]);
		colname = DatumGetName(values[Anum_bt_lineage_column_name - 1]);
		entry = hash_search(map, &key, HASH_ENTER, NULL);
		entry->category = category_from_label(category);
		namestrcpy(&entry->column_name, NameStr(*colname));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return map;
}

/* Emit the classified columns of one relation into the tuplestore. */
static void
emit_relation(ReturnSetInfo *rsinfo, Oid relid, HTAB *lineage)
{
	BtRelEntry *entry;
	BtRelEntry	scratch;
	int			natts;
	uint8	   *attcats;
	AttrNumber	attnum;

	entry = fetch_entry(relid, &scratch);
	if (entry->categories == 0 || entry->attcats == NULL)
		return;

	/* copy: the lookups below may process invalidations */
	natts = entry->natts;
	attcats = palloc(natts);
	memcpy(attcats, entry->attcats, natts);

	for (attnum = 1; attnum <= natts; attnum++)
	{
		int			category = BT_ATT_CAT(attcats[attnum - 1]);
		BtSource	source = BT_ATT_SRC(attcats[attnum - 1]);
		const char *source_str = source_name(source);
		char	   *attname;
		NameData	colname;
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		if (category == 0)
			continue;
		attname = live_attname(relid, attnum);
		if (attname == NULL)
			continue;

		/*
		 * A label set by lineage is shown as such while the provenance
		 * row still describes this column: same category, same name (a
		 * restore can renumber columns, a rename can reuse a name).
		 */
		if (source == BT_SRC_LABEL && lineage != NULL)
		{
			BtLineageKey key;
			BtLineageEntry *le;

			memset(&key, 0, sizeof(key));
			key.relid = relid;
			key.attnum = attnum;
			le = hash_search(lineage, &key, HASH_FIND, NULL);
			if (le != NULL && le->category == category &&
				strcmp(NameStr(le->column_name), attname) == 0)
				source_str = "lineage";
		}

		namestrcpy(&colname, attname);
		values[0] = ObjectIdGetDatum(relid);
		values[1] = NameGetDatum(&colname);
		values[2] = CStringGetTextDatum(bt_labels_category_name(category));
		values[3] = CStringGetTextDatum(source_str);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(attcats);
}

/*
 * SQL: biotoken.classified_columns_internal()
 *		-> SETOF (relation regclass, column_name name, category text,
 *				  source text)
 *
 * Every classified column of every table, partitioned table, partition,
 * materialized view and foreign table in the database, as the guard sees
 * it: the categories come from this backend's cache (built on the way),
 * so the view shows exactly what the guard enforces.  No order.
 */
Datum
biotoken_classified_columns_internal(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HTAB	   *lineage;
	Relation	classRel;
	TableScanDesc scan;
	HeapTuple	tup;

	bt_require_preloaded();
	InitMaterializedSRF(fcinfo, 0);

	lineage = load_lineage_map();

	classRel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classRel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);

		if (cls->oid < FirstNormalObjectId ||
			!relkind_is_classifiable(cls->relkind))
			continue;
		emit_relation(rsinfo, cls->oid, lineage);
	}
	table_endscan(scan);
	table_close(classRel, AccessShareLock);

	return (Datum) 0;
}


/* ----------------------------------------------------------------
 *		Initialization
 * ----------------------------------------------------------------
 */

/*
 * bt_labels_init
 *		Register the "biotoken" label provider, the invalidation callbacks
 *		and the object access hook.  Called from _PG_init when preloaded,
 *		also under pg_upgrade, which restores SECURITY LABEL FOR biotoken.
 */
void
bt_labels_init(void)
{
	register_label_provider(BT_LABEL_PROVIDER, bt_labels_object_relabel);

	CacheRegisterRelcacheCallback(labels_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, labels_type_callback, (Datum) 0);

	prev_object_access = object_access_hook;
	object_access_hook = bt_object_access;
}
