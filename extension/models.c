/*-------------------------------------------------------------------------
 *
 * models.c
 *	  Model profiles: registration and the per-backend profile cache.
 *
 * A model profile is the mean embedding of a face model.  Enrollment and
 * probes subtract it before normalizing, which makes sign bits far more
 * faithful to the angle between two faces.  Profiles live in the table
 * biotoken.model_profiles, which is append-only (a trigger refuses UPDATE,
 * DELETE and TRUNCATE): a template records its profile's id, so a profile
 * must never change under it.  An entry, once read, goes stale only if
 * the table itself goes (DROP EXTENSION): a relcache callback on it then
 * empties the cache.
 *
 * Enrollment and verification by any role need a profile's mean, which
 * only the extension owner may SELECT: profiles are read with a direct
 * table scan, as catalogs are, never through SQL as the caller.
 *
 * Memory: cached profiles live in the "biotoken model cache" context under
 * CacheMemoryContext, at most BT_MAX_CACHED_MODELS of them; a full cache
 * replaces (and frees) its entries round-robin.
 *
 * IDENTIFICATION
 *	  extension/models.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "biotoken.h"
#include "catalog.h"
#include "codec.h"
#include "models.h"

PG_FUNCTION_INFO_V1(biotoken_register_model);

#define BT_MAX_CACHED_MODELS	64

/* columns of biotoken.model_profiles */
#define Natts_bt_model_profiles		6
#define Anum_bt_model_id			1
#define Anum_bt_model_name			2
#define Anum_bt_model_dims			3
#define Anum_bt_model_mean			4

static MemoryContext model_cxt = NULL;
static BtModel *cached[BT_MAX_CACHED_MODELS];
static int	ncached = 0;
static int	next_victim = 0;	/* round-robin eviction when full */
static bool callback_registered = false;

/* free one cached profile */
static void
free_model(BtModel *m)
{
	pfree(m->name);
	pfree(m->mean);
	pfree(m);
}

/* the table the cached profiles came from */
static Oid	models_relid = InvalidOid;

/*
 * Relcache callback: a profile never changes, but the table can go away
 * (DROP EXTENSION) and come back with other profiles under the same ids,
 * so any invalidation of it, or of every relation, empties the cache.
 */
static void
models_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	if (ncached == 0 || (OidIsValid(relid) && relid != models_relid))
		return;
	for (i = 0; i < ncached; i++)
		free_model(cached[i]);
	ncached = 0;
	next_victim = 0;
}

/*
 * Read one profile, by name (name != NULL) or by id.  Returns NULL if there
 * is none.  The result is allocated in model_cxt.
 *
 * The table is read directly (as the catalogs are), not through SQL: every
 * role that may enroll or verify needs the profile's mean, but only the
 * extension owner has SELECT on that column; and nothing of another role
 * (a trigger, a policy) can run here.  The table is found by extension
 * membership (catalog.c).  Takes AccessShareLock on it.
 */
static BtModel *
load_model(const char *name, int32 model_id)
{
	BtModel    *m = NULL;
	Oid			relid = bt_catalog_relid(BT_CATALOG_MODEL_PROFILES);
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"biotoken\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION biotoken, or reset biotoken.model.")));
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(models_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (relid != models_relid)
	{
		models_relcache_callback((Datum) 0, InvalidOid);
		models_relid = relid;
	}

	rel = table_open(relid, AccessShareLock);
	if (RelationGetNumberOfAttributes(rel) != Natts_bt_model_profiles ||
		TupleDescAttr(RelationGetDescr(rel), Anum_bt_model_mean - 1)->atttypid != FLOAT4ARRAYOID)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s.model_profiles\" has an unexpected layout", BT_SCHEMA),
				 errhint("Reinstall the biotoken extension.")));

	/* a profile registered a moment ago by another session is seen */
	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() :
								GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (m == NULL && table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		int32		id;
		int32		dims;
		text	   *tname;
		ArrayType  *mean;
		MemoryContext old;

		id = DatumGetInt32(slot_getattr(slot, Anum_bt_model_id, &isnull));
		if (isnull)
			continue;
		tname = DatumGetTextPP(slot_getattr(slot, Anum_bt_model_name, &isnull));
		if (isnull)
			continue;
		if (name != NULL)
		{
			if (VARSIZE_ANY_EXHDR(tname) != strlen(name) ||
				memcmp(VARDATA_ANY(tname), name, strlen(name)) != 0)
				continue;
		}
		else if (id != model_id)
			continue;

		dims = DatumGetInt32(slot_getattr(slot, Anum_bt_model_dims, &isnull));
		mean = DatumGetArrayTypeP(slot_getattr(slot, Anum_bt_model_mean, &isnull));
		/* the table's CHECK constraints guarantee shape and length */
		if (isnull || ARR_NDIM(mean) != 1 || ARR_HASNULL(mean) ||
			ARR_DIMS(mean)[0] != dims || dims < 1)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("biotoken model profile %d is malformed", id),
					 errdetail("Its mean vector is not a one-dimensional array of %d values without nulls.",
							   dims)));

		if (model_cxt == NULL)
			model_cxt = AllocSetContextCreate(CacheMemoryContext,
											  "biotoken model cache",
											  ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(model_cxt);
		m = palloc0(sizeof(BtModel));
		m->model_id = id;
		m->dims = dims;
		m->name = text_to_cstring(tname);
		m->mean = palloc(sizeof(float) * dims);
		memcpy(m->mean, ARR_DATA_PTR(mean), sizeof(float) * dims);
		MemoryContextSwitchTo(old);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return m;
}

