/*-------------------------------------------------------------------------
 *
 * audit_worker.c
 *	  The access-log writer: a background worker per database that takes
 *	  records from that database's queue and commits them, and the hash
 *	  chain that makes the log tamper-evident.
 *
 * Lifecycle: a backend with a record for a database whose queue has no
 * writer registers one (a dynamic background worker, never restarted by
 * the postmaster).  The writer connects to the database, then loops: take
 * every record in the queue, append them to biotoken.access_log in one
 * transaction, flush the commit record, tell each waiting backend its
 * row's id and hash.  Records that arrive while a transaction is under way
 * wait for the next one, so concurrent records share a commit.  The writer
 * leaves when it has been idle for BT_AUDIT_WORKER_IDLE_MS, or at once
 * when a DBA operation asks (audit.c), so that DROP DATABASE, ALTER
 * DATABASE ... RENAME and CREATE DATABASE ... TEMPLATE find no session of
 * ours in the database.  If its transaction fails, the waiting backends
 * hear so at once and refuse their statements; if it dies, they start
 * another.
 *
 * The chain: every row carries row_hash = HMAC-SHA256(log key, canonical
 * serialization of the row), which covers every other column, prev_hash
 * (the previous row's row_hash) and key_id (which key made it) included.
 * Ids are assigned here, gapless from 1.  The writer keeps the last row it
 * committed in shared memory (the anchor) and continues the chain from it,
 * not from whatever the table's last row is, so rows removed from the end
 * make the next row's prev_hash fail to match.  biotoken.verify_access_log()
 * recomputes everything.
 *
 * Canonical serialization, version 1 (what an external verifier must
 * reproduce): the bytes "biotoken access_log v1" and a NUL, then for each
 * column in the order id, logged_at, event, session_user_name,
 * current_user_name, login_user_name, client_addr, application_name,
 * backend_pid, grant_id, categories, columns, query_id, statement, detail,
 * key_id, prev_hash: a byte 0 for NULL, or a byte 1 and the value.  Values:
 * bigint as 8 bytes and int as 4 bytes, big-endian; timestamptz as its
 * 8-byte big-endian count of microseconds since 2000-01-01 00:00 UTC; text,
 * name, inet and jsonb as a 4-byte big-endian length and the bytes of their
 * text form (jsonb's text form is canonical); text[] as a 4-byte count and
 * per element a NULL byte or 1 + length + bytes; bytea as length + bytes.
 *
 * Rows of the log's own: every biotoken.audit_checkpoint_rows ids the
 * writer appends a 'checkpoint' row (detail {"every": N}); its prev_hash
 * is the chain head and its row_hash signs it, so verify_access_log(from_id)
 * can start there.  prune_access_log() leaves a 'prune' row (detail
 * removed_from, removed_to, rows, head: the hex row_hash of the last row
 * removed); a log may start after row 1 only if a prune row whose
 * removed_to is the first id - 1 and whose head is the first row's
 * prev_hash verifies.
 *
 * Locking: queue, waiters and anchors are under the "biotoken access log"
 * LWLock (audit.h); nothing throws while it is held.
 *
 * Who and how: the writer finds the log as the extension's member (never
 * by name), writes it as the extension's owner in a security-restricted
 * operation, and runs no code but its own: rows go straight into the heap
 * and the indexes, so no trigger, constraint expression or planner runs.
 *
 * Memory: the loop context "biotoken access log writer" is reset every
 * iteration; what outlives a batch's transaction is allocated there.
 *
 * IDENTIFICATION
 *	  extension/audit_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_am.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "pgstat.h"
#include "port/pg_bswap.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "catalog.h"
#include "biotoken.h"
#include "compat.h"
#include "guc.h"
#include "keys.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(biotoken_verify_access_log);
PG_FUNCTION_INFO_V1(biotoken_verify_access_log_from);
PG_FUNCTION_INFO_V1(biotoken_prune_access_log);
PG_FUNCTION_INFO_V1(biotoken_access_log_append_only);

/* the columns of biotoken.access_log, in table order */
enum
{
	COL_ID,
	COL_LOGGED_AT,
	COL_EVENT,
	COL_SESSION_USER,
	COL_CURRENT_USER,
	COL_LOGIN_USER,
	COL_CLIENT_ADDR,
	COL_APPLICATION_NAME,
	COL_BACKEND_PID,
	COL_GRANT_ID,
	COL_CATEGORIES,
	COL_COLUMNS,
	COL_QUERY_ID,
	COL_STATEMENT,
	COL_DETAIL,
	COL_KEY_ID,
	COL_PREV_HASH,
	COL_ROW_HASH,
	NCOLS
};

/* the type of each column, to refuse a table whose layout was altered */
static const Oid column_types[NCOLS] = {
	INT8OID, TIMESTAMPTZOID, TEXTOID, NAMEOID, NAMEOID, NAMEOID, INETOID,
	TEXTOID, INT4OID, INT8OID, TEXTARRAYOID, TEXTARRAYOID, INT8OID, TEXTOID,
	JSONBOID, INT4OID, BYTEAOID, BYTEAOID
};

#define BT_CHAIN_TAG	"biotoken access_log v1"
#define ALL_COLUMNS \
	"id, logged_at, event, session_user_name, current_user_name, " \
	"login_user_name, client_addr, application_name, backend_pid, " \
	"grant_id, categories, columns, query_id, statement, detail, key_id, " \
	"prev_hash, row_hash"

/*
 * true in the writer process; read through bt_audit_is_writer() (audit.h),
 * which every hook calls on every statement
 */
bool		bt_audit_am_writer = false;

/* the writer's queue, and the waiters of the batch it is writing */
static int	writer_queue = -1;


/* ----------------------------------------------------------------
 * The hash chain
 * ----------------------------------------------------------------
 */

static void
put_flag(StringInfo buf, bool present)
{
	appendStringInfoChar(buf, present ? 1 : 0);
}

static void
put_u32(StringInfo buf, uint32 v)
{
	uint32		be = pg_hton32(v);

	appendBinaryStringInfo(buf, (const char *) &be, 4);
}

static void
put_u64(StringInfo buf, uint64 v)
{
	uint64		be = pg_hton64(v);

	appendBinaryStringInfo(buf, (const char *) &be, 8);
}

static void
put_bytes(StringInfo buf, const char *p, int len)
{
	put_u32(buf, (uint32) len);
	appendBinaryStringInfo(buf, p, len);
}

static void
put_text_array(StringInfo buf, Datum d)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *enulls;
	int			n;
	int			i;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &enulls, &n);
	put_u32(buf, (uint32) n);
	for (i = 0; i < n; i++)
	{
		put_flag(buf, !enulls[i]);
		if (!enulls[i])
			put_bytes(buf, VARDATA_ANY(DatumGetPointer(elems[i])),
					  VARSIZE_ANY_EXHDR(DatumGetPointer(elems[i])));
	}
}

/*
 * The canonical serialization of a row (values/nulls in table order; the
 * row_hash column is not read), into buf.  See the file header.
 */
