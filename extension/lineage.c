/*-------------------------------------------------------------------------
 *
 * lineage.c
 *	  Lineage: data that flows from a classified column into a new or
 *	  unclassified column carries its category.  The resolver that follows
 *	  each target column's value back to the base columns it comes from,
 *	  the labelling, and the biotoken.label_lineage table.
 *
 * INSERT, UPDATE and MERGE are analysed by the guard's planner hook (after
 * rewriting, before planning changes the tree), CREATE TABLE AS, SELECT
 * INTO and materialized views by its utility hook once the target exists:
 * every target column whose value expression references a classified
 * column is labelled with that column's categories.  This runs whether or
 * not a grant covers the statement, and whether or not the guard is on.  A
 * copy that would put two categories that may not meet into one column is
 * refused: a column carries one label, and the target column's own label
 * counts.  INSERT, UPDATE and MERGE in WITH clauses are analysed too; a
 * data-modifying CTE's output is its RETURNING list, whose target columns
 * stand for the values written.  EXCLUDED in an upsert stands for the row
 * the INSERT proposed.  ALTER COLUMN TYPE ... USING and ADD COLUMN ...
 * GENERATED label the column with what their expression reads.  Values
 * that pass through variables (a client's, or PL/pgSQL's) or function
 * bodies are not traced.
 *
 * Labelling takes ShareUpdateExclusiveLock on the target, like SECURITY
 * LABEL, writes a "label" event to the access log, and records the
 * sources in biotoken.label_lineage directly (like a catalog row, no SPI,
 * so the guard is not re-entered and the copier needs no privilege on the
 * table).  The resolver allocates in the caller's memory context.
 *
 * IDENTIFICATION
 *	  extension/lineage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/prepare.h"
#include "commands/seclabel.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/prs2lock.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "biotoken.h"
#include "catalog.h"
#include "compat.h"
#include "labels.h"
#include "lineage.h"

#define BT_EXTENSION_NAME	"biotoken"
#define BT_LINEAGE_TABLE	"label_lineage"

/* Layout of biotoken.label_lineage (see biotoken--1.0.sql). */
#define Natts_bt_lineage				7
#define Anum_bt_lineage_relid			1
#define Anum_bt_lineage_attnum			2
#define Anum_bt_lineage_column_name		3
#define Anum_bt_lineage_category		4
#define Anum_bt_lineage_source_columns	5
#define Anum_bt_lineage_labelled_at		6
#define Anum_bt_lineage_labelled_by		7

/* One target column to be labelled by lineage. */
typedef struct BtLineageTarget
{
	AttrNumber	attnum;
	int			categories;
	List	   *sources;		/* of char *, "schema.table.column" */
} BtLineageTarget;

/* Where the lineage resolver is: the query levels, innermost first. */
typedef struct BtLineageWalk
{
	List	   *levels;			/* of Query *, innermost first */
	List	   *active_ctes;	/* CTEs being resolved (recursive CTEs) */
	Query	   *top;			/* the query whose targets are labelled */
	Query	   *returning_of;	/* a DML query whose RETURNING is walked */
	int			categories;
	List	   *sources;
} BtLineageWalk;

/* ----------------------------------------------------------------
 *		biotoken.label_lineage
 * ----------------------------------------------------------------
 */

/* The OID of biotoken.label_lineage, or InvalidOid if it is not there. */
Oid
bt_lineage_table_oid(void)
{
	/* by extension membership, never by name (catalog.c) */
	return bt_catalog_relid(BT_CATALOG_LABEL_LINEAGE);
}

/* Refuse to touch a lineage table whose layout this library does not know. */
static void
check_lineage_layout(Relation rel)
{
	static const Oid types[Natts_bt_lineage] = {
		REGCLASSOID, INT2OID, NAMEOID, TEXTOID, TEXTARRAYOID,
		TIMESTAMPTZOID, NAMEOID
	};
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	if (desc->natts != Natts_bt_lineage)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken.label_lineage has %d columns, expected %d",
						desc->natts, Natts_bt_lineage),
				 errhint("The table was altered; reinstall the extension's definition of it.")));
	for (i = 0; i < Natts_bt_lineage; i++)
		if (TupleDescAttr(desc, i)->attisdropped ||
			TupleDescAttr(desc, i)->atttypid != types[i])
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column %d of biotoken.label_lineage has an unexpected type",
							i + 1),
					 errhint("The table was altered; reinstall the extension's definition of it.")));
}

