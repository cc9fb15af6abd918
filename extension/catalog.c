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
 * Dropping the access log: DROP EXTENSION biotoken would drop the access
 * log with it, and with it the record of who combined what.  An object
 * access hook refuses the drop of the log table (42501) while it holds a
 * row, unless a superuser set biotoken.allow_drop = on in the same
 * transaction (SET LOCAL).  Either way a line goes to the server log.  A
 * server that did not preload biotoken runs no hook and cannot refuse.
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
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/snapmgr.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "biotoken.h"
#include "catalog.h"
#include "guc.h"
#include "keys.h"

#define BT_CATALOG_EXTNAME	"biotoken"

static const char *const rel_names[BT_CATALOG_NRELS] = {
	[BT_CATALOG_ACCESS_LOG] = "access_log",
	[BT_CATALOG_AUDIT_GRANTS] = "audit_grants",
	[BT_CATALOG_LABEL_LINEAGE] = "label_lineage",
	[BT_CATALOG_MODEL_PROFILES] = "model_profiles",
	[BT_CATALOG_KEY_CHECKS] = "key_checks",
};

/* the cache; valid only when cache_valid */
static bool cache_valid = false;
static Oid	cache_extoid = InvalidOid;	/* InvalidOid: no extension here */
static Oid	cache_extowner = InvalidOid;
static Oid	cache_relids[BT_CATALOG_NRELS];
static bool callback_registered = false;

/* key ids whose check value this backend compared in this database */
static int	checked_keys[BT_MAX_KEYS];
static int	nchecked_keys = 0;

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
		nchecked_keys = 0;
		return;
	}
	for (i = 0; i < BT_CATALOG_NRELS; i++)
	{
		/* a table not found may be made or renamed into place any time */
		if (cache_relids[i] == relid || !OidIsValid(cache_relids[i]))
		{
			cache_valid = false;
			nchecked_keys = 0;
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


/* ----------------------------------------------------------------
 * DROP of the access log
 * ----------------------------------------------------------------
 */

static object_access_hook_type prev_object_access = NULL;

/* whether a table has a row visible to a fresh snapshot */
static bool
table_has_rows(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found;

	found = table_scan_getnextslot(scan, ForwardScanDirection, slot);
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Object access hook: the drop of biotoken's access log table (by DROP
 * EXTENSION; the extension forbids dropping it alone) is refused while
 * the log holds rows, unless a superuser allowed it in this transaction.
 */
static void
bt_object_access_drop(ObjectAccessType access, Oid classId, Oid objectId,
					  int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	if (access != OAT_DROP || classId != RelationRelationId || subId != 0 ||
		!IsTransactionState())
		return;
	/* the relid is cached; this is a few comparisons for other drops */
	if (objectId != bt_catalog_relid(BT_CATALOG_ACCESS_LOG) ||
		!OidIsValid(objectId))
		return;
	if (!table_has_rows(objectId))
		return;

	if (bt_guc_allow_drop_in_force() && superuser())
	{
		ereport(LOG_SERVER_ONLY,
				(errmsg("biotoken: the access log of database \"%s\" was dropped with its rows under biotoken.allow_drop",
						get_database_name(MyDatabaseId)),
				 errhidestmt(true)));
		return;
	}
	ereport(LOG_SERVER_ONLY,
			(errmsg("biotoken: refused to drop the access log of database \"%s\", which holds rows",
					get_database_name(MyDatabaseId))));
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot drop the biotoken access log while it holds rows"),
			 errdetail("Dropping extension biotoken would drop the record of every refused and granted statement."),
			 errhint("Export the access log first; then a superuser may run SET LOCAL biotoken.allow_drop = on and DROP EXTENSION in one transaction.")));
}

/*
 * bt_catalog_init
 *		Install the object access hook that guards the access log.  Called
 *		from _PG_init when preloaded.
 */
void
bt_catalog_init(void)
{
	prev_object_access = object_access_hook;
	object_access_hook = bt_object_access_drop;
}


/* ----------------------------------------------------------------
 * Key check values
 * ----------------------------------------------------------------
 */

