/*-------------------------------------------------------------------------
 *
 * template.c
 *	  The biometric type: I/O, enrollment, matching and rekeying.
 *
 * A template is the bt1 record of codec.h behind a varlena header.  Only
 * masked sign bits are ever stored: enrollment centres the embedding on the
 * model profile's mean (if any), L2-normalizes it, projects it with the
 * key's secret structured rotation, keeps the sign bits and XORs them with
 * the AES-CTR mask of the key and a fresh random salt.  Matching unmasks the
 * stored bits and counts the bits that differ from the probe's bits; the
 * fraction estimates the angle between the two embeddings divided by pi.
 *
 * Probes are projected once per call site and per probe value: the result
 * is cached in fn_extra (in fn_mcxt), so "ORDER BY face <~> $1 LIMIT k"
 * over a million rows projects the probe once and then only unmasks and
 * counts bits, with no allocation per row.  The probe cache and the per-row
 * kernel (bt_template_*, template.h) are shared with the identification
 * index (flat.c), so both paths compute every distance the same way and
 * raise the same errors.
 *
 * Secrets never appear in a message: errors say where an input is wrong
 * (an element number, a dimension count), never what a value was.  Errors
 * about embeddings hide the statement from the server log, since its text
 * may hold the raw embedding.
 *
 * IDENTIFICATION
 *	  extension/template.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "biotoken.h"
#include "catalog.h"
#include "codec.h"
#include "crypto.h"
#include "guc.h"
#include "keys.h"
#include "models.h"
#include "template.h"

PG_FUNCTION_INFO_V1(biometric_in);
PG_FUNCTION_INFO_V1(biometric_out);
PG_FUNCTION_INFO_V1(biometric_recv);
PG_FUNCTION_INFO_V1(biometric_send);
PG_FUNCTION_INFO_V1(biometric_enroll);
PG_FUNCTION_INFO_V1(biometric_enroll_typmod);
PG_FUNCTION_INFO_V1(biometric_typmod_in);
PG_FUNCTION_INFO_V1(biometric_typmod_out);
PG_FUNCTION_INFO_V1(biometric_coerce);
PG_FUNCTION_INFO_V1(biometric_info);
PG_FUNCTION_INFO_V1(biometric_info_1_1);
PG_FUNCTION_INFO_V1(biometric_rekey);
PG_FUNCTION_INFO_V1(biometric_verify);
PG_FUNCTION_INFO_V1(biometric_distance);
PG_FUNCTION_INFO_V1(biometric_distance_template);

/* the salt mask kernel reads a record's salt and then its bits */
StaticAssertDecl(BT_BITS_OFFSET == BT_HEADER_BYTES + BT_SALT_BYTES,
				 "the masked bits of a record must follow its salt");
StaticAssertDecl(BT_RECORD_SALT_BYTES == BT_SALT_BYTES,
				 "the record's salt is the mask's salt");

/*
 * Map a codec status to an error.  "binary" selects the SQLSTATE of
 * binary input (22P03) instead of that of text input (22P02).
 */
static void
bt_throw_codec(BtCodecStatus st, bool binary)
{
	int			code = binary ? ERRCODE_INVALID_BINARY_REPRESENTATION :
		ERRCODE_INVALID_TEXT_REPRESENTATION;
	const char *detail = NULL;

	switch (st)
	{
		case BT_CODEC_OK:
			return;
		case BT_CODEC_BAD_PREFIX:
			detail = "A biometric template in text form starts with \"bt1:\".";
			break;
		case BT_CODEC_BAD_ENCODING:
			detail = "The text after \"bt1:\" is not canonical unpadded base64url.";
			break;
		case BT_CODEC_TOO_SHORT:
			detail = "The template is shorter than its header.";
			break;
		case BT_CODEC_BAD_VERSION:
			detail = "The template format version is not supported.";
			break;
		case BT_CODEC_BAD_FLAGS:
			detail = "Reserved template flags are set.";
			break;
		case BT_CODEC_BAD_KEY_ID:
			detail = "The template's key id is zero.";
			break;
		case BT_CODEC_BAD_DIMS:
			detail = "The template's dimension count is out of range.";
			break;
		case BT_CODEC_BAD_BITS:
			detail = "The template's bit count is not a multiple of 64 in the supported range.";
			break;
		case BT_CODEC_BAD_LENGTH:
			detail = "The template's length does not match its bit count.";
			break;
	}
	ereport(ERROR,
			(errcode(code),
			 errmsg("invalid %s representation of a biometric template",
					binary ? "binary" : "text"),
			 errdetail("%s", detail)));
}