/*
 * Delete the lineage rows of relid's column attnum (all of relid's if
 * attnum is 0).  The caller holds a lock that keeps the column's label
 * from changing concurrently.
 */
void
bt_lineage_delete_rows(Oid lineage_oid, Oid relid, AttrNumber attnum)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(lineage_oid, RowExclusiveLock);
	check_lineage_layout(rel);
	ScanKeyInit(&key[0],
				Anum_bt_lineage_relid,
				BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1],
				Anum_bt_lineage_attnum,
				BTEqualStrategyNumber, F_INT2EQ,
				Int16GetDatum(attnum));
	scan = systable_beginscan(rel, BT_PRIMARY_KEY_INDEX(rel), true,
							  NULL, attnum > 0 ? 2 : 1, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		CatalogTupleDelete(rel, &tup->t_self);
	systable_endscan(scan);
	table_close(rel, RowExclusiveLock);
}

/*
 * Record that relid's column attnum got its label from lineage.  The row
 * is written directly (like a catalog row): no SPI, so no recursion into
 * the guard, and no privilege on the table is needed by whoever made the
 * copy.
 */
static void
insert_lineage_row(Oid lineage_oid, Oid relid, AttrNumber attnum,
				   const char *attname, int category, List *source_columns)
{
	Relation	rel;
	Datum		values[Natts_bt_lineage];
	bool		nulls[Natts_bt_lineage];
	Datum	   *elems;
	NameData	colname;
	NameData	username;
	HeapTuple	tup;
	ListCell   *lc;
	int			i = 0;
	char	   *session_user;

	elems = palloc(Max(list_length(source_columns), 1) * sizeof(Datum));
	foreach(lc, source_columns)
		elems[i++] = CStringGetTextDatum((const char *) lfirst(lc));

	namestrcpy(&colname, attname);
	session_user = GetUserNameFromId(GetSessionUserId(), true);
	namestrcpy(&username, session_user ? session_user : "");

	memset(nulls, false, sizeof(nulls));
	values[Anum_bt_lineage_relid - 1] = ObjectIdGetDatum(relid);
	values[Anum_bt_lineage_attnum - 1] = Int16GetDatum(attnum);
	values[Anum_bt_lineage_column_name - 1] = NameGetDatum(&colname);
	values[Anum_bt_lineage_category - 1] =
		CStringGetTextDatum(bt_labels_category_name(category));
	values[Anum_bt_lineage_source_columns - 1] =
		PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false,
										TYPALIGN_INT));
	values[Anum_bt_lineage_labelled_at - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[Anum_bt_lineage_labelled_by - 1] = NameGetDatum(&username);

	rel = table_open(lineage_oid, RowExclusiveLock);
	check_lineage_layout(rel);
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	heap_freetuple(tup);
	table_close(rel, RowExclusiveLock);
}


/* ----------------------------------------------------------------
 *		Lineage
 * ----------------------------------------------------------------
 */

/*
 * Give relid's column attnum the label category because data of that
 * category flowed into it, unless it already has that category or a
 * stronger one by type or own label.  Never removes or weakens a label,
 * so it needs no admin membership.  how is "lineage" or "detach" for the
 * access log.  Takes ShareUpdateExclusiveLock on relid, like SECURITY
 * LABEL, so a concurrent ATTACH or INHERIT cannot miss the invalidation.
 */