/*
 * The check value recorded for key_id in biotoken.key_checks, into *check;
 * false if there is none.  The caller holds a lock on rel.
 */
static bool
read_key_check(Relation rel, int key_id, uint8 *check)
{
	/* a parallel worker may only use the statement's snapshot */
	Snapshot	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() :
											GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = false;

	while (!found && table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, 1, &isnull);
		bytea	   *b;

		if (isnull || DatumGetInt32(d) != key_id)
			continue;
		b = DatumGetByteaPP(slot_getattr(slot, 2, &isnull));
		if (isnull || VARSIZE_ANY_EXHDR(b) != BT_KEY_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("biotoken.key_checks holds an invalid check value for key id %d",
							key_id)));
		memcpy(check, VARDATA_ANY(b), BT_KEY_BYTES);
		found = true;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return found;
}

/*
 * bt_catalog_check_key
 *		Make sure key is the key this database knows under its id.
 *
 * A key check value (an HKDF output of the master key under its own label,
 * safe to store) is recorded in biotoken.key_checks the first time a key id
 * is used in a database, and compared every time a backend first uses that
 * key id there.  A different key under a known id (a wrong key file, a
 * restore onto a server with other keys) throws 55000 at once, instead of
 * silently giving non-matches.  The table is dumped by pg_dump, so a
 * restored database keeps the check values of the keys its templates were
 * made with.  Nothing is written on a standby, in a parallel worker or
 * outside a transaction: there the value is only compared.  Cheap once a
 * key id is checked (a loop over at most BT_MAX_KEYS ints).  Takes
 * AccessShareLock on the table, and ShareRowExclusiveLock to record a new
 * value (so that two first uses cannot record two rows).
 */
void
bt_catalog_check_key(const BtKey *key)
{
	Oid			relid;
	Relation	rel;
	uint8		check[BT_KEY_BYTES];
	bool		found;
	int			i;

	if (key == NULL)
		return;
	for (i = 0; i < nchecked_keys; i++)
		if (checked_keys[i] == key->key_id)
			return;
	if (!IsTransactionState())
		return;
	relid = bt_catalog_relid(BT_CATALOG_KEY_CHECKS);
	if (!OidIsValid(relid))
		return;					/* no extension here, or not updated yet */

	rel = table_open(relid, AccessShareLock);
	found = read_key_check(rel, key->key_id, check);
	table_close(rel, AccessShareLock);

	if (!found && !RecoveryInProgress() && !IsInParallelMode() &&
		!XactReadOnly)
	{
		rel = table_open(relid, ShareRowExclusiveLock);
		found = read_key_check(rel, key->key_id, check);
		if (!found)
		{
			Datum		values[3];
			bool		nulls[3] = {false, false, false};
			bytea	   *b = palloc(VARHDRSZ + BT_KEY_BYTES);
			HeapTuple	tup;

			if (RelationGetNumberOfAttributes(rel) != 3)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("table \"%s.key_checks\" has an unexpected layout", BT_SCHEMA),
						 errhint("Reinstall the biotoken extension.")));
			SET_VARSIZE(b, VARHDRSZ + BT_KEY_BYTES);
			memcpy(VARDATA(b), key->check, BT_KEY_BYTES);
			values[0] = Int32GetDatum(key->key_id);
			values[1] = PointerGetDatum(b);
			values[2] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
			tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
			CatalogTupleInsert(rel, tup);
			CommandCounterIncrement();
			memcpy(check, key->check, BT_KEY_BYTES);
			found = true;
		}
		/* keep the lock to commit: a concurrent first use waits, then sees it */
		table_close(rel, NoLock);
	}
	if (!found)
		return;					/* compare again at the next use */

	if (memcmp(check, key->check, BT_KEY_BYTES) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("key id %d does not match the key that made these templates",
						key->key_id),
				 errdetail("The key loaded under id %d is not the one this database recorded for that id in biotoken.key_checks; its templates would never match and its access-log rows would not verify.",
						   key->key_id),
				 errhint("Load the key file these templates were made with (biotoken.key_file or biotoken.key_command) and restart the server.")));
	if (nchecked_keys < BT_MAX_KEYS)
		checked_keys[nchecked_keys++] = key->key_id;
}
