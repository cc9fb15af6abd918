/*-------------------------------------------------------------------------
 *
 * labels_cache.c
 *	  Classification: the category of every column, resolved from the
 *	  catalogs, and the per-backend cache the guard reads.
 *
 * A column's category (biometric, identity or financial) comes from, in
 * this order of precedence on a tie:
 *
 *	1. its type: biometric, or a domain, array, range or composite that
 *	   contains biometric, is biometric;
 *	2. its own label in pg_seclabel (provider "biotoken"), set by
 *	   SECURITY LABEL or by lineage (lineage.c);
 *	3. a label on the same-named column of any inheritance ancestor or
 *	   partitioned parent, however deep, however attached.
 *
 * A column has at most one category.  When several sources disagree, the
 * highest-ranked wins (categories.c).  A relation's categories are the
 * union of its columns'.
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
 * pg_type row is invalidated.  Because pg_inherits changes do not by
 * themselves invalidate the descendants of the table that was attached or
 * detached, labels.c's object access hook does that.
 *
 * Lookups use only the syscache and systable scans (never SPI), so they
 * cannot recurse into the guard.  They take no locks on user relations.
 * An entry built while invalidation messages arrived is returned but not
 * cached, since it may mix old and new catalog state.
 *
 * IDENTIFICATION
 *	  extension/labels_cache.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_seclabel.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "labels.h"

#define BT_EXTENSION_NAME	"biotoken"

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
 * One byte per attnum in a cache entry: category bit and source (see
 * labels.h).
 */
#define BT_ATT_CAT(b)	BT_LABELS_ATT_CATEGORY(b)
#define BT_ATT_SRC_SHIFT	BT_LABELS_SRC_SHIFT

/* A cached relation. */
typedef struct BtRelEntry
{
	Oid			relid;			/* hash key; must be first */
	int			categories;		/* union of the columns' categories */
	bool		composite_dep;	/* depends on a composite type's layout */
	int			natts;			/* relnatts when built */
	int			relflags;		/* BT_LABELS_REL_* */
	uint8	   *attcats;		/* [natts], or NULL when categories == 0 */
} BtRelEntry;

/* The result of resolving one relation from the catalogs. */
typedef struct BtResolved
{
	int			categories;
	bool		composite_dep;
	int			natts;
	int			relflags;		/* BT_LABELS_REL_* */
	uint8	   *attcats;		/* [natts] or NULL */
	List	   *composite_rels; /* typrelids of composite types looked at */
} BtResolved;

/* One label read from pg_seclabel. */
typedef struct BtColLabel
{
	AttrNumber	attnum;
	int			category;
} BtColLabel;

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
		category = bt_categories_from_name(label);
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

/*
 * bt_labels_live_attname
 *		The name of a live column, palloc'd, or NULL if dropped or missing.
 */
char *
bt_labels_live_attname(Oid relid, AttrNumber attnum)
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
	if (bt_categories_rank(category) > bt_categories_rank(BT_ATT_CAT(*slot)))
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
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tp);

		if (cls->relhastriggers)
			res->relflags |= BT_LABELS_REL_TRIGGERS;
		if (cls->relchecks > 0)
			res->relflags |= BT_LABELS_REL_CHECKS;
		if (cls->relhasindex)
			res->relflags |= BT_LABELS_REL_INDEXES;
		if (cls->relrowsecurity)
			res->relflags |= BT_LABELS_REL_RLS;
	}
	ReleaseSysCache(tp);

	if (!bt_labels_relkind_classifiable(relkind) || res->natts <= 0)
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
		if (!att->attisdropped && att->attgenerated != '\0')
			res->relflags |= BT_LABELS_REL_GENERATED;
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
			char	   *name = bt_labels_live_attname(ancestor, labels[i].attnum);

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
		scratch->relflags = res.relflags;
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
	entry->relflags = res.relflags;
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
	rel->relflags = entry->relflags;
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
		rel->relflags = 0;
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
	rel->relflags = entry->relflags;
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
 *		For the provider and lineage
 * ----------------------------------------------------------------
 */

/*
 * bt_labels_type_is_biometric
 *		Whether values of type typid are or contain biometric templates.
 */
bool
bt_labels_type_is_biometric(Oid typid)
{
	BtResolved	scratch;

	memset(&scratch, 0, sizeof(scratch));
	return type_is_biometric(typid, 0, &scratch);
}

/*
 * bt_labels_has_label
 *		Whether relid (column subid, or any column if 0) has a biotoken
 *		label of its own.  One pg_seclabel index scan.
 */
bool
bt_labels_has_label(Oid relid, int32 subid)
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
 * bt_labels_columns
 *		The category-and-source byte of each column 1..*natts of relid
 *		(read with BT_LABELS_ATT_CATEGORY and BT_LABELS_ATT_SOURCE), as a
 *		copy palloc'd in the current context; NULL when no column is
 *		classified.  From the cache, or with fresh straight from the
 *		catalogs (for a caller inside a command that changed them).
 */
uint8 *
bt_labels_columns(Oid relid, bool fresh, int *natts)
{
	uint8	   *result;

	*natts = 0;
	if (fresh)
	{
		BtResolved	res;

		if (!resolve_relation(relid, &res) || res.categories == 0)
			return NULL;
		*natts = res.natts;
		return res.attcats;
	}
	else
	{
		BtRelEntry	scratch;
		BtRelEntry *entry = fetch_entry(relid, &scratch);

		if (entry->categories == 0 || entry->attcats == NULL)
			return NULL;
		/* copy: the caller's lookups may process invalidations */
		*natts = entry->natts;
		result = palloc(entry->natts);
		memcpy(result, entry->attcats, entry->natts);
		return result;
	}
}

/*
 * bt_labels_relation_natts
 *		The number of attributes of a relation (dropped ones included), or
 *		0 if it does not exist.
 */
AttrNumber
bt_labels_relation_natts(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	AttrNumber	natts = 0;

	if (HeapTupleIsValid(tuple))
	{
		natts = ((Form_pg_class) GETSTRUCT(tuple))->relnatts;
		ReleaseSysCache(tuple);
	}
	return natts;
}

/*
 * bt_labels_cache_init
 *		Register the cache's invalidation callbacks.  Called once from
 *		bt_labels_init.
 */
void
bt_labels_cache_init(void)
{
	CacheRegisterRelcacheCallback(labels_relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(TYPEOID, labels_type_callback, (Datum) 0);
}