static void
serialize_row(const Datum *values, const bool *nulls, StringInfo buf)
{
	int			col;

	appendBinaryStringInfo(buf, BT_CHAIN_TAG, sizeof(BT_CHAIN_TAG));
	for (col = COL_ID; col <= COL_PREV_HASH; col++)
	{
		Datum		d = values[col];

		put_flag(buf, !nulls[col]);
		if (nulls[col])
			continue;
		switch (col)
		{
			case COL_ID:
			case COL_GRANT_ID:
			case COL_QUERY_ID:
				put_u64(buf, (uint64) DatumGetInt64(d));
				break;
			case COL_LOGGED_AT:
				put_u64(buf, (uint64) DatumGetTimestampTz(d));
				break;
			case COL_BACKEND_PID:
			case COL_KEY_ID:
				put_u32(buf, (uint32) DatumGetInt32(d));
				break;
			case COL_SESSION_USER:
			case COL_CURRENT_USER:
			case COL_LOGIN_USER:
				{
					const char *s = NameStr(*DatumGetName(d));

					put_bytes(buf, s, strlen(s));
					break;
				}
			case COL_CLIENT_ADDR:
				{
					char	   *s = DatumGetCString(DirectFunctionCall1(inet_out, d));

					put_bytes(buf, s, strlen(s));
					break;
				}
			case COL_DETAIL:
				{
					Jsonb	   *jb = DatumGetJsonbP(d);
					char	   *s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

					put_bytes(buf, s, strlen(s));
					break;
				}
			case COL_CATEGORIES:
			case COL_COLUMNS:
				put_text_array(buf, d);
				break;
			case COL_EVENT:
			case COL_APPLICATION_NAME:
			case COL_STATEMENT:
			case COL_PREV_HASH:
				{
					struct varlena *v = PG_DETOAST_DATUM_PACKED(d);

					put_bytes(buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
					break;
				}
		}
	}
}

/*
 * The row_hash of a row, into out; false if the key it names is not
 * loaded.  Throws only if OpenSSL fails.
 */
static bool
row_mac(const Datum *values, const bool *nulls, uint8 *out)
{
	StringInfoData buf;
	const BtKey *key;
	BtCryptoStatus st;

	if (nulls[COL_KEY_ID])
		return false;
	key = bt_keys_get(DatumGetInt32(values[COL_KEY_ID]));
	if (key == NULL)
		return false;
	initStringInfo(&buf);
	serialize_row(values, nulls, &buf);
	st = bt_crypto_hmac(key->logmac, (const uint8 *) buf.data, buf.len, out);
	pfree(buf.data);
	if (st != BT_CRYPTO_OK)
		bt_crypto_throw(st);
	return true;
}

static Datum
text_array(List *items)
{
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	elems = palloc(sizeof(Datum) * Max(list_length(items), 1));
	foreach(lc, items)
		elems[n++] = CStringGetTextDatum((const char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

static Datum
bytea_datum(const uint8 *p, int len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), p, len);
	return PointerGetDatum(b);
}

/* the values of one entry's row, except id, key_id, prev_hash, row_hash */
static void
entry_values(const BtAuditEntry *e, Datum *values, bool *nulls)
{
	const char *cursor = (const char *) e + MAXALIGN(sizeof(BtAuditEntry));
	const char *s;
	List	   *columns = NIL;
	int			i;
	int			bit;
	List	   *cats = NIL;
	static const int string_cols[BT_AUDIT_NSTRINGS] = {
		COL_SESSION_USER, COL_CURRENT_USER, COL_LOGIN_USER, COL_CLIENT_ADDR,
		COL_APPLICATION_NAME, COL_STATEMENT, COL_DETAIL
	};

	memset(nulls, true, sizeof(bool) * NCOLS);
	values[COL_LOGGED_AT] = TimestampTzGetDatum(e->logged_at);
	nulls[COL_LOGGED_AT] = false;
	values[COL_EVENT] = CStringGetTextDatum(bt_audit_event_name((BtAuditEvent) e->event));
	nulls[COL_EVENT] = false;
	values[COL_BACKEND_PID] = Int32GetDatum(e->backend_pid);
	nulls[COL_BACKEND_PID] = false;
	if (e->grant_id != 0)
	{
		values[COL_GRANT_ID] = Int64GetDatum(e->grant_id);
		nulls[COL_GRANT_ID] = false;
	}
	if (e->query_id != 0)
	{
		values[COL_QUERY_ID] = Int64GetDatum(e->query_id);
		nulls[COL_QUERY_ID] = false;
	}
	for (bit = BT_CAT_BIOMETRIC; bit <= BT_CAT_FINANCIAL; bit <<= 1)
		if (e->categories & bit)
			cats = lappend(cats, (char *) bt_labels_category_name(bit));
	if (cats != NIL)
	{
		values[COL_CATEGORIES] = text_array(cats);
		nulls[COL_CATEGORIES] = false;
	}

	for (i = 0; i < BT_AUDIT_NSTRINGS; i++)
	{
		int			col = string_cols[i];

		s = bt_audit_entry_next(&cursor);
		if (s == NULL)
			continue;
		nulls[col] = false;
		switch (col)
		{
			case COL_SESSION_USER:
			case COL_CURRENT_USER:
			case COL_LOGIN_USER:
				values[col] = DirectFunctionCall1(namein, CStringGetDatum(s));
				break;
			case COL_CLIENT_ADDR:
				values[col] = DirectFunctionCall1(inet_in, CStringGetDatum(s));
				break;
			case COL_DETAIL:
				values[col] = DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
				break;
			default:
				values[col] = CStringGetTextDatum(s);
		}
	}
	for (i = 0; i < e->ncolumns; i++)
	{
		s = bt_audit_entry_next(&cursor);
		if (s != NULL)
			columns = lappend(columns, (char *) s);
	}
	if (columns != NIL)
	{
		values[COL_COLUMNS] = text_array(columns);
		nulls[COL_COLUMNS] = false;
	}
}

/*
 * The values of a checkpoint row, except id, key_id, prev_hash, row_hash:
 * the writer appends one whenever the log passes a multiple of
 * biotoken.audit_checkpoint_rows rows.  Its prev_hash is the chain head
 * and its row_hash signs it: verify_access_log(from_id) starts there.
 */
static void
checkpoint_values(int every, Datum *values, bool *nulls)
{
	char		detail[64];

	memset(nulls, true, sizeof(bool) * NCOLS);
	values[COL_LOGGED_AT] = TimestampTzGetDatum(GetCurrentTimestamp());
	nulls[COL_LOGGED_AT] = false;
	values[COL_EVENT] = CStringGetTextDatum("checkpoint");
	nulls[COL_EVENT] = false;
	values[COL_BACKEND_PID] = Int32GetDatum(MyProcPid);
	nulls[COL_BACKEND_PID] = false;
	snprintf(detail, sizeof(detail), "{\"every\": %d}", every);
	values[COL_DETAIL] = DirectFunctionCall1(jsonb_in, CStringGetDatum(detail));
	nulls[COL_DETAIL] = false;
}

/*
 * Appending rows: straight into the table and its indexes, as
 * logical replication's apply worker does it but without triggers,
 * constraints or anything else that could run code a role other than
 * biotoken put there.  The values are built here, so the table's NOT NULL
 * and CHECK constraints hold by construction; check_log_relation() made
 * sure no index needs an expression, a predicate or a user-defined
 * operator class.  Caller holds RowExclusiveLock on rel.
 */
typedef struct BtAppender
{
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	CommandId	cid;
} BtAppender;

static void
appender_begin(BtAppender *ap, Relation rel)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;

	ap->estate = CreateExecutorState();
	BT_EXEC_INIT_RANGE_TABLE(ap->estate, list_make1(rte));
	ap->cid = GetCurrentCommandId(true);
	ap->estate->es_output_cid = ap->cid;
	ap->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(ap->rri, rel, 1, NULL, 0);
	/* no trigger fires, biotoken's own append-only trigger included */
	ap->rri->ri_TrigDesc = NULL;
	ExecOpenIndices(ap->rri, false);
	ap->slot = ExecInitExtraTupleSlot(ap->estate, RelationGetDescr(rel),
									  &TTSOpsVirtual);
}

static void
appender_insert(BtAppender *ap, const Datum *values, const bool *nulls)
{
	TupleTableSlot *slot = ap->slot;
	List	   *recheck;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * NCOLS);
	memcpy(slot->tts_isnull, nulls, sizeof(bool) * NCOLS);
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(ap->rri->ri_RelationDesc, slot, ap->cid, 0, NULL);
	recheck = BT_EXEC_INSERT_INDEX_TUPLES(ap->rri, slot, ap->estate);
	list_free(recheck);
}