/*
 * Check that the keys a template needs are loaded.
 */
static void
check_template_keys(const BtTemplateView *v)
{
	if (bt_keys_get(v->key_id) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("biometric template uses key id %d, which is not loaded",
						v->key_id),
				 errhint("Add the key to biotoken.key_file or biotoken.key_command and restart the server.")));
	if (v->proj_key_id != v->key_id && bt_keys_get(v->proj_key_id) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("biometric template was projected with key id %d, which is not loaded",
						v->proj_key_id),
				 errhint("Add the key to biotoken.key_file or biotoken.key_command and restart the server.")));
}

/*
 * The same, and check that each key is the one this database recorded
 * under its id (catalog.c): for matching and re-keying, not for the input
 * functions, which must not write (a restore runs them before the
 * recorded check values are restored).
 */
static void
check_template_keys_in_use(const BtTemplateView *v)
{
	check_template_keys(v);
	bt_catalog_check_key(bt_keys_get(v->key_id));
	if (v->proj_key_id != v->key_id)
		bt_catalog_check_key(bt_keys_get(v->proj_key_id));
}

/*
 * Parse a stored bt1 record (already validated by the input functions, so
 * a failure means corruption).
 */
static inline void
view_record(const uint8 *rec, size_t len, BtTemplateView *v)
{
	if (unlikely(bt_codec_parse(rec, len, v) != BT_CODEC_OK))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("stored biometric template is corrupted")));
}

/* the same for a template datum; t may have a short varlena header */
static inline void
view_stored(const struct varlena *t, BtTemplateView *v)
{
	view_record((const uint8 *) VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), v);
}

/*
 * Validate an embedding or probe and turn it into a unit vector, centred
 * on the model's mean if model is not NULL.  "what" names the argument in
 * messages.  expect_dims > 0 demands that many dimensions (a probe against
 * a template).  Returns a palloc'd array of *dims floats.
 */
static float *
prepare_embedding(ArrayType *arr, const char *what, const BtModel *model,
				  int expect_dims, int *dims)
{
	const void *in;
	float	   *out;
	double		norm = 0.0;
	Oid			elemtype;
	int			n;
	int			i;

	/*
	 * real[] is the native form; double precision[] is what most drivers
	 * send for a list of floats (psycopg, node-postgres), so it is read too,
	 * each element rounded to real as float8 -> float4 casts do.
	 */
	elemtype = ARR_ELEMTYPE(arr);
	if (elemtype != FLOAT4OID && elemtype != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be an array of real or double precision", what)));
	if (ARR_NDIM(arr) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what),
				 errhidestmt(true)));
	if (ARR_NDIM(arr) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what),
				 errhidestmt(true)));
	n = ARR_DIMS(arr)[0];
	if (ARR_HASNULL(arr))
	{
		bits8	   *nulls = ARR_NULLBITMAP(arr);

		for (i = 0; i < n; i++)
			if (!(nulls[i / 8] & (1 << (i % 8))))
				break;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not contain nulls", what),
				 errdetail("Element %d is null.", i + 1),
				 errhidestmt(true)));
	}
	if (n > BT_MAX_DIMS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has too many dimensions", what),
				 errdetail("At most %d dimensions are supported; got %d.",
						   BT_MAX_DIMS, n),
				 errhidestmt(true)));
	if (expect_dims > 0 && n != expect_dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("dimension mismatch between biometric template and %s", what),
				 errdetail("The template was enrolled from %d dimensions; the %s has %d.",
						   expect_dims, what, n),
				 errhidestmt(true)));
	if (model != NULL && n != model->dims)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("dimension mismatch between %s and model profile \"%s\"",
						what, model->name),
				 errdetail("The model profile has %d dimensions; the %s has %d.",
						   model->dims, what, n),
				 errhidestmt(true)));

	in = ARR_DATA_PTR(arr);
	out = palloc(sizeof(float) * n);
	for (i = 0; i < n; i++)
	{
		float		x;

		/* a double beyond real's range becomes infinite and is refused */
		if (elemtype == FLOAT4OID)
			x = ((const float *) in)[i];
		else
			x = (float) ((const double *) in)[i];

		if (unlikely(isnan(x) || isinf(x)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s must contain only finite values", what),
					 errdetail("Element %d is not finite.", i + 1),
					 errhidestmt(true)));
		if (model != NULL)
			x -= model->mean[i];
		out[i] = x;
		norm += (double) x * x;
	}
	if (!(norm > 0.0) || isinf(norm))
	{
		explicit_bzero(out, sizeof(float) * n);
		if (isinf(norm))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("%s is too large to normalize", what),
					 errhidestmt(true)));
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must not be a zero vector", what),
				 model != NULL ?
				 errdetail("After subtracting the mean of model profile \"%s\", every element is zero.",
						   model->name) : 0,
				 errhidestmt(true)));
	}
	norm = sqrt(norm);
	for (i = 0; i < n; i++)
		out[i] = (float) (out[i] / norm);

	*dims = n;
	return out;
}

