/*-------------------------------------------------------------------------
 *
 * audit_probe.c
 *	  Test-only SQL functions that write access-log records through
 *	  biotoken's C API, as the guard, grants and labels code does.
 *
 * Loaded by absolute path from the cluster tests; never part of the
 * extension.  Creating the functions needs a superuser.
 *
 * IDENTIFICATION
 *	  tests/audit_probe/audit_probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "audit.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(audit_probe_write);
PG_FUNCTION_INFO_V1(audit_probe_refuse);
PG_FUNCTION_INFO_V1(audit_probe_read);

static List *
text_array_to_list(ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *out = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			out = lappend(out, TextDatumGetCString(elems[i]));
	return out;
}

static BtAuditEvent
event_from_name(const char *name)
{
	int			e;

	for (e = BT_EVENT_REFUSED; e <= BT_EVENT_LAST; e++)
		if (strcmp(bt_audit_event_name((BtAuditEvent) e), name) == 0)
			return (BtAuditEvent) e;
	elog(ERROR, "unknown event \"%s\"", name);
	return BT_EVENT_REFUSED;
}

static void
fill(BtAuditRecord *rec, FunctionCallInfo fcinfo, int first)
{
	rec->grant_id = PG_ARGISNULL(first) ? 0 : PG_GETARG_INT64(first);
	rec->categories = PG_ARGISNULL(first + 1) ? 0 : PG_GETARG_INT32(first + 1);
	rec->columns = PG_ARGISNULL(first + 2) ? NIL :
		text_array_to_list(PG_GETARG_ARRAYTYPE_P(first + 2));
	rec->detail = PG_ARGISNULL(first + 3) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(first + 3));
}

/* audit_probe_write(event text, grant_id bigint, categories int, columns text[], detail text) */
Datum
audit_probe_write(PG_FUNCTION_ARGS)
{
	BtAuditRecord rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = event_from_name(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	fill(&rec, fcinfo, 1);
	bt_audit_write(&rec);
	PG_RETURN_VOID();
}

/*
 * audit_probe_refuse(grant_id bigint, categories int, columns text[], detail text)
 * Writes a 'refused' record and then refuses, as the guard does.
 */
Datum
audit_probe_refuse(PG_FUNCTION_ARGS)
{
	BtAuditRecord rec;

	memset(&rec, 0, sizeof(rec));
	rec.event = BT_EVENT_REFUSED;
	fill(&rec, fcinfo, 0);
	bt_audit_write(&rec);
	/* as the guard must: the statement may hold literals, keep it out */
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("audit probe refused the statement"),
			 errhidestmt(true)));
	PG_RETURN_VOID();
}

/* audit_probe_read(columns text[]): bt_audit_note_read */
Datum
audit_probe_read(PG_FUNCTION_ARGS)
{
	bt_audit_note_read(text_array_to_list(PG_GETARG_ARRAYTYPE_P(0)));
	PG_RETURN_VOID();
}