static void
appender_end(BtAppender *ap)
{
	ExecCloseIndices(ap->rri);
	ExecResetTupleTable(ap->estate->es_tupleTable, false);
	FreeExecutorState(ap->estate);
}

/* the access log cannot be used as it is: 55000 with what is wrong */
static void
throw_log_unusable(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("biotoken.access_log cannot be used"),
			 errdetail("%s", detail),
			 errhint("Only the biotoken extension's own definition of the table is written to; reinstall it.")));
}

/*
 * bt_audit_log_find
 *		The access log of this database: the relation named access_log
 *		that is a member of the biotoken extension (pg_depend, deptype
 *		'e').  It is never looked up by name through a schema, which a
 *		database owner may control.  *owner is set to the extension's
 *		owner, the role the log is written as.  InvalidOid if the
 *		extension is not installed here or has no access log yet (CREATE
 *		EXTENSION is running).  Throws 55000 if the member is not a
 *		permanent plain table owned by the extension's owner.  Needs a
 *		transaction; locks nothing but the catalogs it reads.
 */
Oid
bt_audit_log_find(Oid *owner)
{
	HeapTuple	tup;
	Oid			extowner;
	Oid			relid;
	Form_pg_class cls;

	/* by extension membership, kind and owner checked (catalog.c) */
	relid = bt_catalog_relid(BT_CATALOG_ACCESS_LOG);
	if (!OidIsValid(relid))
		return InvalidOid;
	extowner = bt_catalog_extension_owner();

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	cls = (Form_pg_class) GETSTRUCT(tup);
	if (cls->relkind != RELKIND_RELATION || cls->relispartition ||
		cls->relpersistence != RELPERSISTENCE_PERMANENT)
	{
		ReleaseSysCache(tup);
		throw_log_unusable("The extension's access_log is not a permanent plain table.");
	}
	if (cls->relowner != extowner)
	{
		ReleaseSysCache(tup);
		throw_log_unusable("The extension's access_log is not owned by the extension's owner.");
	}
	ReleaseSysCache(tup);
	if (owner != NULL)
		*owner = extowner;
	return relid;
}

/* check_functions_in_node callback: a function that is not built in */
static bool
not_builtin_function(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* walker: true if node calls anything that is not built in */
static bool
calls_user_code(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, not_builtin_function, context))
		return true;
	/* a user-defined type's input or cast could hide in a constant */
	if (IsA(node, Const) && ((Const *) node)->consttype >= FirstNormalObjectId)
		return true;
	return expression_tree_walker(node, calls_user_code, context);
}

/*
 * The expressions or the predicate (attnum) of an index call only built-in
 * functions and operators.  Read from pg_index as stored, before the
 * relcache would fold constants in them (which could run a function).
 */
static bool
index_code_builtin(Relation idx, int attnum)
{
	Datum		d;
	bool		isnull;
	Node	   *node;

	d = SysCacheGetAttr(INDEXRELID, idx->rd_indextuple, attnum, &isnull);
	if (isnull)
		return true;
	node = (Node *) stringToNode(TextDatumGetCString(d));
	return !calls_user_code(node, NULL);
}

/*
 * Refuse a log table that is not as the extension made it: other columns
 * or types (the rows would be written wrongly), or an index that would
 * run code of its own (an expression or predicate calling a function that
 * is not built in, an access method or operator class that is not built
 * in).  biotoken's own partial index on grant_id passes.  Caller holds a
 * lock on rel.
 */
static void
check_log_relation(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	ListCell   *lc;
	int			i;

	if (desc->natts != NCOLS)
		throw_log_unusable("The table does not have the expected columns: it was altered.");
	for (i = 0; i < NCOLS; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != column_types[i] ||
			att->attgenerated != '\0')
			throw_log_unusable("The table does not have the expected columns: it was altered.");
	}

	indexes = RelationGetIndexList(rel);
	if (!OidIsValid(rel->rd_pkindex))
		throw_log_unusable("The table has no primary key on id.");
	foreach(lc, indexes)
	{
		Relation	idx = index_open(lfirst_oid(lc), AccessShareLock);
		bool		ok = true;
		int			k;

		if (!index_code_builtin(idx, Anum_pg_index_indexprs) ||
			!index_code_builtin(idx, Anum_pg_index_indpred) ||
			idx->rd_rel->relam >= FirstNormalObjectId)
			ok = false;
		for (k = 0; ok && k < IndexRelationGetNumberOfKeyAttributes(idx); k++)
			if (idx->rd_opfamily[k] >= FirstNormalObjectId)
				ok = false;
		if (RelationGetRelid(idx) == rel->rd_pkindex &&
			(idx->rd_index->indnatts != 1 || idx->rd_index->indkey.values[0] != COL_ID + 1 ||
			 idx->rd_rel->relam != BTREE_AM_OID))
			ok = false;
		index_close(idx, AccessShareLock);
		if (!ok)
			throw_log_unusable("An index of the table is not one biotoken made: it would run code of its own.");
	}
	list_free(indexes);
}

/*
 * The last row of the log (highest id) as "snapshot" sees it, through the
 * primary key; false if the log is empty.
 */
static bool
read_log_end(Relation rel, Snapshot snapshot, int64 *id, uint8 *hash)
{
	Relation	idx = index_open(rel->rd_pkindex, AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	scan = systable_beginscan_ordered(rel, idx, snapshot, 0, NULL);
	tup = systable_getnext_ordered(scan, BackwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		h;

		*id = DatumGetInt64(heap_getattr(tup, COL_ID + 1, RelationGetDescr(rel), &isnull));
		h = heap_getattr(tup, COL_ROW_HASH + 1, RelationGetDescr(rel), &isnull);
		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetPointer(h)) == BT_HMAC_BYTES &&
			!VARATT_IS_EXTERNAL(DatumGetPointer(h)) &&
			!VARATT_IS_COMPRESSED(DatumGetPointer(h)))
			memcpy(hash, VARDATA_ANY(DatumGetPointer(h)), BT_HMAC_BYTES);
		else
			memset(hash, 0, BT_HMAC_BYTES);
		found = true;
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	return found;
}

/*
 * bt_audit_chain_append
 *		Append n entries to the access log relid in the current
 *		transaction, chained, and put each row's id and hash into
 *		results[i].
 *
 * The chain continues from known_end (the last row the writer committed)
 * when that is at least as far as the table's last row, else from the
 * table's last row.  A table that ends before known_end lost rows: the new
 * rows chain to the lost one, so verification shows the gap.  Runs as
 * "owner" (the extension's owner) in a security-restricted operation, and
 * runs no code but biotoken's: no trigger fires, no SQL is planned, no
 * name is looked up.  Caller has a transaction and RowExclusiveLock on
 * relid (or will get it here).  Throws on any failure.
 */