void
bt_lineage_label(Oid relid, AttrNumber attnum, int category,
				 List *source_columns, const char *how)
{
	ObjectAddress object;
	HeapTuple	atp;
	Form_pg_attribute att;
	char	   *attname;
	Oid			atttypid;
	bool		dropped;
	char	   *oldlabel;
	int			oldcat;
	Oid			lineage_oid;

	atp = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
						  Int16GetDatum(attnum));
	if (!HeapTupleIsValid(atp))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 attnum, relid);
	att = (Form_pg_attribute) GETSTRUCT(atp);
	attname = pstrdup(NameStr(att->attname));
	atttypid = att->atttypid;
	dropped = att->attisdropped;
	ReleaseSysCache(atp);
	if (dropped)
		elog(ERROR, "attribute %d of relation %u is dropped", attnum, relid);

	/* biometric by type is already the strongest, and is not a label */
	if (bt_labels_type_is_biometric(atttypid))
		return;

	ObjectAddressSubSet(object, RelationRelationId, relid, attnum);
	oldlabel = GetSecurityLabel(&object, BT_LABEL_PROVIDER);
	oldcat = bt_categories_from_name(oldlabel);
	/* an invalid stored value classifies nothing: replace it */
	if (bt_categories_rank(oldcat) >= bt_categories_rank(category))
		return;

	/*
	 * The label must change: only now take the lock (it conflicts with
	 * itself, so copies into a table that need no new label never wait for
	 * each other), then look again under it.
	 */
	LockRelationOid(relid, ShareUpdateExclusiveLock);
	oldlabel = GetSecurityLabel(&object, BT_LABEL_PROVIDER);
	oldcat = bt_categories_from_name(oldlabel);
	if (bt_categories_rank(oldcat) >= bt_categories_rank(category))
		return;

	lineage_oid = bt_lineage_table_oid();
	if (!OidIsValid(lineage_oid))
		bt_labels_require_extension();
	if (!OidIsValid(lineage_oid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s.%s\" does not exist", BT_SCHEMA,
						BT_LINEAGE_TABLE),
				 errhint("Reinstall the biotoken extension.")));

	bt_labels_audit_change(relid, attname, oldlabel,
					   bt_labels_category_name(category), how, source_columns);
	SetSecurityLabel(&object, BT_LABEL_PROVIDER,
					 bt_labels_category_name(category));
	bt_lineage_delete_rows(lineage_oid, relid, attnum);
	insert_lineage_row(lineage_oid, relid, attnum, attname, category,
					   source_columns);
	bt_labels_invalidate_tree(relid);
}

/*
 * set_lineage
 *		Classify a column that received data copied from classified
 *		columns (CREATE TABLE AS, SELECT INTO, materialized views,
 *		INSERT ... SELECT, UPDATE ... SET col = (SELECT ...)).
 *
 * categories may hold several bits; a column has one category, so the
 * strongest is applied (biometric over identity over financial).  The
 * label is added, or an existing weaker one replaced, without the admin
 * check; an equal or stronger one (by type or label) is left alone.
 * relid must be a table, partitioned table, materialized view or foreign
 * table (the relation written, not a view over it); catalogs are ignored.
 * source_columns (List of char *, "schema.table.column") go to the access
 * log and to biotoken.label_lineage.
 *
 * The change is made visible to the rest of the transaction at once (we
 * call CommandCounterIncrement, so calling this twice for one column in
 * one command is safe) and to other sessions at commit.  Throws 55000 if
 * the extension is not installed in this database.
 */
static void
set_lineage(Oid relid, AttrNumber attnum, int categories,
			List *source_columns)
{
	char		relkind;
	int			strongest;

	if (categories & ~BT_CAT_ALL)
		elog(ERROR, "invalid biotoken category set %d", categories);
	if (categories == 0 || relid < FirstNormalObjectId)
		return;
	if (attnum <= 0)
		elog(ERROR, "cannot label attribute %d of relation %u", attnum, relid);
	relkind = get_rel_relkind(relid);
	if (!bt_labels_relkind_classifiable(relkind))
		elog(ERROR, "relation %u of kind '%c' cannot receive a lineage label",
			 relid, relkind);

	/* a column has one category: nothing to do unless the strongest is new */
	strongest = bt_categories_strongest(categories);
	if (bt_categories_rank(strongest) <=
		bt_categories_rank(bt_labels_column_category(relid, attnum)))
		return;
	bt_lineage_label(relid, attnum, strongest, source_columns, "lineage");
	CommandCounterIncrement();
}


/* ----------------------------------------------------------------
 *		Lineage
 * ----------------------------------------------------------------
 */

static void lineage_resolve_var(BtLineageWalk *walk, List *levels,
								Index varno, AttrNumber attno);
static void lineage_resolve_output(BtLineageWalk *walk, List *levels,
								   Query *query, AttrNumber attno);