/* the key new templates use; throws if there is none */
static const BtKey *
newest_key(void)
{
	const BtKey *key = bt_keys_newest();

	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no biotoken key is loaded"),
				 errhint("Add biotoken to shared_preload_libraries and restart the server.")));
	bt_catalog_check_key(key);
	return key;
}

/* the model profile named by biotoken.model, or NULL for none */
static const BtModel *
current_model(void)
{
	if (bt_model == NULL || bt_model[0] == '\0' ||
		pg_strcasecmp(bt_model, "none") == 0)
		return NULL;
	return bt_models_by_name(bt_model);
}

/* the model profile a template records; throws if it is not registered */
static const BtModel *
template_model(int32 model_id)
{
	const BtModel *m;

	if (model_id == 0)
		return NULL;
	m = bt_models_by_id(model_id);
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("biometric template uses model profile %d, which is not registered",
						model_id),
				 errhint("Restore biotoken.model_profiles from the database the template came from.")));
	return m;
}

/*
 * Build a palloc'd template datum from a unit vector x[dims]: project,
 * mask with key and a fresh salt.
 */
static struct varlena *
make_template(const BtKey *key, const float *x, int dims, int bits,
			  int32 model_id)
{
	const BtProjection *proj = bt_crypto_projection(key, dims, bits);
	size_t		reclen = bt_codec_record_size(bits);
	struct varlena *result = palloc(VARHDRSZ + reclen);
	uint8	   *rec = (uint8 *) VARDATA(result);
	uint8		salt[BT_SALT_BYTES];
	float	   *work = palloc(sizeof(float) * proj->n);
	BtTemplateView v;
	BtCryptoStatus st;

	SET_VARSIZE(result, VARHDRSZ + reclen);

	st = bt_crypto_random(salt, sizeof(salt));
	if (st != BT_CRYPTO_OK)
		bt_crypto_throw(st);

	bt_crypto_project(proj, x, work, rec + BT_BITS_OFFSET);
	explicit_bzero(work, sizeof(float) * proj->n);
	pfree(work);

	st = bt_crypto_mask(key, salt, rec + BT_BITS_OFFSET, rec + BT_BITS_OFFSET,
						bits / 8);
	if (st != BT_CRYPTO_OK)
		bt_crypto_throw(st);

	v.format = BT_FORMAT_V1;
	v.flags = 0;
	v.key_id = (uint16) key->key_id;
	v.proj_key_id = (uint16) key->key_id;
	v.dims = (uint16) dims;
	v.bits = (uint16) bits;
	v.model_id = (uint32) model_id;
	v.salt = salt;
	bt_codec_write_header(rec, &v);
	return result;
}

/*
 * Throw unless a template of "bits" bits may be stored as biometric(typmod).
 * typmod is the column's template size in bits, or -1 for a plain
 * biometric.  A template's size cannot be changed without the raw
 * embedding, so a mismatch is an error, never a conversion.
 */
static void
check_typmod_bits(int bits, int32 typmod)
{
	if (typmod >= 0 && bits != typmod)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("biometric template of %d bits does not fit type biometric(%d)",
						bits, (int) typmod),
				 errdetail("A column of type biometric(%d) holds only templates of %d bits.",
						   (int) typmod, (int) typmod),
				 errhint("Assign the raw embedding to the column, which enrolls it at the column's size, or set biotoken.template_bits to %d before calling biometric_enroll().",
						 (int) typmod)));
}