void
bt_audit_chain_append(Oid relid, Oid owner, BtAuditEntry **entries, int n,
					  const BtAuditAnchor *known_end, int checkpoint_rows,
					  BtAuditAnchor *results, BtAuditAnchor *end)
{
	const BtKey *key = bt_keys_newest();
	Oid			save_userid;
	int			save_sec_context;
	int64		prev_id = 0;
	uint8		prev_hash[BT_HMAC_BYTES];
	bool		have_prev = false;
	Relation	rel;
	BtAppender	ap;
	Snapshot	snapshot;
	int64		first_id;
	int			i;

	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no biotoken key is loaded")));

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		rel = table_open(relid, RowExclusiveLock);
		check_log_relation(rel);

		/* rows this transaction appended before (CREATE EXTENSION) count */
		CommandCounterIncrement();
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		have_prev = read_log_end(rel, snapshot, &prev_id, prev_hash);
		UnregisterSnapshot(snapshot);

		if (known_end != NULL && known_end->valid && known_end->relid == relid &&
			known_end->id >= prev_id &&
			(known_end->id != prev_id ||
			 memcmp(known_end->hash, prev_hash, BT_HMAC_BYTES) != 0))
		{
			ereport(WARNING,
					(errmsg("biotoken: the access log ends at row " INT64_FORMAT " but the writer last committed row " INT64_FORMAT,
							prev_id, known_end->id),
					 errdetail("Rows at the end of biotoken.access_log were removed or changed; the chain continues from the last row the writer committed, so verification will report the break.")));
			prev_id = known_end->id;
			memcpy(prev_hash, known_end->hash, BT_HMAC_BYTES);
			have_prev = true;
		}

		appender_begin(&ap, rel);
		first_id = prev_id + 1;
		for (i = 0; i <= n; i++)
		{
			Datum		values[NCOLS];
			bool		nulls[NCOLS];
			uint8		mac[BT_HMAC_BYTES];

			if (i < n)
				entry_values(entries[i], values, nulls);
			else if (checkpoint_rows > 0 &&
					 (first_id - 1) / checkpoint_rows != prev_id / checkpoint_rows)
				checkpoint_values(checkpoint_rows, values, nulls);
			else
				break;
			values[COL_ID] = Int64GetDatum(prev_id + 1);
			nulls[COL_ID] = false;
			values[COL_KEY_ID] = Int32GetDatum(key->key_id);
			nulls[COL_KEY_ID] = false;
			if (have_prev)
			{
				values[COL_PREV_HASH] = bytea_datum(prev_hash, BT_HMAC_BYTES);
				nulls[COL_PREV_HASH] = false;
			}
			if (!row_mac(values, nulls, mac))
				elog(ERROR, "the newest biotoken key is not loaded");
			values[COL_ROW_HASH] = bytea_datum(mac, BT_HMAC_BYTES);
			nulls[COL_ROW_HASH] = false;
			appender_insert(&ap, values, nulls);

			prev_id++;
			memcpy(prev_hash, mac, BT_HMAC_BYTES);
			have_prev = true;
			end->valid = true;
			end->relid = relid;
			end->id = prev_id;
			memcpy(end->hash, mac, BT_HMAC_BYTES);
			if (i < n)
				results[i] = *end;
		}
		appender_end(&ap);
		table_close(rel, NoLock);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}


/* ----------------------------------------------------------------
 * The writer
 * ----------------------------------------------------------------
 */

/* what the current batch took: to report the outcome to each waiter */
typedef struct BtTaken
{
	int			procno;
	uint64		seq;
} BtTaken;

static BtTaken *taken = NULL;
static int	ntaken = 0;
static int	taken_size = 0;

/*
 * The waiter of the i-th record of the current batch, if it is still
 * waiting for that record (it may have given up and withdrawn); lock held.
 */
static BtAuditWaiter *
taken_waiter(int i)
{
	BtAuditWaiter *w;

	if (taken[i].procno < 0)
		return NULL;
	w = &bt_audit_shared->waiters[taken[i].procno];
	if (w->queue == writer_queue && w->seq == taken[i].seq &&
		w->state == BT_WAIT_TAKEN)
		return w;
	return NULL;
}

/* tell every waiter of the current batch that it failed; lock held */
static void
fail_taken(void)
{
	int			i;

	for (i = 0; i < ntaken; i++)
	{
		BtAuditWaiter *w = taken_waiter(i);

		if (w != NULL)
		{
			w->state = BT_WAIT_FAILED;
			ConditionVariableSignal(&w->cv);
		}
	}
	ntaken = 0;
}

/* another database's queue waits for a writer slot; lock held */
static bool
other_queue_waits(void)
{
	int			i;

	for (i = 0; i < bt_audit_shared->nqueues; i++)
	{
		BtAuditQueue *oq = &bt_audit_shared->queues[i];

		if (i != writer_queue && oq->dboid != InvalidOid &&
			oq->wants_writer_since != 0 && oq->writer_state == BT_WRITER_NONE)
			return true;
	}
	return false;
}

/*
 * Wake the backends waiting in queues that want a writer: one of them
 * starts the writer of the queue that has waited longest, in the slot this
 * writer is about to free.  Lock not held.
 */
static void
wake_waiting_queues(void)
{
	int			i;

	LWLockAcquire(bt_audit_shared->lock, LW_SHARED);
	for (i = 0; i < bt_audit_shared->nwaiters; i++)
	{
		BtAuditWaiter *w = &bt_audit_shared->waiters[i];

		if (w->state == BT_WAIT_QUEUED && w->queue >= 0 &&
			w->queue < bt_audit_shared->nqueues &&
			bt_audit_shared->queues[w->queue].wants_writer_since != 0)
			ConditionVariableSignal(&w->cv);
	}
	LWLockRelease(bt_audit_shared->lock);
}

/*
 * Leaving, however: if the queue is still ours, give it up.  Waiters of a
 * batch in flight fail; waiters still queued are woken to start another
 * writer.  A before_shmem_exit callback, so also after FATAL.
 */
static void
writer_exit(int code, Datum arg)
{
	BtAuditQueue *q = &bt_audit_shared->queues[writer_queue];
	int			i;

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	if (q->writer_pid == MyProcPid)
	{
		q->writer_state = BT_WRITER_NONE;
		q->writer_pid = 0;
		q->leave = false;
		fail_taken();
		for (i = 0; i < bt_audit_shared->nwaiters; i++)
		{
			BtAuditWaiter *w = &bt_audit_shared->waiters[i];

			if (w->queue == writer_queue && w->state == BT_WAIT_QUEUED)
				ConditionVariableSignal(&w->cv);
		}
		if (q->nentries == 0)
			q->dboid = InvalidOid;
	}
	LWLockRelease(bt_audit_shared->lock);
	ConditionVariableBroadcast(&q->cv);
}

/*
 * Take every entry of the queue into local memory; lock held.  Entries
 * whose backend gave up waiting are dropped.
 */
static BtAuditEntry **
take_entries(BtAuditQueue *q, int *n)
{
	BtAuditEntry **entries = palloc(sizeof(BtAuditEntry *) * Max(q->nentries, 1));

	*n = 0;
	ntaken = 0;
	if (taken_size < q->nentries)
	{
		if (taken != NULL)
			pfree(taken);
		taken_size = Max(q->nentries, 1024);
		taken = MemoryContextAlloc(TopMemoryContext, sizeof(BtTaken) * taken_size);
	}
	while (q->tail < q->head)
	{
		uint64		pos = q->tail % bt_audit_shared->ring_bytes;
		BtAuditEntry *e;
		BtAuditWaiter *w;

		if (bt_audit_shared->ring_bytes - pos < sizeof(BtAuditEntry))
		{
			q->tail += bt_audit_shared->ring_bytes - pos;
			continue;
		}
		e = (BtAuditEntry *) (q->ring + pos);
		q->tail += e->len;
		if (e->flags & (BT_ENTRY_PAD | BT_ENTRY_WITHDRAWN))
			continue;
		if (e->procno >= 0)
		{
			w = &bt_audit_shared->waiters[e->procno];
			if (w->queue == writer_queue && w->seq == e->seq &&
				w->state == BT_WAIT_QUEUED)
				w->state = BT_WAIT_TAKEN;
		}
		entries[*n] = palloc(e->len);
		memcpy(entries[*n], e, e->len);
		taken[ntaken].procno = e->procno;
		taken[ntaken].seq = e->seq;
		ntaken++;
		(*n)++;
	}
	q->nentries = 0;
	return entries;
}

