/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Classification: the "biotoken" SECURITY LABEL provider, the rules for
 *	  changing a label, the object access hook that keeps labels right
 *	  across drops, attach and detach, and biotoken.classified_columns.
 *
 * Where a column's category comes from, and the cache the guard reads, are
 * in labels_cache.c; the labels that copies of data carry, in lineage.c;
 * the categories themselves, in categories.c.
 *
 * Changing an existing label (to anything, including NULL) needs
 * membership in biotoken_admin, superuser status not counting; adding one
 * needs only what PostgreSQL itself asks for SECURITY LABEL (ownership).
 * Lineage may add a label or replace it with a stronger one, never weaken
 * it.  Every change is written to the access log and invalidates the
 * relcache entry of the relation and all its inheritors, so every backend
 * drops its cached categories at commit.
 *
 * IDENTIFICATION
 *	  extension/labels.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/seclabel.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "audit.h"
#include "biotoken.h"
#include "labels.h"
#include "lineage.h"

PG_FUNCTION_INFO_V1(biotoken_classified_columns_internal);

#define BT_ADMIN_ROLE		"biotoken_admin"
#define BT_EXTENSION_NAME	"biotoken"

#define BT_ATT_CAT(b)	BT_LABELS_ATT_CATEGORY(b)
#define BT_ATT_SRC(b)	BT_LABELS_ATT_SOURCE(b)

static object_access_hook_type prev_object_access = NULL;


/* The name of a category's source, as biotoken.classified_columns shows it. */
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
void
bt_labels_require_extension(void)
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
void
bt_labels_audit_change(Oid relid, const char *attname, const char *oldlabel,
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
	rec.categories = Max(bt_categories_from_name(oldlabel), 0) |
		Max(bt_categories_from_name(newlabel), 0);
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
void
bt_labels_invalidate_tree(Oid relid)
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


/*
 * bt_labels_column_name
 *		"schema.table.column", quoted where needed; palloc'd in the current
 * context.  A column of a relation dropped meanwhile is named by number.
 */
char *
bt_labels_column_name(Oid relid, AttrNumber attnum)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname = relname ? get_namespace_name(get_rel_namespace(relid)) : NULL;
	char	   *attname = get_attname(relid, attnum, true);

	if (relname == NULL || nspname == NULL || attname == NULL)
		return psprintf("relation %u column %d", relid, attnum);
	return psprintf("%s.%s.%s", quote_identifier(nspname),
					quote_identifier(relname), quote_identifier(attname));
}

/* ----------------------------------------------------------------
 *		The SECURITY LABEL provider
 * ----------------------------------------------------------------
 */

/*
 * Whether column attnum of relid takes from a parent's label a category
 * stronger than category.  An own label below it is a weakening: harmless
 * while the parent's label holds, it is what stays when that label or the
 * parent's column goes, so it needs what any weakening needs.  A stronger
 * own label only adds.
 */