/*
 * SQL: biometric(bits) -- the type modifier's input function
 *
 * biometric(N) fixes a column's template size: N bits, a multiple of 64
 * between BT_MIN_TEMPLATE_BITS and BT_MAX_TEMPLATE_BITS, whatever
 * biotoken.template_bits says in the session that enrolls.
 */
Datum
biometric_typmod_in(PG_FUNCTION_ARGS)
{
	ArrayType  *ta = PG_GETARG_ARRAYTYPE_P(0);
	int32	   *tl;
	int			n;

	tl = ArrayGetIntegerTypmods(ta, &n);
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid type modifier"),
				 errdetail("Type biometric takes one modifier, the number of bits of its templates.")));
	if (tl[0] < BT_MIN_TEMPLATE_BITS || tl[0] > BT_MAX_TEMPLATE_BITS ||
		tl[0] % 64 != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("template bits for type biometric must be a multiple of 64 between %d and %d",
						BT_MIN_TEMPLATE_BITS, BT_MAX_TEMPLATE_BITS)));
	PG_RETURN_INT32(tl[0]);
}

/* SQL: the type modifier's output function: "(bits)" */
Datum
biometric_typmod_out(PG_FUNCTION_ARGS)
{
	int32		typmod = PG_GETARG_INT32(0);

	if (typmod < 0)
		PG_RETURN_CSTRING(pstrdup(""));
	PG_RETURN_CSTRING(psprintf("(%d)", (int) typmod));
}

/*
 * SQL: biometric(t biometric, typmod int4, explicit bool) -> biometric
 *
 * The length coercion cast to biometric(N): checks the template's size.
 */
Datum
biometric_coerce(PG_FUNCTION_ARGS)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	int32		typmod = PG_GETARG_INT32(1);
	BtTemplateView v;

	if (typmod >= 0)
	{
		view_stored(t, &v);
		check_typmod_bits(v.bits, typmod);
	}
	PG_RETURN_POINTER(t);
}

/*
 * SQL: biometric_in(cstring) -> biometric
 *
 * Accepts only the bt1 text form of a protected template; a raw embedding
 * is never accepted as text.
 */
Datum
biometric_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	size_t		len = strlen(str);
	struct varlena *result;
	size_t		reclen;
	BtTemplateView v;
	BtCodecStatus st;

	bt_require_preloaded();

	if (len > bt_codec_text_size(BT_MAX_RECORD_BYTES))
		bt_throw_codec(BT_CODEC_BAD_LENGTH, false);

	result = palloc(VARHDRSZ + BT_MAX_RECORD_BYTES);
	st = bt_codec_decode_text(str, len, (uint8 *) VARDATA(result),
							  BT_MAX_RECORD_BYTES, &reclen);
	if (st == BT_CODEC_OK)
		st = bt_codec_parse((uint8 *) VARDATA(result), reclen, &v);
	bt_throw_codec(st, false);
	check_template_keys(&v);
	/* COPY and typed literals pass the column's type modifier */
	if (PG_NARGS() > 2)
		check_typmod_bits(v.bits, PG_GETARG_INT32(2));

	SET_VARSIZE(result, VARHDRSZ + reclen);
	PG_RETURN_POINTER(result);
}

/*
 * SQL: biometric_out(biometric) -> cstring
 */
Datum
biometric_out(PG_FUNCTION_ARGS)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	size_t		len = VARSIZE_ANY_EXHDR(t);
	char	   *out = palloc(bt_codec_text_size(len) + 1);

	bt_codec_encode_text((const uint8 *) VARDATA_ANY(t), len, out);
	PG_RETURN_CSTRING(out);
}

/*
 * SQL: biometric_recv(internal) -> biometric
 *
 * The binary form is the bt1 record itself.
 */
Datum
biometric_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	size_t		len = buf->len - buf->cursor;
	struct varlena *result;
	BtTemplateView v;

	bt_require_preloaded();

	if (len > BT_MAX_RECORD_BYTES)
		bt_throw_codec(BT_CODEC_BAD_LENGTH, true);
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	pq_copymsgbytes(buf, VARDATA(result), len);
	bt_throw_codec(bt_codec_parse((uint8 *) VARDATA(result), len, &v), true);
	check_template_keys(&v);
	if (PG_NARGS() > 2)
		check_typmod_bits(v.bits, PG_GETARG_INT32(2));
	PG_RETURN_POINTER(result);
}