/*
 * The chain end last committed in database dboid, into *a and *xid: from
 * shared memory, or after a restart from the anchor file (audit_anchor.c),
 * which is then kept in shared memory.  *a is not valid if neither knows
 * one.  Lock not held.
 */
static void
known_chain_end(Oid dboid, BtAuditAnchor *a, TransactionId *xid)
{
	BtAuditDatabase *d;
	BtAuditAnchor fa;
	TransactionId fxid;

	memset(a, 0, sizeof(*a));
	*xid = InvalidTransactionId;
	LWLockAcquire(bt_audit_shared->lock, LW_SHARED);
	d = bt_audit_database(dboid, false);
	if (d != NULL && d->anchor.valid)
	{
		*a = d->anchor;
		*xid = d->anchor_xid;
	}
	LWLockRelease(bt_audit_shared->lock);
	if (a->valid || !bt_audit_anchor_load(dboid, &fa, &fxid))
		return;

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	d = bt_audit_database(dboid, true);
	if (d != NULL && !d->anchor.valid)
	{
		d->anchor = fa;
		d->anchor_xid = fxid;
	}
	if (d != NULL)
	{
		*a = d->anchor;
		*xid = d->anchor_xid;
	}
	else
	{
		*a = fa;
		*xid = fxid;
	}
	LWLockRelease(bt_audit_shared->lock);
}

/*
 * One batch: take the queue, append it in one transaction, flush the
 * commit, report to the waiters.  Throws on failure (the caller cleans
 * up and fails the batch's waiters).
 *
 * Memory: what is read after the commit (the rows' ids and hashes) lives
 * in the caller's context, the loop context; the transaction's contexts
 * are gone once CommitTransactionCommand returns.
 */
static void
write_batch(void)
{
	BtAuditQueue *q = &bt_audit_shared->queues[writer_queue];
	MemoryContext batch_cxt = CurrentMemoryContext;
	BtAuditDatabase *d;
	BtAuditEntry **entries;
	BtAuditAnchor known;
	BtAuditAnchor *results;
	BtAuditAnchor end;
	TransactionId xid;
	TransactionId known_xid;
	Oid			relid;
	Oid			owner;
	int			n;
	int			i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "biotoken: writing access-log records");

	/*
	 * Lock the table before taking the records: while someone else holds it
	 * (a LOCK TABLE, an ALTER), records stay in the queue, where a backend
	 * that stops waiting can still withdraw its own.  The table is the
	 * extension's member, found again for every batch.
	 */
	relid = bt_audit_log_find(&owner);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken is not installed in database \"%s\"",
						get_database_name(MyDatabaseId)),
				 errdetail("The access-log records queued for it cannot be written.")));
	LockRelationOid(relid, RowExclusiveLock);
	PushActiveSnapshot(GetTransactionSnapshot());

	/* after a restart, the end the anchor file remembers */
	known_chain_end(MyDatabaseId, &known, &known_xid);

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	entries = take_entries(q, &n);
	d = bt_audit_database(MyDatabaseId, true);
	if (d != NULL)
	{
		if (d->anchor.valid)
			known = d->anchor;
		d->last_used = GetCurrentTimestamp();
	}
	LWLockRelease(bt_audit_shared->lock);
	ConditionVariableBroadcast(&q->cv);

	results = MemoryContextAllocZero(batch_cxt,
									 sizeof(BtAuditAnchor) * Max(n, 1));
	memset(&end, 0, sizeof(end));
	if (n > 0)
		bt_audit_chain_append(relid, owner, entries, n, &known,
							  bt_audit_checkpoint_rows, results, &end);
	xid = GetTopTransactionIdIfAny();
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* durable before anyone is told, whatever synchronous_commit says */
	XLogFlush(XactLastCommitEnd);

	/* and the new end of the chain, durable outside the table */
	if (n > 0)
		bt_audit_anchor_save(MyDatabaseId, &end, xid);

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	d = bt_audit_database(MyDatabaseId, true);
	if (d != NULL && n > 0)
	{
		d->anchor = end;
		d->anchor_xid = xid;
	}
	for (i = 0; i < ntaken; i++)
	{
		BtAuditWaiter *w = taken_waiter(i);

		if (w != NULL)
		{
			w->state = BT_WAIT_DONE;
			w->log_id = results[i].id;
			memcpy(w->row_hash, results[i].hash, BT_HMAC_BYTES);
			ConditionVariableSignal(&w->cv);
		}
	}
	ntaken = 0;
	LWLockRelease(bt_audit_shared->lock);

	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * bt_audit_worker_launch
 *		Register a writer for queue "queue" of database dboid.  False if
 *		the server has no free background worker slot.
 */
bool
bt_audit_worker_launch(int queue, uint32 generation, Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "biotoken");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "bt_audit_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "biotoken access log writer for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "biotoken access log writer");
	worker.bgw_main_arg = Int32GetDatum(queue);
	memcpy(worker.bgw_extra, &dboid, sizeof(Oid));
	memcpy(worker.bgw_extra + sizeof(Oid), &generation, sizeof(uint32));
	worker.bgw_notify_pid = 0;

	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/*
 * bt_audit_worker_main
 *		Entry point of the writer; main_arg is its queue.
 */