static bool
weakens_inherited(Oid relid, AttrNumber attnum, int category)
{
	int			natts;
	uint8	   *cols = bt_labels_columns(relid, true, &natts);

	return cols != NULL && attnum <= natts &&
		BT_ATT_SRC(cols[attnum - 1]) == BT_SRC_INHERITED &&
		bt_categories_rank(BT_ATT_CAT(cols[attnum - 1])) >
		bt_categories_rank(category);
}

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
	if (!bt_labels_relkind_classifiable(relkind))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("biotoken labels apply only to columns of tables, partitioned tables, materialized views and foreign tables"),
				 errdetail("\"%s\" is %s.", get_rel_name(relid),
						   relkind == RELKIND_VIEW ? "a view" :
						   relkind == RELKIND_COMPOSITE_TYPE ? "a composite type" :
						   "not a table"),
				 errhint("Label the column of the table that stores the data; the guard checks the tables a view reads.")));

	newcat = bt_categories_from_name(seclabel);
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

	atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
						  Int16GetDatum(attnum));
	if (!HeapTupleIsValid(atp))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	attname = pstrdup(NameStr(((Form_pg_attribute) GETSTRUCT(atp))->attname));
	atttypid = ((Form_pg_attribute) GETSTRUCT(atp))->atttypid;
	ReleaseSysCache(atp);

	if (newcat != 0 && newcat != BT_CAT_BIOMETRIC &&
		bt_labels_type_is_biometric(atttypid))
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

	/*
	 * After DROP EXTENSION the labels stay in pg_seclabel and the preloaded
	 * library still enforces them.  Removing one must stay possible, for the
	 * same people as before, so that a database can be cleaned up; with no
	 * access log left in this database the removal goes to the server log.
	 * Adding or changing a label needs the extension.
	 */
	if (!OidIsValid(get_extension_oid(BT_EXTENSION_NAME, true)))
	{
		if (seclabel != NULL)
			bt_labels_require_extension();
		require_label_admin(relid, attname, true);
		ereport(LOG,
				(errmsg("biotoken: label \"%s\" removed from column %s while the extension is not installed",
						oldlabel, qualified_column_name(relid, attname)),
				 errdetail("Session user \"%s\"; there is no access log in database \"%s\".",
						   GetUserNameFromId(GetSessionUserId(), false),
						   get_database_name(MyDatabaseId)),
				 errhidestmt(true)));
		bt_labels_invalidate_tree(relid);
		return;
	}
	if (oldlabel != NULL)
		require_label_admin(relid, attname, seclabel == NULL);
	else if (weakens_inherited(relid, attnum, newcat))
		require_label_admin(relid, attname, false);

	bt_labels_audit_change(relid, attname, oldlabel, seclabel, "label", NIL);

	/* An explicit label, or its removal, ends any lineage provenance. */
	lineage_oid = bt_lineage_table_oid();
	if (OidIsValid(lineage_oid))
		bt_lineage_delete_rows(lineage_oid, relid, attnum);

	bt_labels_invalidate_tree(relid);
}


/* ----------------------------------------------------------------
 *		Object access hook: drops, attach and detach
 * ----------------------------------------------------------------
 */

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
	if (!bt_labels_has_label(relid, subid))
		return;
	lineage_oid = bt_lineage_table_oid();
	if (!OidIsValid(lineage_oid) || lineage_oid == relid)
		return;
	bt_lineage_delete_rows(lineage_oid, relid, (AttrNumber) subid);
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
	uint8	   *attcats;
	int			natts;
	AttrNumber	attnum;
	char		relkind;

	if (child < FirstNormalObjectId)
		return;
	relkind = get_rel_relkind(child);
	if (!bt_labels_relkind_classifiable(relkind))
		return;

	bt_labels_invalidate_tree(child);

	if (inherits_from(child, parent))
		return;
	if (!OidIsValid(bt_lineage_table_oid()))
		return;					/* no extension: nothing guards this database */
	attcats = bt_labels_columns(parent, true, &natts);
	if (attcats == NULL)
		return;

	for (attnum = 1; attnum <= natts; attnum++)
	{
		uint8		b = attcats[attnum - 1];
		char	   *name;
		AttrNumber	child_attnum;

		/* a column's type, and so its type category, goes with it */
		if (BT_ATT_CAT(b) == 0 || BT_ATT_SRC(b) == BT_SRC_TYPE)
			continue;
		name = bt_labels_live_attname(parent, attnum);
		if (name == NULL)
			continue;
		child_attnum = get_attnum(child, name);
		if (child_attnum == InvalidAttrNumber)
			continue;
		bt_lineage_label(child, child_attnum, BT_ATT_CAT(b),
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

/* Emit the classified columns of one relation into the tuplestore. */
static void
emit_relation(ReturnSetInfo *rsinfo, Oid relid, HTAB *lineage)
{
	int			natts;
	uint8	   *attcats;
	AttrNumber	attnum;

	/* a copy: the lookups below may process invalidations */
	attcats = bt_labels_columns(relid, false, &natts);
	if (attcats == NULL)
		return;

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
		attname = bt_labels_live_attname(relid, attnum);
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

	lineage = bt_lineage_load_map();

	classRel = table_open(RelationRelationId, AccessShareLock);
	scan = table_beginscan_catalog(classRel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_class cls = (Form_pg_class) GETSTRUCT(tup);

		if (cls->oid < FirstNormalObjectId ||
			!bt_labels_relkind_classifiable(cls->relkind))
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

	bt_labels_cache_init();

	prev_object_access = object_access_hook;
	object_access_hook = bt_object_access;
}

