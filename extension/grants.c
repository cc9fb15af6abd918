/*-------------------------------------------------------------------------
 *
 * grants.c
 *	  Audit grants: biotoken.grant_audit, biotoken.revoke_audit and the
 *	  lookup the guard makes when a statement combines categories.
 *
 * Grants are rows of biotoken.audit_grants, a table only the extension
 * owner can write; the SQL functions are SECURITY DEFINER and act for the
 * session user, never the current user, so neither SET ROLE nor a
 * SECURITY DEFINER function can give or use a grant on someone else's
 * behalf.  Role membership is always tested with is_member_of_role_nosuper:
 * a superuser belongs only to the roles it was granted.
 *
 * One person, several roles.  A grantor who can act as the grantee is the
 * grantee: a role with CREATEROLE can set the password of (on PostgreSQL
 * 15) any role that is not a superuser, a role with ADMIN OPTION on the
 * grantee can make itself a member.  Such grants are refused, and logged.
 * A login who can act as the grantor (a superuser who gave a grant and then
 * SET SESSION AUTHORIZATION to the grantee, or a member of the grantor's
 * role) cannot use it: the guard sees no covering grant and refuses.
 *
 * The guard's lookup (bt_grants_find_covering) runs only on its rare path,
 * when a statement actually combines categories.  It scans the table
 * directly under a fresh snapshot, without SPI, so the guard's executor
 * hooks are not re-entered, and re-checks expiry, revocation and every
 * membership on each call: a grant is never cached.
 *
 * Memory: everything is allocated in the caller's context.
 *
 * IDENTIFICATION
 *	  extension/grants.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "biotoken.h"
#include "catalog.h"
#include "grants.h"
#include "guc.h"

PG_FUNCTION_INFO_V1(biotoken_grant_audit);
PG_FUNCTION_INFO_V1(biotoken_revoke_audit);
PG_FUNCTION_INFO_V1(biotoken_grant_is_visible);

/* The columns of biotoken.audit_grants, as biotoken--1.0.sql creates them */
#define Anum_grant_id		1
#define Anum_grantee		2
#define Anum_grantor		3
#define Anum_purpose		4
#define Anum_granted_at		5
#define Anum_expires_at		6
#define Anum_relations		7
#define Anum_revoked_at		8
#define Anum_revoked_by		9
#define Natts_audit_grants	9

#define BT_ADMIN_ROLE		"biotoken_admin"
#define BT_AUDITOR_ROLE		"biotoken_auditor"

/* whether the session user is a member of the named role (no superuser) */
static bool
session_is_member_of(const char *rolname)
{
	Oid			role = get_role_oid(rolname, true);

	return OidIsValid(role) &&
		is_member_of_role_nosuper(GetSessionUserId(), role);
}

/*
 * Throw 42501 unless the session user belongs to biotoken_admin.
 * "action" completes "permission denied to ...".
 */
static void
require_admin(const char *action)
{
	if (!session_is_member_of(BT_ADMIN_ROLE))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s", action),
				 errdetail("Only members of \"%s\" may give or revoke audit grants.",
						   BT_ADMIN_ROLE)));
}

/* Whether a role has the CREATEROLE attribute itself (not as superuser). */
static bool
has_createrole_attribute(Oid roleid)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	bool		result = false;

	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreaterole;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * Whether grantor can make itself grantee without anyone else: set its
 * password (CREATEROLE over a role that is not a superuser) or join it
 * (ADMIN OPTION on it).  A superuser grantor is judged when the grant is
 * used, by who logged in.
 */
static bool
can_become(Oid grantor, Oid grantee)
{
	if (superuser_arg(grantor))
		return false;
	if (has_createrole_attribute(grantor) && !superuser_arg(grantee))
		return true;
	return is_admin_of_role(grantor, grantee);
}

/*
 * Whether grantor to grantee is void under the two-person
 * rule: the grantor is the grantee or belongs to it.  Checked when a grant
 * is given and again every time it is used.
 */