void
bt_audit_worker_main(Datum main_arg)
{
	BtAuditQueue *q;
	Oid			dboid;
	uint32		generation;
	bool		attached = false;
	MemoryContext loop_cxt;
	TimestampTz last_work;
	TimestampTz turn_start;

	memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	memcpy(&generation, MyBgworkerEntry->bgw_extra + sizeof(Oid), sizeof(uint32));
	writer_queue = DatumGetInt32(main_arg);
	bt_audit_am_writer = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	if (writer_queue < 0 || writer_queue >= bt_audit_shared->nqueues || bt_audit_shared == NULL)
		proc_exit(0);
	q = &bt_audit_shared->queues[writer_queue];

	/* only the latest launch for this queue and database may attach */
	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	if (q->dboid == dboid && q->generation == generation &&
		q->writer_state == BT_WRITER_STARTING)
	{
		q->writer_state = BT_WRITER_RUNNING;
		q->writer_pid = MyProcPid;
		q->writer_procno = BT_MY_PROCNO;
		q->wants_writer_since = 0;
		attached = true;
	}
	LWLockRelease(bt_audit_shared->lock);
	if (!attached)
		proc_exit(0);
	before_shmem_exit(writer_exit, (Datum) 0);

	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("biotoken access log writer");

	/*
	 * The database's owner may ALTER DATABASE ... SET anything: none of it
	 * may steer the writer.  It resolves no names, but pin the path anyway,
	 * and the settings that could make its transactions fail.
	 */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);

	/*
	 * A batch can hold a thousand records: keep a large first block across
	 * resets, so that a busy writer does not map and fault in fresh memory
	 * for every batch.
	 */
	loop_cxt = AllocSetContextCreate(TopMemoryContext,
									 "biotoken access log writer",
									 ALLOCSET_DEFAULT_MINSIZE,
									 1024 * 1024,
									 8 * 1024 * 1024);
	last_work = GetCurrentTimestamp();
	turn_start = last_work;

	for (;;)
	{
		int			nentries;
		bool		leave;
		bool		others_wait;
		long		idle_left;

		MemoryContextReset(loop_cxt);
		MemoryContextSwitchTo(loop_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		idle_left = BT_AUDIT_WORKER_IDLE_MS -
			TimestampDifferenceMilliseconds(last_work, GetCurrentTimestamp());

		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		nentries = q->nentries;
		leave = q->leave;
		others_wait = other_queue_waits();
		if (nentries == 0 && (leave || idle_left <= 0 || others_wait))
		{
			/* nothing to write and not wanted: give the queue up and go */
			q->writer_state = BT_WRITER_NONE;
			q->writer_pid = 0;
			q->leave = false;
			q->dboid = InvalidOid;
			LWLockRelease(bt_audit_shared->lock);
			ConditionVariableBroadcast(&q->cv);
			proc_exit(0);
		}
		if (nentries > 0 && others_wait &&
			TimestampDifferenceExceeds(turn_start, GetCurrentTimestamp(),
									   BT_AUDIT_WRITER_TURN_MS))
		{
			/*
			 * Our turn is over and another database waits for a writer: go
			 * to the back of the line with what is still queued here; the
			 * slot goes to the queue that has waited longest (audit.c's
			 * ensure_writer, run by the backends writer_exit wakes).
			 */
			q->writer_state = BT_WRITER_NONE;
			q->writer_pid = 0;
			q->wants_writer_since = GetCurrentTimestamp();
			LWLockRelease(bt_audit_shared->lock);
			ConditionVariableBroadcast(&q->cv);
			wake_waiting_queues();
			proc_exit(0);
		}
		LWLockRelease(bt_audit_shared->lock);

		if (nentries > 0)
		{
			PG_TRY();
			{
				write_batch();
			}
			PG_CATCH();
			{
				/*
				 * The batch is lost: its backends refuse their statements.
				 * Report, clean up the transaction and go on with the next
				 * batch, as the autovacuum launcher does after an error.
				 */
				MemoryContextSwitchTo(loop_cxt);
				EmitErrorReport();
				FlushErrorState();
				AbortCurrentTransaction();
				LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);

				/*
				 * Failed before taking anything (the table is gone, say):
				 * take the records now, or they would be retried forever.
				 */
				if (ntaken == 0)
					(void) take_entries(q, &nentries);
				fail_taken();
				LWLockRelease(bt_audit_shared->lock);
				ConditionVariableBroadcast(&q->cv);
				pgstat_report_activity(STATE_IDLE, NULL);
				/* do not spin on a persistent failure */
				pg_usleep(100000L);
			}
			PG_END_TRY();
			last_work = GetCurrentTimestamp();
			continue;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(idle_left, 1), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}


/* ----------------------------------------------------------------
 * SQL-callable functions
 * ----------------------------------------------------------------
 */

/*
 * SQL: biotoken.access_log_append_only() -> trigger
 *
 * BEFORE INSERT, UPDATE, DELETE (rows) and TRUNCATE on biotoken.access_log
 * (enabled ALWAYS, so session_replication_role = replica does not skip
 * it): nobody changes the log, its owner and superusers included; rows come
 * only from bt_audit_chain_append, which fires no trigger.
 */
Datum
biotoken_access_log_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "biotoken_access_log_append_only: not called as a trigger");
	(void) trigdata;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the access log cannot be changed"),
			 errdetail("Rows of biotoken.access_log are written only by biotoken, and are never updated or deleted."),
			 errhint("Auditors read the log and check it with biotoken.verify_access_log().")));
	PG_RETURN_NULL();
}

/* the first break found: its id and why (a static string) */
static void
note_break(int64 *first_broken, const char **reason, int64 id, const char *why)
{
	if (*first_broken != 0)
		return;
	*first_broken = id;
	*reason = why;
}

/* what one verification found */
typedef struct BtVerifyResult
{
	int64		rows;			/* rows checked */
	int64		first_broken;	/* 0: none */
	const char *reason;
	int64		start_id;		/* the row it started from */
	int64		next_id;		/* where to go on, 0 if it reached the end */
} BtVerifyResult;

/* the row's event is "name" */
static bool
event_is(const Datum *values, const bool *nulls, const char *name)
{
	text	   *ev;

	if (nulls[COL_EVENT])
		return false;
	ev = DatumGetTextPP(values[COL_EVENT]);
	return VARSIZE_ANY_EXHDR(ev) == strlen(name) &&
		memcmp(VARDATA_ANY(ev), name, strlen(name)) == 0;
}

/*
 * A row an incremental verification may start from: a signed checkpoint or
 * a prune row (its row_hash vouches for the chain head in its prev_hash).
 */
static bool
is_chain_start(const Datum *values, const bool *nulls)
{
	return event_is(values, nulls, "checkpoint") ||
		event_is(values, nulls, "prune");
}

/*
 * The id a verification asked to start at from_id begins with: the last
 * checkpoint or prune row at or before from_id (its prev_hash is the chain
 * head it vouches for, under its own row_hash), else the first row.
 * 0 if the log is empty.  Reads at most one checkpoint interval.
 */
static int64
verify_start(Relation rel, Relation idx, Snapshot snapshot, int64 from_id,
			 bool *at_checkpoint)
{
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	int64		start = 0;

	*at_checkpoint = false;
	ScanKeyInit(&key, COL_ID + 1, BTLessEqualStrategyNumber, F_INT8LE,
				Int64GetDatum(from_id));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, BackwardScanDirection)))
	{
		Datum		values[NCOLS];
		bool		nulls[NCOLS];

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		start = DatumGetInt64(values[COL_ID]);
		*at_checkpoint = is_chain_start(values, nulls);
		if (*at_checkpoint)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	systable_endscan_ordered(scan);
	return start;
}

/*
 * A signed prune record says the rows before first_id were archived and
 * removed, and that the last of them had row_hash prev (the prev_hash of
 * row first_id).  Prune records are found through the partial index
 * access_log_prunes (an untrusted locator: each record found is checked
 * against its own row_hash here), so a log that starts after row 1 costs
 * one small index scan to accept.
 */
static bool
prune_vouches(Relation rel, Snapshot snapshot, int64 first_id, bytea *prev)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			pruneidx = InvalidOid;
	bool		vouched = false;
	char		head[BT_HMAC_BYTES * 2 + 1];
	char		want[128];
	int			i;

	if (VARSIZE_ANY_EXHDR(prev) != BT_HMAC_BYTES)
		return false;
	for (i = 0; i < BT_HMAC_BYTES; i++)
		snprintf(head + 2 * i, 3, "%02x", ((uint8 *) VARDATA_ANY(prev))[i]);
	foreach(lc, indexes)
	{
		char	   *name = get_rel_name(lfirst_oid(lc));

		if (name != NULL && strcmp(name, "access_log_prunes") == 0)
			pruneidx = lfirst_oid(lc);
	}
	list_free(indexes);
	if (!OidIsValid(pruneidx))
		return false;

	snprintf(want, sizeof(want), INT64_FORMAT, first_id - 1);
	{
		Relation	idx = index_open(pruneidx, AccessShareLock);
		SysScanDesc scan = systable_beginscan_ordered(rel, idx, snapshot, 0, NULL);
		HeapTuple	tup;

		while (!vouched &&
			   HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
		{
			Datum		values[NCOLS];
			bool		nulls[NCOLS];
			uint8		mac[BT_HMAC_BYTES];
			Jsonb	   *jb;
			JsonbValue *jv;
			char	   *to;

			heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
			if (!event_is(values, nulls, "prune") || nulls[COL_DETAIL] ||
				nulls[COL_ROW_HASH] || !row_mac(values, nulls, mac) ||
				VARSIZE_ANY_EXHDR(DatumGetPointer(values[COL_ROW_HASH])) != BT_HMAC_BYTES ||
				CRYPTO_memcmp(VARDATA_ANY(DatumGetPointer(values[COL_ROW_HASH])),
							  mac, BT_HMAC_BYTES) != 0)
				continue;
			jb = DatumGetJsonbP(values[COL_DETAIL]);
			jv = getKeyJsonValueFromContainer(&jb->root, "head", 4, NULL);
			if (jv == NULL || jv->type != jbvString ||
				jv->val.string.len != BT_HMAC_BYTES * 2 ||
				memcmp(jv->val.string.val, head, BT_HMAC_BYTES * 2) != 0)
				continue;
			jv = getKeyJsonValueFromContainer(&jb->root, "removed_to", 10, NULL);
			if (jv == NULL || jv->type != jbvNumeric)
				continue;
			to = DatumGetCString(DirectFunctionCall1(numeric_out,
													 NumericGetDatum(jv->val.numeric)));
			if (strcmp(to, want) == 0)
				vouched = true;
		}
		systable_endscan_ordered(scan);
		index_close(idx, AccessShareLock);
	}
	return vouched;
}