/*
 * SQL: biometric_send(biometric) -> bytea
 */
Datum
biometric_send(PG_FUNCTION_ARGS)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * A new template of embedding arr: the newest key, the model profile named
 * by biotoken.model, and "typmod" bits, or biotoken.template_bits' choice
 * if typmod is -1.  The result is palloc'd in the current context.
 */
static struct varlena *
enroll(ArrayType *arr, int32 typmod)
{
	const BtKey *key;
	const BtModel *model;
	struct varlena *result;
	float	   *x;
	int			dims;

	bt_require_preloaded();
	key = newest_key();
	model = current_model();
	x = prepare_embedding(arr, "embedding", model, 0, &dims);
	result = make_template(key, x, dims,
						   typmod >= 0 ? (int) typmod : bt_guc_template_bits(dims),
						   model ? model->model_id : 0);
	explicit_bzero(x, sizeof(float) * dims);
	pfree(x);
	return result;
}

/*
 * SQL: biometric_enroll(embedding float4[]) -> biometric
 *
 * Uses the newest key, the model
 * profile named by biotoken.model and biotoken.template_bits.
 */
Datum
biometric_enroll(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	struct varlena *result;

	result = enroll(arr, -1);
	PG_FREE_IF_COPY(arr, 0);
	PG_RETURN_POINTER(result);
}

/*
 * SQL: biometric_enroll(embedding float4[], typmod int4, explicit bool) -> biometric
 * SQL: biometric_enroll(embedding float8[], typmod int4, explicit bool) -> biometric
 *
 * The assignment casts from real[] and double precision[]: enrolls at the
 * target column's template size if it is biometric(N), else as
 * biometric_enroll(embedding) does.
 */
Datum
biometric_enroll_typmod(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int32		typmod = PG_GETARG_INT32(1);
	struct varlena *result;

	result = enroll(arr, typmod);
	PG_FREE_IF_COPY(arr, 0);
	PG_RETURN_POINTER(result);
}

/*
 * The facts biometric_info shows, as a row of the caller's result type:
 * format, key_id (the mask key), dims, bits, model and, if the row type has
 * a sixth column (1.1), projection_key_id.
 */
static Datum
template_info(FunctionCallInfo fcinfo)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	BtTemplateView v;
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6] = {false, false, false, false, false, false};

	bt_require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	view_stored(t, &v);
	values[0] = Int32GetDatum(v.format);
	values[1] = Int32GetDatum(v.key_id);
	values[2] = Int32GetDatum(v.dims);
	values[3] = Int32GetDatum(v.bits);
	if (v.model_id == 0)
		nulls[4] = true;
	else
	{
		const BtModel *m = bt_models_by_id((int32) v.model_id);

		if (m != NULL)
			values[4] = CStringGetTextDatum(m->name);
		else
			nulls[4] = true;
	}
	values[5] = Int32GetDatum(v.proj_key_id);
	if (tupdesc->natts != 5 && tupdesc->natts != 6)
		elog(ERROR, "biometric_info must return 5 or 6 columns");
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * SQL (1.0): biometric_info(t biometric)
 *		-> (format int, key_id int, dims int, bits int, model text)
 */
Datum
biometric_info(PG_FUNCTION_ARGS)
{
	return template_info(fcinfo);
}

/*
 * SQL: biometric_info(t biometric)
 *		-> (format int, key_id int, dims int, bits int, model text,
 *			projection_key_id int)
 *
 * key_id is the key of the salt mask, which biometric_rekey() moves to the
 * newest key; projection_key_id is the key of the projection, which only a
 * new enrollment from the raw embedding changes.
 */
Datum
biometric_info_1_1(PG_FUNCTION_ARGS)
{
	return template_info(fcinfo);
}

/*
 * SQL: biometric_rekey(t biometric) -> biometric
 *
 * Unmasks the bits with the template's mask key and masks them again under
 * the newest key with a fresh salt.  The projection (and so every distance)
 * stays the same; no raw embedding is needed.
 */