static bool
grant_is_void(Oid grantor, Oid grantee)
{
	return grantor == grantee || is_member_of_role_nosuper(grantor, grantee) ||
		can_become(grantor, grantee);
}

/*
 * the OID of biotoken.audit_grants, or InvalidOid without the extension;
 * found by extension membership (catalog.c), never by name
 */
static Oid
grants_table_oid(void)
{
	return bt_catalog_relid(BT_CATALOG_AUDIT_GRANTS);
}

/* append s to buf as a JSON string, or null */
static void
append_json_text(StringInfo buf, const char *s)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, s);
}

/*
 * The detail of a grant or revoke record: a JSON object with the grantee,
 * the purpose, the expiry and the relations (null: all).
 */
static char *
grant_detail_json(Oid grantee, const char *purpose, TimestampTz expires_at,
				  ArrayType *relations)
{
	StringInfoData buf;
	char		tsbuf[MAXDATELEN + 1];
	int			utc = 0;		/* the log speaks UTC, whatever the session's TimeZone */

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"grantee\": ");
	append_json_text(&buf, GetUserNameFromId(grantee, true));
	appendStringInfoString(&buf, ", \"purpose\": ");
	append_json_text(&buf, purpose);
	appendStringInfo(&buf, ", \"expires_at\": \"%s\"",
					 JsonEncodeDateTime(tsbuf, TimestampTzGetDatum(expires_at),
										TIMESTAMPTZOID, &utc));
	appendStringInfoString(&buf, ", \"relations\": ");
	if (relations == NULL)
		appendStringInfoString(&buf, "null");
	else
	{
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int			i;

		deconstruct_array(relations, ARR_ELEMTYPE(relations), sizeof(Oid), true, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
		appendStringInfoChar(&buf, '[');
		for (i = 0; i < nelems; i++)
		{
			Oid			relid = DatumGetObjectId(elems[i]);
			char	   *relname = get_rel_name(relid);

			if (i > 0)
				appendStringInfoString(&buf, ", ");
			if (relname == NULL)
				appendStringInfo(&buf, "\"%u\"", relid);
			else
				append_json_text(&buf,
								 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
															relname));
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Check the relations argument of grant_audit: a non-empty array of tables
 * (plain, partitioned, foreign) or materialized views, without NULLs.
 * Views are refused: the guard judges the tables under a view, so a grant
 * must name those.
 */
static void
check_relations(ArrayType *relations)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;

	if (ARR_NDIM(relations) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relations must be a one-dimensional array")));
	deconstruct_array(relations, ARR_ELEMTYPE(relations), sizeof(Oid), true, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relations must not be empty"),
				 errhint("Pass NULL to cover every relation.")));
	for (i = 0; i < nelems; i++)
	{
		char		relkind;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("relations must not contain null values")));
		relkind = get_rel_relkind(DatumGetObjectId(elems[i]));
		if (relkind == RELKIND_VIEW)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is a view",
							get_rel_name(DatumGetObjectId(elems[i]))),
					 errdetail("The guard judges the tables under a view."),
					 errhint("List the tables the view reads.")));
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE &&
			relkind != RELKIND_FOREIGN_TABLE && relkind != RELKIND_MATVIEW)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("relation with OID %u is not a table",
							DatumGetObjectId(elems[i]))));
	}
}

/*
 * SQL: biotoken.grant_audit(grantee regrole, purpose text,
 *			valid_for interval DEFAULT '1 hour',
 *			relations regclass[] DEFAULT NULL) -> bigint
 *
 * Give an audit grant from the session user to grantee and return its id.
 * SECURITY DEFINER: the insert runs as the extension owner.
 */