/*
 * Recompute the chain of the log rel, in id order as snapshot sees it,
 * from row start_id (0: the first row) for at most max_rows rows at or
 * after count_from (0: all; the rows between a checkpoint and the id asked
 * for are checked but not counted, so that a chunk always gets further).
 * The first row's prev_hash is taken as given: it is a checkpoint or prune
 * row (whose own row_hash vouches for it), row 1, or the first row of the
 * log.  A row breaks the chain if its id does not follow the previous one
 * (rows removed before it), its prev_hash is not the previous row's
 * row_hash, its key is not loaded, or its row_hash is not the HMAC of its
 * content.  If the scan reaches the end, the end of the chain the writer
 * last committed (anchor, if valid) must be there: rows removed from the
 * end are reported at the id of the first missing row.
 */
static void
verify_range(Relation rel, Snapshot snapshot, int64 start_id, int64 count_from,
			 int64 max_rows, const BtAuditAnchor *anchor, BtVerifyResult *res)
{
	Relation	idx = index_open(rel->rd_pkindex, AccessShareLock);
	SysScanDesc scan;
	HeapTuple	tup;
	ScanKeyData key;
	MemoryContext rowcxt;
	MemoryContext oldcxt;
	int64		last_id = 0;
	uint8		last_hash[BT_HMAC_BYTES];
	bool		anchor_seen = false;
	bool		first = true;
	int64		counted = 0;

	memset(res, 0, sizeof(*res));
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "biotoken verify row",
								   ALLOCSET_DEFAULT_SIZES);
	ScanKeyInit(&key, COL_ID + 1, BTGreaterEqualStrategyNumber, F_INT8GE,
				Int64GetDatum(start_id));
	scan = systable_beginscan_ordered(rel, idx, snapshot, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		Datum		values[NCOLS];
		bool		nulls[NCOLS];
		uint8		mac[BT_HMAC_BYTES];
		int64		id;
		bytea	   *h;

		oldcxt = MemoryContextSwitchTo(rowcxt);
		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		id = DatumGetInt64(values[COL_ID]);
		if (max_rows > 0 && counted >= max_rows)
		{
			/* the chunk is full: say where the next one starts */
			res->next_id = id;
			MemoryContextSwitchTo(oldcxt);
			break;
		}
		res->rows++;
		if (id >= count_from)
			counted++;

		if (first)
		{
			res->start_id = id;
			/* only row 1 has no previous row */
			if (id == 1 && !nulls[COL_PREV_HASH])
				note_break(&res->first_broken, &res->reason, id,
						   "prev_hash is not the previous row's row_hash: rows were removed, inserted or reordered");
			/* only archive-and-prune may remove the head of the log */
			if (id != 1 && start_id <= 1 &&
				(nulls[COL_PREV_HASH] ||
				 !prune_vouches(rel, snapshot, id,
								DatumGetByteaPP(values[COL_PREV_HASH]))))
				note_break(&res->first_broken, &res->reason, id,
						   "the log does not start at row 1: rows before this one were removed, and no prune record accounts for them");
		}
		else
		{
			if (id != last_id + 1)
				note_break(&res->first_broken, &res->reason, id,
						   "rows before this one were removed (its id does not follow the previous row's)");
			if (nulls[COL_PREV_HASH] ||
				VARSIZE_ANY_EXHDR(DatumGetPointer(values[COL_PREV_HASH])) != BT_HMAC_BYTES ||
				memcmp(VARDATA_ANY(DatumGetPointer(values[COL_PREV_HASH])),
					   last_hash, BT_HMAC_BYTES) != 0)
				note_break(&res->first_broken, &res->reason, id,
						   "prev_hash is not the previous row's row_hash: rows were removed, inserted or reordered");
		}
		/*
		 * A different key under the row's key id (a wrong key file, a
		 * restore onto a server with other keys) is a clear error, never a
		 * false "changed or forged" (catalog.c's key check values).
		 */
		if (!nulls[COL_KEY_ID])
			bt_catalog_check_key(bt_keys_get(DatumGetInt32(values[COL_KEY_ID])));
		if (!row_mac(values, nulls, mac))
			note_break(&res->first_broken, &res->reason, id,
					   "the key that made this row is not loaded");
		else if (nulls[COL_ROW_HASH] ||
				 VARSIZE_ANY_EXHDR(DatumGetPointer(values[COL_ROW_HASH])) != BT_HMAC_BYTES ||
				 CRYPTO_memcmp(VARDATA_ANY(DatumGetPointer(values[COL_ROW_HASH])),
							   mac, BT_HMAC_BYTES) != 0)
			note_break(&res->first_broken, &res->reason, id,
					   "row_hash does not match the row: the row was changed or forged");

		if (anchor->valid && id == anchor->id)
		{
			anchor_seen = true;
			h = nulls[COL_ROW_HASH] ? NULL : DatumGetByteaPP(values[COL_ROW_HASH]);
			if (h == NULL || VARSIZE_ANY_EXHDR(h) != BT_HMAC_BYTES ||
				memcmp(VARDATA_ANY(h), anchor->hash, BT_HMAC_BYTES) != 0)
				note_break(&res->first_broken, &res->reason, id,
						   "this row is not the one the writer committed with this id");
		}

		first = false;
		last_id = id;
		if (!nulls[COL_ROW_HASH] &&
			VARSIZE_ANY_EXHDR(DatumGetPointer(values[COL_ROW_HASH])) == BT_HMAC_BYTES)
			memcpy(last_hash, VARDATA_ANY(DatumGetPointer(values[COL_ROW_HASH])),
				   BT_HMAC_BYTES);
		else
			memset(last_hash, 0, BT_HMAC_BYTES);
		MemoryContextSwitchTo(oldcxt);
		MemoryContextReset(rowcxt);
		CHECK_FOR_INTERRUPTS();
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	MemoryContextDelete(rowcxt);

	if (res->next_id == 0 && anchor->valid && !anchor_seen && anchor->id > last_id)
		note_break(&res->first_broken, &res->reason, last_id + 1,
				   "rows at the end of the log were removed: the writer committed rows up to a higher id");
}

/*
 * Open the access log for verification by the current user: found as the
 * extension's member, SELECT privilege required, layout checked.  *anchor
 * is the chain end the writer last committed, if the calling statement's
 * snapshot can judge by it.
 */
static Relation
verify_open(BtAuditAnchor *anchor)
{
	Oid			relid;
	AclResult	aclresult;
	TransactionId anchor_xid;
	Relation	rel;

	relid = bt_audit_log_find(NULL);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken has no access log in this database")));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));
	rel = table_open(relid, AccessShareLock);
	check_log_relation(rel);

	/* the end the writer last committed, also across restarts */
	known_chain_end(MyDatabaseId, anchor, &anchor_xid);
	if (anchor->valid && anchor->relid != relid)
		anchor->valid = false;
	/* an anchor committed after the snapshot was taken proves nothing */
	if (anchor->valid &&
		(!TransactionIdIsValid(anchor_xid) ||
		 XidInMVCCSnapshot(anchor_xid, GetActiveSnapshot())))
		anchor->valid = false;
	return rel;
}