/* note a classified source column */
static void
lineage_add_column(BtLineageWalk *walk, Oid relid, AttrNumber attnum)
{
	int			cats;
	char	   *name;
	ListCell   *lc;

	if (attnum == InvalidAttrNumber)
	{
		AttrNumber	natts = bt_labels_relation_natts(relid);
		AttrNumber	a;

		for (a = 1; a <= natts; a++)
			lineage_add_column(walk, relid, a);
		return;
	}
	if (attnum < 0)
		return;
	cats = bt_labels_column_category(relid, attnum);
	if (cats == 0)
		return;
	walk->categories |= cats;
	name = bt_labels_column_name(relid, attnum);
	foreach(lc, walk->sources)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return;
	walk->sources = lappend(walk->sources, name);
}

/*
 * Expression walker of the lineage resolver.  Vars are followed to the
 * base columns they come from; a SubLink's value comes from its subquery's
 * output columns; a PARAM_MULTIEXPR (UPDATE ... SET (a, b) = (SELECT ...))
 * from the MULTIEXPR SubLinks of the top query.
 */
static bool
lineage_walker(Node *node, BtLineageWalk *walk)
{
	if (node == NULL)
		return false;
	check_stack_depth();

	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		if (var->varlevelsup < list_length(walk->levels))
			lineage_resolve_var(walk,
								list_copy_tail(walk->levels, var->varlevelsup),
								var->varno, var->varattno);
		return false;
	}
	if (IsA(node, SubLink))
	{
		SubLink    *sublink = (SubLink *) node;
		Query	   *sub = castNode(Query, sublink->subselect);

		(void) lineage_walker(sublink->testexpr, walk);
		lineage_resolve_output(walk, walk->levels, sub, InvalidAttrNumber);
		return false;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_MULTIEXPR &&
		walk->top != NULL)
	{
		/* paramid: the MULTIEXPR SubLink's id, and the column of its output */
		int			paramid = ((Param *) node)->paramid;
		int			sublink_id = paramid >> 16;
		AttrNumber	colno = (AttrNumber) (paramid & 0xFFFF);
		ListCell   *lc;

		foreach(lc, walk->top->targetList)
		{
			TargetEntry *tle = (TargetEntry *) lfirst(lc);
			SubLink    *sublink;

			if (!tle->resjunk || !IsA(tle->expr, SubLink))
				continue;
			sublink = (SubLink *) tle->expr;
			if (sublink->subLinkType == MULTIEXPR_SUBLINK &&
				sublink->subLinkId == sublink_id)
				lineage_resolve_output(walk, list_make1(walk->top),
									   castNode(Query, sublink->subselect),
									   colno);
		}
		return false;
	}
	if (IsA(node, Query))
		return false;			/* SubLinks are handled above */
	return expression_tree_walker(node, lineage_walker, (void *) walk);
}

/* walk an expression evaluated at the query level that heads "levels" */
static void
lineage_walk_expr(BtLineageWalk *walk, List *levels, Node *expr)
{
	List	   *save = walk->levels;

	walk->levels = levels;
	(void) lineage_walker(expr, walk);
	walk->levels = save;
}

/* collect the leaf range-table indexes of a set-operation tree */
static void
setop_leaves(Node *node, List **leaves)
{
	if (node == NULL)
		return;
	if (IsA(node, RangeTblRef))
		*leaves = lappend_int(*leaves, ((RangeTblRef *) node)->rtindex);
	else if (IsA(node, SetOperationStmt))
	{
		setop_leaves(((SetOperationStmt *) node)->larg, leaves);
		setop_leaves(((SetOperationStmt *) node)->rarg, leaves);
	}
}

/*
 * Resolve output column attno (0: every column) of query, a subquery whose
 * enclosing levels are "levels".  A set operation's output comes from
 * every arm, not only the leftmost one its target list points at.
 */
static void
lineage_resolve_output(BtLineageWalk *walk, List *levels, Query *query,
					   AttrNumber attno)
{
	List	   *sublevels = lcons(query, list_copy(levels));
	ListCell   *lc;

	if (query->setOperations != NULL)
	{
		List	   *leaves = NIL;

		setop_leaves(query->setOperations, &leaves);
		foreach(lc, leaves)
			lineage_resolve_var(walk, sublevels, lfirst_int(lc), attno);
		return;
	}

	if (query->commandType != CMD_SELECT)
	{
		/* a data-modifying CTE's output is its RETURNING list */
		Query	   *save = walk->returning_of;

		walk->returning_of = query;
		foreach(lc, query->returningList)
		{
			TargetEntry *tle = (TargetEntry *) lfirst(lc);

			if (!tle->resjunk &&
				(attno == InvalidAttrNumber || tle->resno == attno))
				lineage_walk_expr(walk, sublevels, (Node *) tle->expr);
		}
		walk->returning_of = save;
		return;
	}

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);

		if (tle->resjunk)
			continue;
		if (attno == InvalidAttrNumber || tle->resno == attno)
			lineage_walk_expr(walk, sublevels, (Node *) tle->expr);
	}
}