Datum
biotoken_grant_audit(PG_FUNCTION_ARGS)
{
	Oid			grantor = GetSessionUserId();
	Oid			grantee;
	char	   *purpose;
	Interval   *valid_for;
	ArrayType  *relations = NULL;
	TimestampTz now;
	TimestampTz expires_at;
	int64		max_usecs;
	Oid			argtypes[6] = {REGROLEOID, REGROLEOID, TEXTOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, REGCLASSARRAYOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		grant_id;
	bool		isnull;
	BtAuditRecord rec;

	bt_require_preloaded();
	require_admin("give an audit grant");

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("grantee must not be null")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must not be null"),
				 errhint("Give the case or ticket the grant is for.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for must not be null")));

	grantee = PG_GETARG_OID(0);
	/* regrole accepts any OID (0::oid::regrole): a grant to nobody */
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(grantee)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role with OID %u does not exist", grantee)));
	purpose = text_to_cstring(PG_GETARG_TEXT_PP(1));
	valid_for = PG_GETARG_INTERVAL_P(2);
	if (!PG_ARGISNULL(3))
	{
		relations = PG_GETARG_ARRAYTYPE_P(3);
		check_relations(relations);
	}

	if (strspn(purpose, " \t\r\n") == strlen(purpose))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("purpose must not be empty"),
				 errhint("Give the case or ticket the grant is for.")));

	/* The clock, not the transaction start: a grant lasts what it says. */
	now = GetCurrentTimestamp();
	expires_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														 TimestampTzGetDatum(now),
														 IntervalPGetDatum(valid_for)));
	max_usecs = (int64) bt_max_grant_duration * USECS_PER_MINUTE;
	if (expires_at <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for must be positive")));
	if (expires_at - now > max_usecs)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("valid_for exceeds biotoken.max_grant_duration"),
				 errdetail("Audit grants may last at most %d minutes.",
						   bt_max_grant_duration),
				 errhint("Ask for a shorter grant; it is not shortened for you.")));

	/* One person behind two roles: refuse, and say so in the access log. */
	if (grantor != grantee && !is_member_of_role_nosuper(grantor, grantee) &&
		can_become(grantor, grantee))
	{
		StringInfoData detail;

		initStringInfo(&detail);
		appendStringInfoString(&detail, "{\"refused\": \"grant_audit\", \"grantee\": ");
		escape_json(&detail, GetUserNameFromId(grantee, false));
		appendStringInfoString(&detail, ", \"reason\": \"the grantor can act as the grantee\"}");
		memset(&rec, 0, sizeof(rec));
		rec.event = BT_EVENT_REFUSED;
		rec.grant_id = 0;
		rec.categories = 0;
		rec.columns = NIL;
		rec.detail = detail.data;
		bt_audit_write(&rec);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot give an audit grant to a role you can act as"),
				 errdetail("Role \"%s\" has CREATEROLE or ADMIN OPTION over role \"%s\", so the two are one person.",
						   GetUserNameFromId(grantor, false),
						   GetUserNameFromId(grantee, false)),
				 errhint("A member of biotoken_admin without power over the grantee must give the grant.")));
	}

	/* Two-person rule */
	if (grant_is_void(grantor, grantee))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot give an audit grant to yourself or to a role you belong to"),
				 errdetail("Role \"%s\" is or belongs to role \"%s\".",
						   GetUserNameFromId(grantor, false),
						   GetUserNameFromId(grantee, false)),
				 errhint("Another member of biotoken_admin must give the grant.")));

	values[0] = ObjectIdGetDatum(grantee);
	values[1] = ObjectIdGetDatum(grantor);
	values[2] = CStringGetTextDatum(purpose);
	values[3] = TimestampTzGetDatum(now);
	values[4] = TimestampTzGetDatum(expires_at);
	if (relations != NULL)
		values[5] = PointerGetDatum(relations);
	else
	{
		values[5] = (Datum) 0;
		nulls[5] = 'n';
	}

	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO biotoken.audit_grants"
							  " (grantee, grantor, purpose, granted_at, expires_at, relations)"
							  " VALUES ($1, $2, $3, $4, $5, $6) RETURNING grant_id",
							  6, argtypes, values, nulls, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not store the audit grant")));
	grant_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();

	rec.event = BT_EVENT_GRANT;
	rec.grant_id = grant_id;
	rec.categories = 0;
	rec.columns = NIL;
	rec.detail = grant_detail_json(grantee, purpose, expires_at, relations);
	bt_audit_write(&rec);

	PG_RETURN_INT64(grant_id);
}