static Datum
verify_result(FunctionCallInfo fcinfo, const BtVerifyResult *res, bool chunked)
{
	TupleDesc	tupdesc;
	Datum		result[6];
	bool		rnulls[6];

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	memset(rnulls, false, sizeof(rnulls));
	result[0] = BoolGetDatum(res->first_broken == 0);
	result[1] = Int64GetDatum(res->rows);
	if (res->first_broken != 0)
	{
		result[2] = Int64GetDatum(res->first_broken);
		result[3] = CStringGetTextDatum(res->reason);
	}
	else
		rnulls[2] = rnulls[3] = true;
	if (chunked)
	{
		result[4] = Int64GetDatum(res->start_id);
		rnulls[4] = (res->start_id == 0);
		result[5] = Int64GetDatum(res->next_id);
		rnulls[5] = (res->next_id == 0);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, result, rnulls)));
}

/*
 * SQL: biotoken.verify_access_log(OUT valid boolean, OUT rows_checked bigint,
 *		OUT first_broken_id bigint, OUT reason text)
 *
 * The whole log, from its first row, in the calling statement's snapshot
 * (see verify_range).  A log pruned by archive-and-prune starts at its
 * prune row.
 */
Datum
biotoken_verify_access_log(PG_FUNCTION_ARGS)
{
	BtAuditAnchor anchor;
	BtVerifyResult res;
	Relation	rel;

	bt_require_preloaded();
	rel = verify_open(&anchor);
	verify_range(rel, GetActiveSnapshot(), 0, 0, 0, &anchor, &res);
	table_close(rel, AccessShareLock);
	return verify_result(fcinfo, &res, false);
}

/*
 * SQL: biotoken.verify_access_log(from_id bigint, max_rows bigint DEFAULT 1000000,
 *		OUT valid boolean, OUT rows_checked bigint, OUT first_broken_id bigint,
 *		OUT reason text, OUT start_id bigint, OUT next_id bigint)
 *
 * Incremental verification, in bounded chunks: from the last signed
 * checkpoint (or prune) row at or before from_id, up to max_rows rows from
 * from_id on (those between the checkpoint and from_id are checked too).
 * next_id is where the next call goes on (NULL: the end was reached and
 * checked against the writer's anchor).  Each call is one statement with
 * its own snapshot, so a loop of calls in separate transactions holds
 * nothing back for long.
 */
Datum
biotoken_verify_access_log_from(PG_FUNCTION_ARGS)
{
	int64		from_id = PG_GETARG_INT64(0);
	int64		max_rows = PG_GETARG_INT64(1);
	BtAuditAnchor anchor;
	BtVerifyResult res;
	Relation	rel;
	Relation	idx;
	int64		start;
	bool		at_checkpoint;

	bt_require_preloaded();
	if (max_rows < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_rows must be at least 1")));
	rel = verify_open(&anchor);
	idx = index_open(rel->rd_pkindex, AccessShareLock);
	start = verify_start(rel, idx, GetActiveSnapshot(), from_id, &at_checkpoint);
	index_close(idx, AccessShareLock);
	/* no checkpoint before from_id: from the log's first row, judged as such */
	if (!at_checkpoint)
		start = 0;
	verify_range(rel, GetActiveSnapshot(), start, from_id, max_rows, &anchor, &res);
	table_close(rel, AccessShareLock);
	return verify_result(fcinfo, &res, true);
}

/*
 * SQL: biotoken.prune_access_log(before_id bigint) -> bigint
 *
 * Retention: remove the rows before before_id (export them first; README
 * says how), leaving a signed 'prune' record that names the removed range
 * and the row_hash of its last row, the head the remaining log chains to.
 * verify_access_log() then accepts a log that starts at before_id.  Only
 * biotoken_admin members; the range must verify first (a broken range is
 * evidence and stays); row before_id must exist.  The prune record is
 * committed before the rows go (it is the record of the act); the rows go
 * in the caller's transaction.  Returns the number of rows removed.
 */
Datum
biotoken_prune_access_log(PG_FUNCTION_ARGS)
{
	int64		before_id = PG_GETARG_INT64(0);
	Oid			admin = get_role_oid("biotoken_admin", false);
	BtAuditAnchor noanchor;
	BtVerifyResult res;
	BtAuditRecord rec;
	Relation	rel;
	Relation	idx;
	SysScanDesc scan;
	HeapTuple	tup;
	ScanKeyData key;
	Oid			relid;
	int64		first = 0;
	int64		removed = 0;
	char		head[BT_HMAC_BYTES * 2 + 1];
	bool		have_head = false;
	int			i;

	bt_require_preloaded();
	if (!has_privs_of_role(GetUserId(), admin))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to prune the access log"),
				 errdetail("Only members of biotoken_admin may prune the access log.")));
	relid = bt_audit_log_find(NULL);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken has no access log in this database")));
	rel = table_open(relid, RowExclusiveLock);
	check_log_relation(rel);

	/* the range to remove must verify, and row before_id must exist */
	memset(&noanchor, 0, sizeof(noanchor));
	idx = index_open(rel->rd_pkindex, AccessShareLock);
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 0, NULL);
	tup = systable_getnext_ordered(scan, ForwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;

		first = DatumGetInt64(heap_getattr(tup, COL_ID + 1, RelationGetDescr(rel), &isnull));
	}
	systable_endscan_ordered(scan);
	if (first == 0 || before_id <= first)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no access-log rows lie before row " INT64_FORMAT, before_id)));
	verify_range(rel, GetActiveSnapshot(), 0, 0, before_id - first, &noanchor, &res);
	if (res.first_broken != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the access log does not verify at row " INT64_FORMAT, res.first_broken),
				 errdetail("%s", res.reason),
				 errhint("A broken log is evidence: it is not pruned.")));
	if (res.next_id != before_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("row " INT64_FORMAT " of the access log does not exist", before_id),
				 errdetail("The log keeps at least the row it is pruned to.")));

	ScanKeyInit(&key, COL_ID + 1, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(before_id - 1));
	scan = systable_beginscan_ordered(rel, idx, GetActiveSnapshot(), 1, &key);
	tup = systable_getnext_ordered(scan, ForwardScanDirection);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		h = heap_getattr(tup, COL_ROW_HASH + 1, RelationGetDescr(rel), &isnull);

		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetPointer(h)) == BT_HMAC_BYTES)
		{
			for (i = 0; i < BT_HMAC_BYTES; i++)
				snprintf(head + 2 * i, 3, "%02x",
						 ((uint8 *) VARDATA_ANY(DatumGetPointer(h)))[i]);
			have_head = true;
		}
	}
	systable_endscan_ordered(scan);
	if (!have_head)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("row " INT64_FORMAT " of the access log has no row hash", before_id - 1),
				 errhint("Run biotoken.verify_access_log() to find where the chain breaks; nothing was pruned.")));

	/* the record of the act, committed first */
	memset(&rec, 0, sizeof(rec));
	rec.event = BT_EVENT_PRUNE;
	rec.detail = psprintf("{\"removed_from\": " INT64_FORMAT ", \"removed_to\": " INT64_FORMAT
						  ", \"rows\": " INT64_FORMAT ", \"head\": \"%s\"}",
						  first, before_id - 1, res.rows, head);
	bt_audit_write(&rec);

	/* then the rows; no trigger fires (this is the one path that deletes) */
	ScanKeyInit(&key, COL_ID + 1, BTLessStrategyNumber, F_INT8LT,
				Int64GetDatum(before_id));
	scan = systable_beginscan_ordered(rel, idx, GetLatestSnapshot(), 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext_ordered(scan, ForwardScanDirection)))
	{
		simple_heap_delete(rel, &tup->t_self);
		removed++;
		CHECK_FOR_INTERRUPTS();
	}
	systable_endscan_ordered(scan);
	index_close(idx, AccessShareLock);
	table_close(rel, NoLock);
	PG_RETURN_INT64(removed);
}