/*
 * The query a view or materialized view stores in its _RETURN rule, or
 * NULL.  The caller holds a lock on the relation.
 */
Query *
bt_lineage_view_query(Relation rel)
{
	int			i;

	if (rel->rd_rules == NULL)
		return NULL;
	for (i = 0; i < rel->rd_rules->numLocks; i++)
	{
		RewriteRule *rule = rel->rd_rules->rules[i];

		if (rule->event == CMD_SELECT && list_length(rule->actions) == 1)
			return copyObject(linitial_node(Query, rule->actions));
	}
	return NULL;
}

/*
 * Follow column attno (0: all) of range-table entry varno of the query
 * heading "levels" to the base columns it comes from.
 */
static void
lineage_resolve_var(BtLineageWalk *walk, List *levels, Index varno,
					AttrNumber attno)
{
	Query	   *query = linitial_node(Query, levels);
	RangeTblEntry *rte;
	ListCell   *lc;

	if (varno < 1 || varno > list_length(query->rtable))
		return;
	rte = rt_fetch(varno, query->rtable);

	switch (rte->rtekind)
	{
		case RTE_RELATION:
			if (walk->returning_of == query && varno == query->resultRelation)
			{
				/*
				 * RETURNING of the target: the values written, and for an
				 * UPDATE or DELETE the stored ones it keeps or returns.
				 */
				foreach(lc, query->targetList)
				{
					TargetEntry *tle = (TargetEntry *) lfirst(lc);

					if (!tle->resjunk &&
						(attno == InvalidAttrNumber || tle->resno == attno))
						lineage_walk_expr(walk, levels, (Node *) tle->expr);
				}
				if (query->commandType != CMD_INSERT)
					lineage_add_column(walk, rte->relid, attno);
			}
			else if (query->onConflict != NULL &&
				varno == query->onConflict->exclRelIndex)
			{
				/* EXCLUDED: the row the INSERT proposed, not a stored one */
				foreach(lc, query->targetList)
				{
					TargetEntry *tle = (TargetEntry *) lfirst(lc);

					if (!tle->resjunk &&
						(attno == InvalidAttrNumber || tle->resno == attno))
						lineage_walk_expr(walk, levels, (Node *) tle->expr);
				}
			}
			else if (rte->relkind == RELKIND_VIEW)
			{
				/* a query not yet rewritten (CREATE TABLE AS) */
				Relation	rel = relation_open(rte->relid, AccessShareLock);
				Query	   *viewq = bt_lineage_view_query(rel);

				relation_close(rel, AccessShareLock);
				if (viewq != NULL)
					lineage_resolve_output(walk, NIL, viewq, attno);
			}
			else
				lineage_add_column(walk, rte->relid, attno);
			break;

		case RTE_SUBQUERY:
			lineage_resolve_output(walk, levels, rte->subquery, attno);
			break;

		case RTE_JOIN:
			if (attno == InvalidAttrNumber)
				lineage_walk_expr(walk, levels, (Node *) rte->joinaliasvars);
			else if (attno > 0 && attno <= list_length(rte->joinaliasvars))
				lineage_walk_expr(walk, levels,
								  (Node *) list_nth(rte->joinaliasvars, attno - 1));
			break;

		case RTE_FUNCTION:
			/* a function's result counts as derived from its arguments */
			foreach(lc, rte->functions)
				lineage_walk_expr(walk, levels,
								  ((RangeTblFunction *) lfirst(lc))->funcexpr);
			break;

		case RTE_TABLEFUNC:
			lineage_walk_expr(walk, levels, (Node *) rte->tablefunc);
			break;

		case RTE_VALUES:
			foreach(lc, rte->values_lists)
			{
				List	   *row = (List *) lfirst(lc);

				if (attno == InvalidAttrNumber)
					lineage_walk_expr(walk, levels, (Node *) row);
				else if (attno > 0 && attno <= list_length(row))
					lineage_walk_expr(walk, levels, list_nth(row, attno - 1));
			}
			break;

		case RTE_CTE:
			{
				List	   *ctelevels;
				Query	   *owner;

				if (rte->ctelevelsup >= list_length(levels))
					break;
				ctelevels = list_copy_tail(levels, rte->ctelevelsup);
				owner = linitial_node(Query, ctelevels);
				foreach(lc, owner->cteList)
				{
					CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);

					if (strcmp(cte->ctename, rte->ctename) != 0)
						continue;
					/* a recursive CTE refers to itself: stop there */
					if (list_member_ptr(walk->active_ctes, cte))
						break;
					walk->active_ctes = lappend(walk->active_ctes, cte);
					if (IsA(cte->ctequery, Query))
						lineage_resolve_output(walk, ctelevels,
											   (Query *) cte->ctequery, attno);
					walk->active_ctes = list_delete_last(walk->active_ctes);
					break;
				}
			}
			break;

		default:
			/* RTE_RESULT, RTE_NAMEDTUPLESTORE: nothing classified is known */
			break;
	}
}