Datum
biometric_rekey(PG_FUNCTION_ARGS)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	const BtKey *oldkey;
	const BtKey *newkey;
	BtTemplateView v;
	size_t		reclen;
	struct varlena *result;
	uint8	   *rec;
	uint8		salt[BT_SALT_BYTES];
	BtCryptoStatus st;

	bt_require_preloaded();
	view_stored(t, &v);
	check_template_keys_in_use(&v);
	oldkey = bt_keys_get(v.key_id);
	newkey = newest_key();

	reclen = bt_codec_record_size(v.bits);
	result = palloc(VARHDRSZ + reclen);
	SET_VARSIZE(result, VARHDRSZ + reclen);
	rec = (uint8 *) VARDATA(result);

	st = bt_crypto_mask(oldkey, v.salt, v.data, rec + BT_BITS_OFFSET, v.bits / 8);
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_random(salt, sizeof(salt));
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_mask(newkey, salt, rec + BT_BITS_OFFSET,
							rec + BT_BITS_OFFSET, v.bits / 8);
	if (st != BT_CRYPTO_OK)
	{
		explicit_bzero(rec, reclen);
		bt_crypto_throw(st);
	}

	v.key_id = (uint16) newkey->key_id;
	v.salt = salt;
	bt_codec_write_header(rec, &v);
	PG_RETURN_POINTER(result);
}

/*
 * bt_template_probe_cache
 *		A new, empty probe cache in mcxt.
 */
BtProbeCache *
bt_template_probe_cache(MemoryContext mcxt)
{
	BtProbeCache *cache = MemoryContextAllocZero(mcxt, sizeof(BtProbeCache));

	cache->mcxt = mcxt;
	return cache;
}

/* wipe and free the projections of the cached probe; ends the run */
static void
forget_projections(BtProbeCache *cache)
{
	int			i;

	for (i = 0; i < cache->nslots; i++)
	{
		explicit_bzero(cache->slots[i].bits_data, cache->slots[i].bits / 8);
		pfree(cache->slots[i].bits_data);
	}
	cache->nslots = 0;
	memset(&cache->run, 0, sizeof(cache->run));
}

/*
 * bt_template_forget_probe
 *		Wipe and free the cached probe and its projections.  The cache
 *		itself stays usable.
 */
void
bt_template_forget_probe(BtProbeCache *cache)
{
	forget_projections(cache);
	if (cache->probe)
	{
		explicit_bzero(cache->probe, cache->probe_len);
		pfree(cache->probe);
	}
	cache->probe = NULL;
	cache->probe_len = 0;
}

/*
 * bt_template_set_probe
 *		Make the float4[] datum probe the cache's probe.  The cache is keyed
 *		on the probe's bytes: the same value again (the next row of a scan,
 *		or a rescan with the same probe) keeps every projection; a new value
 *		(for example in a lateral join) drops them.  The probe is not checked
 *		here; bt_template_start_run checks it against each template shape.
 */
void
bt_template_set_probe(BtProbeCache *cache, Datum probe)
{
	struct varlena *raw = (struct varlena *) DatumGetPointer(probe);
	struct varlena *plain = raw;

	/*
	 * A compressed, external or short-header probe: compare its plain form,
	 * and free that afterwards, since an index scan's caller may run many
	 * rescans in one long-lived context.
	 */
	if (VARATT_IS_EXTENDED(raw))
		plain = (struct varlena *) DatumGetArrayTypeP(probe);

	if (cache->probe == NULL ||
		VARSIZE(plain) != cache->probe_len ||
		memcmp(plain, cache->probe, cache->probe_len) != 0)
	{
		bt_template_forget_probe(cache);
		cache->probe_len = VARSIZE(plain);
		cache->probe = MemoryContextAlloc(cache->mcxt, cache->probe_len);
		memcpy(cache->probe, plain, cache->probe_len);
	}
	if (plain != raw)
	{
		explicit_bzero(plain, VARSIZE(plain));
		pfree(plain);
	}
}

/*
 * bt_template_check_record
 *		Throw unless rec[len] is a well-formed bt1 record, for callers that
 *		store records outside a biometric datum (the index).
 */
void
bt_template_check_record(const uint8 *rec, size_t len)
{
	BtTemplateView v;

	view_record(rec, len, &v);
}