/*
 * SQL: biotoken.revoke_audit(grant_id bigint) -> void
 *
 * Revoke an audit grant at once.  Any member of biotoken_admin may revoke.
 */
Datum
biotoken_revoke_audit(PG_FUNCTION_ARGS)
{
	int64		grant_id = PG_GETARG_INT64(0);
	Oid			argtypes[3] = {INT8OID, TIMESTAMPTZOID, REGROLEOID};
	Datum		values[3];
	int			ret;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	bool		isnull;
	Datum		d;
	bool		relations_null;
	char	   *json;
	char	   *detail;
	BtAuditRecord rec;

	bt_require_preloaded();
	require_admin("revoke an audit grant");

	values[0] = Int64GetDatum(grant_id);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	values[2] = ObjectIdGetDatum(GetSessionUserId());

	SPI_connect();
	ret = SPI_execute_with_args("SELECT revoked_at IS NOT NULL FROM biotoken.audit_grants"
								" WHERE grant_id = $1 FOR UPDATE",
								1, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not read the audit grant")));
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("audit grant " INT64_FORMAT " does not exist", grant_id)));
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								   1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("audit grant " INT64_FORMAT " is already revoked", grant_id)));

	ret = SPI_execute_with_args("UPDATE biotoken.audit_grants"
								" SET revoked_at = $2, revoked_by = $3"
								" WHERE grant_id = $1"
								" RETURNING grantee, purpose, expires_at, relations",
								3, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not revoke the audit grant")));
	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;

	rec.event = BT_EVENT_REVOKE;
	rec.grant_id = grant_id;
	rec.categories = 0;
	rec.columns = NIL;
	d = SPI_getbinval(tuple, tupdesc, 4, &relations_null);
	json = grant_detail_json(DatumGetObjectId(SPI_getbinval(tuple, tupdesc, 1, &isnull)),
							 TextDatumGetCString(SPI_getbinval(tuple, tupdesc, 2, &isnull)),
							 DatumGetTimestampTz(SPI_getbinval(tuple, tupdesc, 3, &isnull)),
							 relations_null ? NULL : DatumGetArrayTypeP(d));
	/* copy out of SPI memory, which SPI_finish frees */
	detail = SPI_palloc(strlen(json) + 1);
	strcpy(detail, json);
	rec.detail = detail;
	SPI_finish();

	bt_audit_write(&rec);
	PG_RETURN_VOID();
}

/*
 * Whether the session user may use a grant to grantee from grantor:
 * a member of the grantee (not by superuser status), the grant not
 * voided by the two-person rule, and the login not the grantor under
 * another name (SET SESSION AUTHORIZATION).
 */
static bool
grant_usable(Oid grantee, Oid grantor)
{
	Oid			login = GetAuthenticatedUserId();

	return is_member_of_role_nosuper(GetSessionUserId(), grantee) &&
		!grant_is_void(grantor, grantee) &&
		login != grantor && !is_member_of_role_nosuper(login, grantor);
}

/*
 * SQL: biotoken.grant_is_visible(grantee regrole, grantor regrole) -> boolean
 *
 * The row filter of biotoken.active_grants: admins and auditors see every
 * grant, everyone else the grants that cover them.
 */
Datum
biotoken_grant_is_visible(PG_FUNCTION_ARGS)
{
	Oid			grantee = PG_GETARG_OID(0);
	Oid			grantor = PG_GETARG_OID(1);

	bt_require_preloaded();
	PG_RETURN_BOOL(session_is_member_of(BT_ADMIN_ROLE) ||
				   session_is_member_of(BT_AUDITOR_ROLE) ||
				   grant_usable(grantee, grantor));
}