/* Resolve one target expression of "top" into a lineage target, or NULL. */
static BtLineageTarget *
lineage_target(Query *top, List *outer, Oid target_relid, AttrNumber attnum,
			   Node *expr)
{
	BtLineageWalk walk;
	BtLineageTarget *target;
	int			have;

	memset(&walk, 0, sizeof(walk));
	walk.top = top;
	walk.levels = lcons(top, list_copy(outer));
	(void) lineage_walker(expr, &walk);

	if (walk.categories == 0)
		return NULL;
	have = OidIsValid(target_relid) ?
		bt_labels_column_category(target_relid, attnum) : 0;
	if ((walk.categories & ~have) == 0)
		return NULL;

	target = palloc(sizeof(BtLineageTarget));
	target->attnum = attnum;
	target->categories = walk.categories;
	target->sources = walk.sources;
	return target;
}

/* add the targets of a target list (resno = attnum) to *targets */
static void
lineage_targetlist(Query *top, List *outer, Oid relid, List *tlist,
				   List **targets)
{
	ListCell   *lc;

	foreach(lc, tlist)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);
		BtLineageTarget *target;

		if (tle->resjunk || tle->resno <= 0)
			continue;
		target = lineage_target(top, outer, relid, tle->resno,
								(Node *) tle->expr);
		if (target != NULL)
			*targets = lappend(*targets, target);
	}
}

/*
 * The lineage of an INSERT, UPDATE or MERGE after rewriting: the target
 * columns that receive classified data they are not yet labelled with.
 * Must run before the planner, which rearranges the query in place.
 */
static List *
lineage_for_dml_levels(Query *query, List *outer, Oid *relid)
{
	RangeTblEntry *rte;
	List	   *targets = NIL;
	ListCell   *lc;

	if (query->resultRelation <= 0)
		return NIL;
	rte = rt_fetch(query->resultRelation, query->rtable);
	if (rte->rtekind != RTE_RELATION || rte->relid < FirstNormalObjectId)
		return NIL;

	/*
	 * Only relations that store columns take labels; a view with INSTEAD OF
	 * triggers passes its rows to the triggers' own statements.
	 */
	if (rte->relkind != RELKIND_RELATION &&
		rte->relkind != RELKIND_PARTITIONED_TABLE &&
		rte->relkind != RELKIND_MATVIEW &&
		rte->relkind != RELKIND_FOREIGN_TABLE)
		return NIL;
	*relid = rte->relid;

	lineage_targetlist(query, outer, rte->relid, query->targetList, &targets);
	if (query->onConflict != NULL)
		lineage_targetlist(query, outer, rte->relid,
						   query->onConflict->onConflictSet, &targets);
	foreach(lc, query->mergeActionList)
		lineage_targetlist(query, outer, rte->relid,
						   ((MergeAction *) lfirst(lc))->targetList, &targets);
	return targets;
}

List *
bt_lineage_for_dml(Query *query, Oid *relid)
{
	return lineage_for_dml_levels(query, NIL, relid);
}