/*
 * bt_template_start_run
 *		Make the record rec[len] the start of the cache's current run and
 *		return the run.  Checks that the template's keys are loaded and its
 *		model profile registered, and that the probe is a valid embedding of
 *		the template's dimensions; projects the probe for the template's
 *		(projection key, dims, bits, model) unless one of the cache's
 *		BT_PROBE_SLOTS projections is for exactly that.  Throws the errors of
 *		biometric_distance.  New projections live in the cache's context.
 */
const BtTemplateRun *
bt_template_start_run(BtProbeCache *cache, const uint8 *rec, size_t len)
{
	BtTemplateRun *run = &cache->run;
	BtProbeSlot *slot = NULL;
	BtTemplateView v;
	const BtKey *pkey;
	const BtModel *model;
	const BtProjection *proj;
	float	   *x;
	float	   *work;
	int			dims;
	int			i;

	Assert(cache->probe != NULL);
	memset(run, 0, sizeof(*run));
	view_record(rec, len, &v);
	check_template_keys_in_use(&v);

	for (i = 0; i < cache->nslots; i++)
	{
		BtProbeSlot *s = &cache->slots[i];

		if (s->proj_key_id == v.proj_key_id && s->dims == v.dims &&
			s->bits == v.bits && s->model_id == (int32) v.model_id)
		{
			slot = s;
			break;
		}
	}

	if (slot == NULL)
	{
		/* a new (key, dims, bits, model) for this probe: project it */
		pkey = bt_keys_get(v.proj_key_id);
		model = template_model((int32) v.model_id);
		x = prepare_embedding((ArrayType *) cache->probe, "probe", model,
							  v.dims, &dims);
		proj = bt_crypto_projection(pkey, dims, v.bits);

		if (cache->nslots == BT_PROBE_SLOTS)
		{
			/* evict the oldest slot */
			explicit_bzero(cache->slots[0].bits_data, cache->slots[0].bits / 8);
			pfree(cache->slots[0].bits_data);
			memmove(&cache->slots[0], &cache->slots[1],
					sizeof(BtProbeSlot) * (BT_PROBE_SLOTS - 1));
			cache->nslots--;
		}
		slot = &cache->slots[cache->nslots];
		slot->proj_key_id = v.proj_key_id;
		slot->dims = v.dims;
		slot->bits = v.bits;
		slot->model_id = (int32) v.model_id;
		slot->bits_data = MemoryContextAllocZero(cache->mcxt, v.bits / 8);
		work = palloc(sizeof(float) * proj->n);
		bt_crypto_project(proj, x, work, (uint8 *) slot->bits_data);
		explicit_bzero(work, sizeof(float) * proj->n);
		explicit_bzero(x, sizeof(float) * dims);
		pfree(work);
		pfree(x);
		cache->nslots++;
	}

	run->cipher = bt_crypto_mask_cipher(bt_keys_get(v.key_id));
	if (run->cipher == NULL)
		bt_crypto_throw(BT_CRYPTO_ERR_OPENSSL);
	memcpy(run->header, rec, BT_HEADER_BYTES);
	run->reclen = len;
	run->bits = v.bits;
	run->probe = slot->bits_data;
	return run;
}

/* distance of template datum (arg 0) and probe (arg 1), shared by callers */
static double
probe_distance(FunctionCallInfo fcinfo)
{
	struct varlena *t = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	BtProbeCache *cache = (BtProbeCache *) fcinfo->flinfo->fn_extra;
	const uint8 *rec = (const uint8 *) VARDATA_ANY(t);
	const BtTemplateRun *run;
	int			diff;
	int			bits;

	if (cache == NULL)
	{
		cache = bt_template_probe_cache(fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	bt_template_set_probe(cache, PG_GETARG_DATUM(1));
	run = bt_template_run(cache, rec, VARSIZE_ANY_EXHDR(t));
	bt_template_diffs(run, 1, &rec, &diff);
	bits = run->bits;
	PG_FREE_IF_COPY(t, 0);
	return (double) diff / bits;
}

/*
 * SQL: biometric_distance(t biometric, probe float4[]) -> float8
 * SQL: operator <~> (biometric, float4[]) -> float8
 *
 * Fraction of differing bits, 0..1; about the angle between the enrolled
 * embedding and the probe divided by pi.  Granted to biotoken_matcher only.
 */
Datum
biometric_distance(PG_FUNCTION_ARGS)
{
	bt_require_preloaded();
	PG_RETURN_FLOAT8(probe_distance(fcinfo));
}

#define BT_MATCHER_ROLE		"biotoken_matcher"

/*
 * Throw 42501 if the current user may not verify at max_distance: above
 * the threshold in force (biotoken.match_threshold, which only a
 * superuser sets, per server, database or role) only those who may see
 * scores anyway (biotoken_matcher, as for biometric_distance) may go.
 * Without the cap, twenty calls of a binary search over max_distance
 * give the exact distance that biometric_distance refuses: a score oracle
 * to hill-climb towards a face.  Costs nothing at or below the threshold.
 */
static void
check_max_distance(double max_distance)
{
	Oid			matcher;

	if (max_distance <= bt_match_threshold)
		return;
	matcher = get_role_oid(BT_MATCHER_ROLE, true);
	if (OidIsValid(matcher) && has_privs_of_role(GetUserId(), matcher))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("max_distance cannot exceed biotoken.match_threshold"),
			 errdetail("Only members of \"%s\" may verify at a distance above the match threshold in force, since a wider one reveals match scores.",
					   BT_MATCHER_ROLE),
			 errhint("Omit max_distance, or ask a superuser to set biotoken.match_threshold for your role or database.")));
}