/*
 * The parents of a relation in pg_inherits (partitioned tables and
 * inheritance), appended to *ancestors, recursively.
 */
static void
add_ancestors(Oid relid, List **ancestors)
{
	Relation	inh;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	List	   *parents = NIL;
	ListCell   *lc;

	check_stack_depth();
	inh = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_inherits_inhrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(inh, InheritsRelidSeqnoIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Oid			parent = ((Form_pg_inherits) GETSTRUCT(tuple))->inhparent;

		if (!list_member_oid(*ancestors, parent))
			parents = lappend_oid(parents, parent);
	}
	systable_endscan(scan);
	table_close(inh, AccessShareLock);

	foreach(lc, parents)
	{
		*ancestors = lappend_oid(*ancestors, lfirst_oid(lc));
		add_ancestors(lfirst_oid(lc), ancestors);
	}
}

/*
 * Whether a grant's relation list covers relid: it lists the relation or
 * one of its ancestors (a listed parent covers its partitions and
 * children).
 */
static bool
relations_cover(Datum *listed, int nlisted, Oid relid)
{
	List	   *candidates = list_make1_oid(relid);
	ListCell   *lc;
	int			i;

	add_ancestors(relid, &candidates);
	foreach(lc, candidates)
		for (i = 0; i < nlisted; i++)
			if (DatumGetObjectId(listed[i]) == lfirst_oid(lc))
				return true;
	return false;
}

/*
 * bt_grants_find_covering
 *		The smallest id of an active grant that covers the session user for
 *		the given classified base tables, or 0.
 *
 * Allocates in the current context; takes AccessShareLock on the grants
 * table.  Throws only on a damaged grants table.
 */
int64
bt_grants_find_covering(const Oid *relids, int nrelids)
{
	Oid			tableoid = grants_table_oid();
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	TimestampTz now = GetCurrentTimestamp();
	int64		found = 0;

	if (!OidIsValid(tableoid))
		return 0;

	rel = table_open(tableoid, AccessShareLock);
	if (RelationGetNumberOfAttributes(rel) != Natts_audit_grants)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s.audit_grants\" has an unexpected layout", BT_SCHEMA),
				 errhint("Reinstall the biotoken extension.")));

	/*
	 * The latest snapshot sees a revocation committed a moment ago; during a
	 * parallel operation (nested statements of a parallel query, in the
	 * leader or a worker) only the statement's own snapshot may be used.
	 */
	snapshot = RegisterSnapshot(IsInParallelMode() ? GetActiveSnapshot() :
								GetLatestSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		int64		grant_id;
		bool		isnull;
		Datum		d;

		slot_getallattrs(slot);
		if (!slot->tts_isnull[Anum_revoked_at - 1])
			continue;
		if (DatumGetTimestampTz(slot->tts_values[Anum_expires_at - 1]) <= now)
			continue;
		grant_id = DatumGetInt64(slot->tts_values[Anum_grant_id - 1]);
		if (found != 0 && grant_id >= found)
			continue;
		if (!grant_usable(DatumGetObjectId(slot->tts_values[Anum_grantee - 1]),
						  DatumGetObjectId(slot->tts_values[Anum_grantor - 1])))
			continue;

		isnull = slot->tts_isnull[Anum_relations - 1];
		if (!isnull)
		{
			ArrayType  *arr;
			Datum	   *listed;
			bool	   *nulls;
			int			nlisted;
			int			i;
			bool		covered = true;

			d = slot->tts_values[Anum_relations - 1];
			arr = DatumGetArrayTypeP(d);
			deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(Oid), true,
							  TYPALIGN_INT, &listed, &nulls, &nlisted);
			for (i = 0; i < nrelids && covered; i++)
				covered = relations_cover(listed, nlisted, relids[i]);
			if (!covered)
				continue;
		}
		found = grant_id;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	return found;
}