/*
 * Keep m in the cache.  At most BT_MAX_CACHED_MODELS profiles are kept;
 * beyond that the entries are replaced round-robin and the replaced one
 * is freed.  Callers use a profile before they look up another, so no
 * pointer to a freed entry survives.
 */
static void
remember(BtModel *m)
{
	if (ncached < BT_MAX_CACHED_MODELS)
	{
		cached[ncached++] = m;
		return;
	}
	free_model(cached[next_victim]);
	cached[next_victim] = m;
	next_victim = (next_victim + 1) % BT_MAX_CACHED_MODELS;
}

/*
 * bt_models_by_name
 *		The profile called name; throws if there is none.
 */
const BtModel *
bt_models_by_name(const char *name)
{
	BtModel    *m;
	int			i;

	for (i = 0; i < ncached; i++)
		if (strcmp(cached[i]->name, name) == 0)
			return cached[i];

	m = load_model(name, 0);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model profile \"%s\" does not exist", name),
				 errhint("Register it with biotoken.register_model(), or reset biotoken.model.")));
	remember(m);
	return m;
}

/*
 * bt_models_by_id
 *		The profile with this id; NULL if there is none.
 */
const BtModel *
bt_models_by_id(int32 model_id)
{
	BtModel    *m;
	int			i;

	for (i = 0; i < ncached; i++)
		if (cached[i]->model_id == model_id)
			return cached[i];

	m = load_model(NULL, model_id);
	if (m != NULL)
		remember(m);
	return m;
}

/*
 * SQL: biotoken.register_model(name text, dims int, mean float4[]) -> int
 *
 * Registers a model profile and returns its id.  The mean must have dims
 * finite elements.  Runs as the extension owner (SECURITY DEFINER), and is
 * granted to biotoken_admin only.
 */
Datum
biotoken_register_model(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	int32		dims = PG_GETARG_INT32(1);
	ArrayType  *mean = PG_GETARG_ARRAYTYPE_P(2);
	char	   *cname = text_to_cstring(name);
	float	   *v;
	int			n;
	int			i;
	Oid			argtypes[3] = {TEXTOID, INT4OID, FLOAT4ARRAYOID};
	Datum		values[3];
	int			ret;
	bool		isnull;
	int32		model_id;

	bt_require_preloaded();

	if (cname[0] == '\0' || strlen(cname) >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model profile name must be between 1 and %d characters",
						NAMEDATALEN - 1)));
	if (dims < 1 || dims > BT_MAX_DIMS)
		ereport(ERROR,
				(errcode(dims > BT_MAX_DIMS ? ERRCODE_PROGRAM_LIMIT_EXCEEDED :
						 ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model profile dimensions must be between 1 and %d",
						BT_MAX_DIMS)));
	if (ARR_NDIM(mean) != 1 || ARR_HASNULL(mean))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model profile mean must be a one-dimensional array without nulls")));
	n = ARR_DIMS(mean)[0];
	if (n != dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("model profile mean has %d dimensions, expected %d", n, dims)));
	v = (float *) ARR_DATA_PTR(mean);
	for (i = 0; i < n; i++)
		if (isnan(v[i]) || isinf(v[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("model profile mean must contain only finite values"),
					 errdetail("Element %d is not finite.", i + 1)));

	if (load_model(cname, 0) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model profile \"%s\" already exists", cname),
				 errhint("Profiles cannot be changed; register the new mean under a new name.")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = PointerGetDatum(name);
	values[1] = Int32GetDatum(dims);
	values[2] = PointerGetDatum(mean);
	ret = SPI_execute_with_args("INSERT INTO biotoken.model_profiles (name, dims, mean) "
								"VALUES ($1, $2, $3) RETURNING model_id",
								3, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not insert into biotoken.model_profiles: %s",
			 SPI_result_code_string(ret));
	model_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	PG_RETURN_INT32(model_id);
}