/*
 * SQL: biometric_verify(t biometric, probe float4[]) -> boolean
 * SQL: biometric_verify(t biometric, probe float4[], max_distance float8) -> boolean
 *
 * Whether the probe matches the template: distance <= max_distance, by
 * default biotoken.match_threshold.  Answers yes or no only, so it is open
 * to everyone who may read the column; a max_distance above the threshold
 * is for biotoken_matcher only (42501, see check_max_distance).
 */
Datum
biometric_verify(PG_FUNCTION_ARGS)
{
	double		threshold = bt_match_threshold;

	bt_require_preloaded();
	if (PG_NARGS() > 2)
	{
		if (PG_ARGISNULL(2))
			PG_RETURN_NULL();
		threshold = PG_GETARG_FLOAT8(2);
		if (isnan(threshold) || threshold < 0.0 || threshold > 1.0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_distance must be between 0 and 1")));
		check_max_distance(threshold);
	}
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(probe_distance(fcinfo) <= threshold);
}

/*
 * SQL: biometric_distance(t biometric, u biometric) -> float8
 * SQL: operator <~> (biometric, biometric) -> float8
 *
 * Distance of two templates projected with the same key, dimensions, bits
 * and model profile.  Granted to biotoken_matcher only.
 */
Datum
biometric_distance_template(PG_FUNCTION_ARGS)
{
	struct varlena *a = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	struct varlena *b = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	uint64		bufa[BT_MAX_TEMPLATE_BYTES / 8];
	uint64		bufb[BT_MAX_TEMPLATE_BYTES / 8];
	BtTemplateView va;
	BtTemplateView vb;
	int			nwords;
	int			diff = 0;
	int			i;
	BtCryptoStatus st;

	bt_require_preloaded();
	view_stored(a, &va);
	view_stored(b, &vb);
	check_template_keys_in_use(&va);
	check_template_keys_in_use(&vb);
	if (va.dims != vb.dims || va.bits != vb.bits)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("biometric templates of different shapes cannot be compared"),
				 errdetail("One template has %d dimensions and %d bits, the other %d dimensions and %d bits.",
						   va.dims, va.bits, vb.dims, vb.bits)));
	if (va.proj_key_id != vb.proj_key_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("biometric templates projected with different keys cannot be compared"),
				 errdetail("The templates were projected with key ids %d and %d.",
						   va.proj_key_id, vb.proj_key_id)));
	if (va.model_id != vb.model_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("biometric templates enrolled with different model profiles cannot be compared")));

	st = bt_crypto_mask(bt_keys_get(va.key_id), va.salt, va.data,
						(uint8 *) bufa, va.bits / 8);
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_mask(bt_keys_get(vb.key_id), vb.salt, vb.data,
							(uint8 *) bufb, vb.bits / 8);
	if (st != BT_CRYPTO_OK)
		bt_crypto_throw(st);
	nwords = va.bits / 64;
	for (i = 0; i < nwords; i++)
		bufa[i] ^= bufb[i];
	diff = (int) pg_popcount((const char *) bufa, va.bits / 8);
	explicit_bzero(bufb, va.bits / 8);
	PG_RETURN_FLOAT8((double) diff / va.bits);
}
