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
 * must never change under it.  That also makes the cache below always
 * valid: an entry, once read, never goes stale.
 *
 * Memory: cached profiles live in the "biotoken model cache" context under
 * CacheMemoryContext.  Lookups run SPI queries on a cache miss.
 *
 * IDENTIFICATION
 *	  extension/models.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "biotoken.h"
#include "codec.h"
#include "models.h"

PG_FUNCTION_INFO_V1(biotoken_register_model);

#define BT_MAX_CACHED_MODELS	64

static MemoryContext model_cxt = NULL;
static BtModel *cached[BT_MAX_CACHED_MODELS];
static int	ncached = 0;

/*
 * Read one profile with SPI, by name (name != NULL) or by id.  Returns NULL
 * if there is none.  The result is allocated in model_cxt.
 */
static BtModel *
load_model(const char *name, int32 model_id)
{
	BtModel    *m = NULL;
	Oid			argtypes[1];
	Datum		values[1];
	int			ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	if (name != NULL)
	{
		argtypes[0] = TEXTOID;
		values[0] = CStringGetTextDatum(name);
		ret = SPI_execute_with_args("SELECT model_id, dims, name, mean "
									"FROM biotoken.model_profiles WHERE name = $1",
									1, argtypes, values, NULL, true, 1);
	}
	else
	{
		argtypes[0] = INT4OID;
		values[0] = Int32GetDatum(model_id);
		ret = SPI_execute_with_args("SELECT model_id, dims, name, mean "
									"FROM biotoken.model_profiles WHERE model_id = $1",
									1, argtypes, values, NULL, true, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read biotoken.model_profiles: %s",
			 SPI_result_code_string(ret));

	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		ArrayType  *mean;
		MemoryContext old;

		if (model_cxt == NULL)
			model_cxt = AllocSetContextCreate(CacheMemoryContext,
											  "biotoken model cache",
											  ALLOCSET_SMALL_SIZES);
		old = MemoryContextSwitchTo(model_cxt);
		m = palloc0(sizeof(BtModel));
		m->model_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		m->dims = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		m->name = SPI_getvalue(tup, desc, 3);
		mean = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull));
		/* the table's CHECK constraints guarantee shape and length */
		if (ARR_NDIM(mean) != 1 || ARR_HASNULL(mean) ||
			ARR_DIMS(mean)[0] != m->dims)
			elog(ERROR, "biotoken model profile %d is malformed", m->model_id);
		m->mean = palloc(sizeof(float) * m->dims);
		memcpy(m->mean, ARR_DATA_PTR(mean), sizeof(float) * m->dims);
		MemoryContextSwitchTo(old);
	}

	SPI_finish();
	return m;
}

static void
remember(BtModel *m)
{
	if (ncached < BT_MAX_CACHED_MODELS)
		cached[ncached++] = m;
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