/* Add the copies of the data-modifying CTEs of query (any depth). */
static void
lineage_ctes(Query *query, List *outer, List **copies)
{
	List	   *levels = lcons(query, list_copy(outer));
	ListCell   *lc;

	foreach(lc, query->cteList)
	{
		CommonTableExpr *cte = (CommonTableExpr *) lfirst(lc);
		Query	   *ctequery;
		BtLineageCopy *copy;
		Oid			relid = InvalidOid;
		List	   *targets;

		if (!IsA(cte->ctequery, Query))
			continue;
		ctequery = (Query *) cte->ctequery;
		if (ctequery->cteList != NIL)
			lineage_ctes(ctequery, levels, copies);
		if (ctequery->commandType != CMD_INSERT &&
			ctequery->commandType != CMD_UPDATE &&
			ctequery->commandType != CMD_MERGE)
			continue;
		targets = lineage_for_dml_levels(ctequery, levels, &relid);
		if (targets == NIL)
			continue;
		copy = palloc(sizeof(BtLineageCopy));
		copy->relid = relid;
		copy->targets = targets;
		*copies = lappend(*copies, copy);
	}
}

/*
 * bt_lineage_for_ctes
 *		The lineage of the INSERT, UPDATE and MERGE statements in WITH
 *		clauses of query (after rewriting, before planning): a List of
 *		BtLineageCopy *, one per target.  Their values may come from sibling
 *		CTEs, also from another one's RETURNING.
 */
List *
bt_lineage_for_ctes(Query *query)
{
	List	   *copies = NIL;

	if (query->hasModifyingCTE)
		lineage_ctes(query, NIL, &copies);
	return copies;
}

/*
 * The lineage of a query whose output columns become the columns 1..n of
 * a new relation (CREATE TABLE AS, SELECT INTO, materialized views).
 */
List *
bt_lineage_for_output(Query *query)
{
	List	   *targets = NIL;
	ListCell   *lc;
	AttrNumber	attnum = 0;

	foreach(lc, query->targetList)
	{
		TargetEntry *tle = (TargetEntry *) lfirst(lc);
		BtLineageWalk walk;
		BtLineageTarget *target;

		if (tle->resjunk)
			continue;
		attnum++;

		memset(&walk, 0, sizeof(walk));
		walk.top = query;
		lineage_resolve_output(&walk, NIL, query, tle->resno);
		if (walk.categories == 0)
			continue;
		target = palloc(sizeof(BtLineageTarget));
		target->attnum = attnum;
		target->categories = walk.categories;
		target->sources = walk.sources;
		targets = lappend(targets, target);
	}
	return targets;
}

/*
 * bt_lineage_for_columns
 *		See lineage.h.  Allocated in the current context; NIL when none of
 *		cols is classified.
 */
List *
bt_lineage_for_columns(Oid relid, AttrNumber attnum, const Bitmapset *cols)
{
	BtLineageWalk walk;
	BtLineageTarget *target;
	int			i = -1;

	if (attnum <= 0)
		return NIL;
	memset(&walk, 0, sizeof(walk));
	while ((i = bms_next_member(cols, i)) >= 0)
		lineage_add_column(&walk, relid, i + FirstLowInvalidHeapAttributeNumber);
	if (walk.categories == 0)
		return NIL;
	target = palloc(sizeof(BtLineageTarget));
	target->attnum = attnum;
	target->categories = walk.categories;
	target->sources = walk.sources;
	return list_make1(target);
}

/*
 * Refuse a copy that would put biometric data and identity or financial
 * data into one column.  A column holds one category (labels.c keeps the
 * strongest), so such a column would be labelled biometric only and could
 * then be read, identity and all, by anyone who may read faces; a grant
 * does not change that, since the copy outlives the grant.
 */
static void
lineage_refuse_mixed(Oid relid, BtLineageTarget *target)
{
	BtAuditRecord rec;
	StringInfoData others;
	StringInfoData sources;
	ListCell   *lc;
	char	   *target_name = bt_labels_column_name(relid, target->attnum);

	rec.event = BT_EVENT_REFUSED;
	rec.grant_id = 0;
	rec.categories = target->categories;
	rec.columns = lappend(list_copy(target->sources), target_name);
	rec.detail = NULL;
	bt_audit_write(&rec);

	initStringInfo(&others);
	bt_categories_append_names(&others,
							   target->categories & bt_categories_conflicts(target->categories),
							   ", ", " and ");
	initStringInfo(&sources);
	foreach(lc, target->sources)
	{
		if (sources.len > 0)
			appendStringInfoString(&sources, ", ");
		appendStringInfoString(&sources, (char *) lfirst(lc));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot copy %s data and %s data into one column",
					bt_categories_name(bt_categories_strongest(target->categories)),
					others.data),
			 errdetail("Column %s would receive data derived from %s.",
					   target_name, sources.data),
			 errhint("Copy them into separate columns: each is then labelled with its own category.")));
}

