/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Finding biotoken's own relations: by extension membership, never by
 *	  name alone.
 *
 * The backend and the access-log writer must not be steered to a table a
 * hostile role made.  A name such as biotoken.access_log proves nothing:
 * a database owner could have made the schema before CREATE EXTENSION, or
 * a role could put a table of that name elsewhere on a search_path.  So
 * every biotoken table is found among the objects that pg_depend records
 * as members of the extension (deptype 'e'), which only the extension's
 * own scripts (or ALTER EXTENSION ... ADD by its owner, a superuser) can
 * make, and is then checked: an ordinary table (relkind 'r') owned by the
 * extension's owner.  A member that fails the check is an error (55000),
 * not a silent fallback.
 *
 * Cache: the OIDs found, the extension's OID and its owner are kept per
 * backend in static memory (no allocation).  A relcache invalidation of a
 * cached table (DROP, ALTER TABLE ... OWNER, DROP EXTENSION) or a reset of
 * the whole relcache clears everything; any relcache invalidation clears a
 * negative result ("no extension here", "no such member"), since creating
 * the extension or renaming a table sends one.  CREATE EXTENSION's own transaction sees its tables at
 * once: the command counter increment that follows each CREATE TABLE runs
 * its invalidations locally.  Changing membership with ALTER EXTENSION
 * ADD/DROP sends no invalidation; only the extension owner can do it, and
 * a new session (or any DDL on a biotoken table) sees it.
 *
 * Locking: catalog scans with AccessShareLock on pg_extension and
 * pg_depend; callers must be in a transaction.
 *
 * IDENTIFICATION
 *	  extension/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "catalog.h"

#define BT_CATALOG_EXTNAME	"biotoken"

static const char *const rel_names[BT_CATALOG_NRELS] = {
	[BT_CATALOG_ACCESS_LOG] = "access_log",
	[BT_CATALOG_AUDIT_GRANTS] = "audit_grants",
	[BT_CATALOG_LABEL_LINEAGE] = "label_lineage",
	[BT_CATALOG_MODEL_PROFILES] = "model_profiles",
};

/* the cache; valid only when cache_valid */
static bool cache_valid = false;
static Oid	cache_extoid = InvalidOid;	/* InvalidOid: no extension here */
static Oid	cache_extowner = InvalidOid;
static Oid	cache_relids[BT_CATALOG_NRELS];
static bool callback_registered = false;

/*
 * Relcache callback: forget everything when one of our tables (or every
 * relation) is invalidated, and on any invalidation while something was
 * not found.
 */
static void
catalog_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (!cache_valid)
		return;
	if (!OidIsValid(relid) || !OidIsValid(cache_extoid))
	{
		cache_valid = false;
		return;
	}
	for (i = 0; i < BT_CATALOG_NRELS; i++)
	{
		/* a table not found may be made or renamed into place any time */
		if (cache_relids[i] == relid || !OidIsValid(cache_relids[i]))
		{
			cache_valid = false;
			return;
		}
	}
}

/* the OID and owner of extension biotoken, or InvalidOid */
static Oid
lookup_extension(Oid *owner)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			extoid = InvalidOid;

	*owner = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key,
				Anum_pg_extension_extname,
				BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(BT_CATALOG_EXTNAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true,
							  NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tup);

		extoid = ext->oid;
		*owner = ext->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return extoid;
}

/*
 * Fill cache_relids from the extension's members: every pg_class member
 * whose name is one of rel_names.  Throws if a member of such a name is
 * not an ordinary table owned by the extension owner.
 */
static void
lookup_members(Oid extoid, Oid extowner)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key[2];
	HeapTuple	tup;
	int			i;

	for (i = 0; i < BT_CATALOG_NRELS; i++)
		cache_relids[i] = InvalidOid;

	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0],
				Anum_pg_depend_refclassid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1],
				Anum_pg_depend_refobjid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, DependReferenceIndexId, true,
							  NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);
		HeapTuple	ctup;
		Form_pg_class cls;

		if (dep->classid != RelationRelationId ||
			dep->deptype != DEPENDENCY_EXTENSION || dep->objsubid != 0)
			continue;
		ctup = SearchSysCache1(RELOID, ObjectIdGetDatum(dep->objid));
		if (!HeapTupleIsValid(ctup))
			continue;
		cls = (Form_pg_class) GETSTRUCT(ctup);
		for (i = 0; i < BT_CATALOG_NRELS; i++)
		{
			if (strcmp(NameStr(cls->relname), rel_names[i]) != 0)
				continue;
			if (cls->relkind != RELKIND_RELATION || cls->relowner != extowner)
			{
				bool		wrong_kind = cls->relkind != RELKIND_RELATION;
				Oid			nspid = cls->relnamespace;

				ReleaseSysCache(ctup);
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("relation \"%s.%s\" of extension \"%s\" is not in the state the extension created",
								get_namespace_name(nspid),
								rel_names[i], BT_CATALOG_EXTNAME),
						 wrong_kind ?
						 errdetail("It is not an ordinary table.") :
						 errdetail("It is not owned by the extension's owner."),
						 errhint("Reinstall the extension.")));
			}
			cache_relids[i] = dep->objid;
		}
		ReleaseSysCache(ctup);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* make the cache valid; callers are in a transaction */
static void
fill_cache(void)
{
	Oid			extoid;
	Oid			extowner;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_relcache_callback, (Datum) 0);
		callback_registered = true;
	}

	/*
	 * Mark valid first: an invalidation arriving during the scans below
	 * clears the flag, and the result is then used once and looked up
	 * again next time.
	 */
	cache_valid = true;
	extoid = lookup_extension(&extowner);
	if (OidIsValid(extoid))
		lookup_members(extoid, extowner);
	else
	{
		int			i;

		for (i = 0; i < BT_CATALOG_NRELS; i++)
			cache_relids[i] = InvalidOid;
	}
	cache_extoid = extoid;
	cache_extowner = extowner;
}

/*
 * bt_catalog_extension_oid
 *		The OID of extension biotoken in this database, or InvalidOid (also
 *		outside a transaction).
 */
Oid
bt_catalog_extension_oid(void)
{
	if (!IsTransactionState() || !OidIsValid(MyDatabaseId))
		return InvalidOid;
	if (!cache_valid)
		fill_cache();
	return cache_extoid;
}

/*
 * bt_catalog_extension_owner
 *		The role that owns extension biotoken (who created it), or
 *		InvalidOid without the extension.
 */
Oid
bt_catalog_extension_owner(void)
{
	if (!OidIsValid(bt_catalog_extension_oid()))
		return InvalidOid;
	return cache_extowner;
}

/*
 * bt_catalog_relid
 *		The OID of one of biotoken's tables, found by extension membership
 *		and checked (ordinary table, owned by the extension's owner).
 *
 * Returns InvalidOid when the extension is not installed in this database,
 * or when it has no such table: while its install script has not made it
 * yet, or during DROP EXTENSION, which drops the tables before the
 * extension.  Throws 55000 when a member of that name is not what the
 * extension made (another kind of relation, or another owner).  Must be
 * called in a transaction.  Costs a few comparisons once cached.
 */
Oid
bt_catalog_relid(BtCatalogRel which)
{
	Assert(which >= 0 && which < BT_CATALOG_NRELS);
	if (!OidIsValid(bt_catalog_extension_oid()))
		return InvalidOid;
	return cache_relids[which];
}

/* the name of one of biotoken's tables, for messages */
const char *
bt_catalog_relname(BtCatalogRel which)
{
	Assert(which >= 0 && which < BT_CATALOG_NRELS);
	return rel_names[which];
}