/*
 * bt_lineage_apply
 *		Label the target columns of relid (from bt_lineage_for_dml or
 *		bt_lineage_for_output), after refusing (42501) a target that would
 *		receive two categories that may not meet.  Labels already present
 *		are skipped here and again by bt_lineage_label.  The caller keeps
 *		its own hooks out of the catalog work done here.
 */
void
bt_lineage_apply(Oid relid, List *targets)
{
	ListCell   *lc;

	if (targets == NIL || !OidIsValid(relid))
		return;

	foreach(lc, targets)
	{
		BtLineageTarget *target = (BtLineageTarget *) lfirst(lc);
		int			have = bt_labels_column_category(relid, target->attnum);

		/* the column's own label counts: ID numbers into a face column mix */
		if (bt_categories_mixed(target->categories | have))
		{
			target->categories |= have;
			lineage_refuse_mixed(relid, target);
		}
	}

	foreach(lc, targets)
	{
		BtLineageTarget *target = (BtLineageTarget *) lfirst(lc);

		if ((target->categories &
			 ~bt_labels_column_category(relid, target->attnum)) != 0)
			set_lineage(relid, target->attnum, target->categories,
						target->sources);
	}
}

/*
 * The query of a CREATE TABLE AS, following CREATE TABLE AS EXECUTE to the
 * prepared statement.  A copy, since the utility call may scribble on it.
 */
Query *
bt_lineage_ctas_query(CreateTableAsStmt *ctas)
{
	Query	   *query = castNode(Query, ctas->query);

	if (query->commandType == CMD_UTILITY &&
		IsA(query->utilityStmt, ExecuteStmt))
	{
		ExecuteStmt *execute = (ExecuteStmt *) query->utilityStmt;
		PreparedStatement *prepared = FetchPreparedStatement(execute->name, false);

		if (prepared == NULL ||
			list_length(prepared->plansource->query_list) != 1)
			return NULL;
		query = linitial_node(Query, prepared->plansource->query_list);
	}
	if (query->commandType != CMD_SELECT)
		return NULL;
	return copyObject(query);
}


/* ----------------------------------------------------------------
 *		biotoken.classified_columns
 * ----------------------------------------------------------------
 */

/*
 * Read biotoken.label_lineage into a hash keyed by (relid, attnum), in the
 * current memory context.  NULL if the table is not there.
 */
HTAB *
bt_lineage_load_map(void)
{
	Oid			lineage_oid = bt_lineage_table_oid();
	HASHCTL		ctl;
	HTAB	   *map;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!OidIsValid(lineage_oid))
		return NULL;

	ctl.keysize = sizeof(BtLineageKey);
	ctl.entrysize = sizeof(BtLineageEntry);
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("biotoken lineage map", 64, &ctl,
					  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	rel = table_open(lineage_oid, AccessShareLock);
	check_lineage_layout(rel);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Datum		values[Natts_bt_lineage];
		bool		nulls[Natts_bt_lineage];
		BtLineageKey key;
		BtLineageEntry *entry;
		char	   *category;
		Name		colname;

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		if (nulls[Anum_bt_lineage_relid - 1] ||
			nulls[Anum_bt_lineage_attnum - 1] ||
			nulls[Anum_bt_lineage_column_name - 1] ||
			nulls[Anum_bt_lineage_category - 1])
			continue;
		memset(&key, 0, sizeof(key));
		key.relid = DatumGetObjectId(values[Anum_bt_lineage_relid - 1]);
		key.attnum = DatumGetInt16(values[Anum_bt_lineage_attnum - 1]);
		category = TextDatumGetCString(values[Anum_bt_lineage_category - 1]);
		colname = DatumGetName(values[Anum_bt_lineage_column_name - 1]);
		entry = hash_search(map, &key, HASH_ENTER, NULL);
		entry->category = bt_categories_from_name(category);
		namestrcpy(&entry->column_name, NameStr(*colname));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return map;
}

