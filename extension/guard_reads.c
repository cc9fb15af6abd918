/*-------------------------------------------------------------------------
 *
 * guard_reads.c
 *	  Reads the executor makes that no permission check sees.
 *
 * PostgreSQL's permission information says which columns a statement
 * names.  Some code reads stored columns without being named: a row
 * trigger gets OLD and NEW (every column), a statement trigger its
 * transition tables, a CHECK constraint, an index expression or predicate
 * and a generated column are evaluated over the new row of an UPDATE (whose
 * untouched columns are the stored ones), and row-level security policies
 * over every row a statement looks at.  Utility commands evaluate the same
 * expressions over every stored row: ALTER TABLE ... ADD CHECK and
 * VALIDATE CONSTRAINT, ALTER COLUMN TYPE ... USING, ADD COLUMN ...
 * GENERATED, CREATE INDEX over expressions, and CREATE STATISTICS, whose
 * results (pg_stats_ext, pg_stats_ext_exprs) hold values of the columns
 * together.  Any of that may be user code that hands a face and an ID
 * number to the client in one notice.  This file says which columns such
 * code reads, so that the guard judges them the same way as a query over
 * those columns.
 *
 * INSERT is not a read of stored data: NEW holds the values the statement
 * itself writes.  INSERT ... ON CONFLICT DO UPDATE is an UPDATE of the
 * conflicting row.  Triggers PostgreSQL makes itself (foreign keys) are not
 * counted.  Deferred constraint triggers run later (SET CONSTRAINTS,
 * COMMIT): their reads are returned apart, for the guard to count then.
 *
 * Callers hold a lock on the relations; nothing here locks more than an
 * index the executor is about to open anyway.  Results are allocated in
 * the current memory context.
 *
 * IDENTIFICATION
 *	  extension/guard_reads.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rowsecurity.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/rls.h"
#include "utils/syscache.h"

#include "compat.h"
#include "guard_reads.h"
#include "labels.h"

#define COL(attnum)	((attnum) - FirstLowInvalidHeapAttributeNumber)

/* Add the columns a stored expression (nodeToString form) references. */
static void
add_stored_expr(const char *str, Bitmapset **cols)
{
	if (str != NULL)
		pull_varattnos(stringToNode(str), 1, cols);
}

/* Whether a trigger makes the executor hand it stored rows of the target. */
static bool
trigger_reads_rows(const Trigger *trigger, bool is_update)
{
	if (trigger->tgisinternal)
		return false;
	if (is_update ? !TRIGGER_FOR_UPDATE(trigger->tgtype) :
		!TRIGGER_FOR_DELETE(trigger->tgtype))
		return false;
	return TRIGGER_FOR_ROW(trigger->tgtype) ||
		trigger->tgoldtable != NULL || trigger->tgnewtable != NULL;
}

/*
 * bt_guard_reads_target
 *		See guard_reads.h.
 */
void
bt_guard_reads_target(Oid relid, int relflags, bool is_update,
					  const Bitmapset *updated, BtTargetReads *reads)
{
	Relation	rel;
	TupleConstr *constr;
	int			i;

	reads->cols = NULL;
	reads->deferred = NULL;
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return;
	constr = rel->rd_att->constr;

	if ((relflags & BT_LABELS_REL_TRIGGERS) && rel->trigdesc != NULL)
	{
		for (i = 0; i < rel->trigdesc->numtriggers; i++)
		{
			const Trigger *trigger = &rel->trigdesc->triggers[i];

			if (!trigger_reads_rows(trigger, is_update))
				continue;
			if (trigger->tgdeferrable)
				reads->deferred = bms_add_member(reads->deferred, COL(0));
			else
				reads->cols = bms_add_member(reads->cols, COL(0));
		}
	}

	if (is_update && (relflags & BT_LABELS_REL_CHECKS) && constr != NULL)
	{
		for (i = 0; i < constr->num_check; i++)
			add_stored_expr(constr->check[i].ccbin, &reads->cols);
	}

	if (is_update && (relflags & BT_LABELS_REL_GENERATED) && constr != NULL &&
		constr->has_generated_stored)
	{
		for (i = 0; i < constr->num_defval; i++)
		{
			AttrNumber	attnum = constr->defval[i].adnum;
			Bitmapset  *deps = NULL;

			/* recomputed when the UPDATE sets a column it depends on */
			if (TupleDescAttr(rel->rd_att, attnum - 1)->attgenerated !=
				ATTRIBUTE_GENERATED_STORED)
				continue;
			add_stored_expr(constr->defval[i].adbin, &deps);
			if (bms_overlap(deps, updated))
				reads->cols = bms_add_members(reads->cols, deps);
		}
	}

	if (is_update && (relflags & BT_LABELS_REL_INDEXES))
	{
		List	   *indexes = RelationGetIndexList(rel);
		ListCell   *lc;

		foreach(lc, indexes)
		{
			Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
			List	   *exprs = RelationGetIndexExpressions(index);
			List	   *pred = RelationGetIndexPredicate(index);

			if (exprs != NIL)
				pull_varattnos((Node *) exprs, 1, &reads->cols);
			if (pred != NIL)
				pull_varattnos((Node *) pred, 1, &reads->cols);
			index_close(index, NoLock);
		}
	}

	RelationClose(rel);
}

/*
 * bt_guard_reads_policies
 *		See guard_reads.h.  Every policy of the relation counts, whichever
 *		command and role it is for: stricter, and a policy is rarely
 *		written over classified columns.
 */
Bitmapset *
bt_guard_reads_policies(Oid relid)
{
	Relation	rel;
	Bitmapset  *cols = NULL;
	ListCell   *lc;

	if (check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED)
		return NULL;
	rel = RelationIdGetRelation(relid);
	if (!RelationIsValid(rel))
		return NULL;
	if (rel->rd_rsdesc != NULL)
	{
		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *policy = (RowSecurityPolicy *) lfirst(lc);

			if (policy->qual != NULL)
				pull_varattnos((Node *) policy->qual, 1, &cols);
			if (policy->with_check_qual != NULL)
				pull_varattnos((Node *) policy->with_check_qual, 1, &cols);
		}
	}
	RelationClose(rel);
	return cols;
}


/* ----------------------------------------------------------------
 *		Utility commands
 * ----------------------------------------------------------------
 */

/* Context of raw_column_walker: the relation whose columns are named. */
typedef struct BtRawCols
{
	Oid			relid;
	const char *relname;
	Bitmapset  *cols;
} BtRawCols;

/* Add the column a name stands for; the relation's own name: every one. */
static void
add_named_column(BtRawCols *ctx, const char *name)
{
	AttrNumber	attnum = get_attnum(ctx->relid, name);

	if (attnum != InvalidAttrNumber)
		ctx->cols = bms_add_member(ctx->cols, COL(Max(attnum, 0)));
	else if (ctx->relname != NULL && strcmp(name, ctx->relname) == 0)
		ctx->cols = bms_add_member(ctx->cols, COL(0));
}

/*
 * Collect the columns of ctx->relid a raw (not yet analysed) expression
 * names: the last name of each ColumnRef, or a whole-row reference by the
 * table's name.
 */
static bool
raw_column_walker(Node *node, BtRawCols *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, ColumnRef))
	{
		ColumnRef  *ref = (ColumnRef *) node;
		Node	   *last = llast(ref->fields);

		if (IsA(last, String))
			add_named_column(ctx, strVal(last));
		else if (IsA(last, A_Star))
			ctx->cols = bms_add_member(ctx->cols, COL(0));
		return false;
	}
	return raw_expression_tree_walker(node, raw_column_walker, (void *) ctx);
}

/* The columns an index definition reads: elements, expressions, WHERE. */
static void
index_columns(IndexStmt *stmt, BtRawCols *ctx)
{
	ListCell   *lc;
	List	   *params = list_concat_copy(stmt->indexParams,
										  stmt->indexIncludingParams);

	foreach(lc, params)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name != NULL)
			add_named_column(ctx, elem->name);
		else
			(void) raw_column_walker(elem->expr, ctx);
	}
	(void) raw_column_walker(stmt->whereClause, ctx);
}

/* The columns of a CHECK constraint of relid, by name, validated later. */
static void
constraint_columns(Oid relid, const char *conname, Bitmapset **cols)
{
	Oid			conoid = get_relation_constraint_oid(relid, conname, true);
	HeapTuple	tup;
	Datum		datum;
	bool		isnull;

	if (!OidIsValid(conoid))
		return;
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tup))
		return;
	if (((Form_pg_constraint) GETSTRUCT(tup))->contype == CONSTRAINT_CHECK)
	{
		datum = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conbin,
								&isnull);
		if (!isnull)
			add_stored_expr(TextDatumGetCString(datum), cols);
	}
	ReleaseSysCache(tup);
}

/* The columns one ALTER TABLE subcommand evaluates expressions over. */
static void
alter_table_columns(AlterTableCmd *cmd, BtRawCols *ctx)
{
	ListCell   *lc;

	if (cmd->def == NULL && bt_alter_table_subtype(cmd) != AT_ValidateConstraint)
		return;
	switch (bt_alter_table_subtype(cmd))
	{
		case AT_AddConstraint:
			if (IsA(cmd->def, Constraint))
			{
				Constraint *con = (Constraint *) cmd->def;

				if (con->contype == CONSTR_CHECK && !con->skip_validation)
					(void) raw_column_walker(con->raw_expr, ctx);
			}
			break;
		case AT_ValidateConstraint:
			constraint_columns(ctx->relid, cmd->name, &ctx->cols);
			break;
		case AT_AddColumn:
			if (IsA(cmd->def, ColumnDef))
			{
				foreach(lc, ((ColumnDef *) cmd->def)->constraints)
				{
					Constraint *con = lfirst_node(Constraint, lc);

					if (con->contype == CONSTR_GENERATED ||
						con->contype == CONSTR_CHECK)
						(void) raw_column_walker(con->raw_expr, ctx);
				}
			}
			break;
		case AT_AlterColumnType:
			if (cmd->name != NULL)
				add_named_column(ctx, cmd->name);
			if (IsA(cmd->def, ColumnDef))
				(void) raw_column_walker(((ColumnDef *) cmd->def)->raw_default,
										 ctx);
			break;
		case AT_AddIndex:
			if (IsA(cmd->def, IndexStmt))
				index_columns((IndexStmt *) cmd->def, ctx);
			break;
		default:
			break;
	}
}

/* Start a context for the relation rv names, or return false. */
static bool
raw_cols_init(BtRawCols *ctx, RangeVar *rv)
{
	ctx->relid = rv != NULL ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
	ctx->relname = rv != NULL ? rv->relname : NULL;
	ctx->cols = NULL;
	return OidIsValid(ctx->relid) &&
		bt_labels_relation_categories(ctx->relid) != 0;
}

/*
 * bt_guard_reads_utility
 *		See guard_reads.h.  Relations are found by name before the command
 *		runs, as the command itself will find them; one that does not
 *		exist yet, or is not classified, reads nothing classified.
 */
List *
bt_guard_reads_utility(Node *parsetree)
{
	BtRawCols	ctx;
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

				if (!raw_cols_init(&ctx, stmt->relation))
					return NIL;
				foreach(lc, stmt->cmds)
				{
					if (IsA(lfirst(lc), AlterTableCmd))
						alter_table_columns((AlterTableCmd *) lfirst(lc), &ctx);
				}
				break;
			}
		case T_IndexStmt:
			if (!raw_cols_init(&ctx, ((IndexStmt *) parsetree)->relation))
				return NIL;
			index_columns((IndexStmt *) parsetree, &ctx);
			break;
		case T_CreateStatsStmt:
			{
				CreateStatsStmt *stmt = (CreateStatsStmt *) parsetree;
				Node	   *from = list_length(stmt->relations) == 1 ?
					linitial(stmt->relations) : NULL;

				if (from == NULL || !IsA(from, RangeVar) ||
					!raw_cols_init(&ctx, (RangeVar *) from))
					return NIL;
				foreach(lc, stmt->exprs)
				{
					StatsElem  *elem = lfirst_node(StatsElem, lc);

					if (elem->name != NULL)
						add_named_column(&ctx, elem->name);
					else
						(void) raw_column_walker(elem->expr, &ctx);
				}
				break;
			}
		default:
			return NIL;
	}

	if (ctx.cols == NULL)
		return NIL;
	{
		BtUtilityRead *read = palloc(sizeof(BtUtilityRead));

		read->relid = ctx.relid;
		read->cols = ctx.cols;
		return list_make1(read);
	}
}

/*
 * bt_guard_copies_utility
 *		See guard_reads.h.
 */
List *
bt_guard_copies_utility(Node *parsetree)
{
	AlterTableStmt *stmt;
	List	   *result = NIL;
	ListCell   *lc;
	ListCell   *lc2;

	if (!IsA(parsetree, AlterTableStmt))
		return NIL;
	stmt = (AlterTableStmt *) parsetree;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);
		BtRawCols	ctx;
		char	   *target = NULL;

		if (!IsA(cmd, AlterTableCmd) || cmd->def == NULL ||
			!IsA(cmd->def, ColumnDef))
			continue;
		if (!raw_cols_init(&ctx, stmt->relation))
			return NIL;			/* nothing classified to copy */
		if (cmd->subtype == AT_AlterColumnType)
		{
			target = cmd->name;
			(void) raw_column_walker(((ColumnDef *) cmd->def)->raw_default, &ctx);
		}
		else if (bt_alter_table_subtype(cmd) == AT_AddColumn)
		{
			target = ((ColumnDef *) cmd->def)->colname;
			foreach(lc2, ((ColumnDef *) cmd->def)->constraints)
			{
				Constraint *con = lfirst_node(Constraint, lc2);

				if (con->contype == CONSTR_GENERATED)
					(void) raw_column_walker(con->raw_expr, &ctx);
			}
		}
		if (target != NULL && ctx.cols != NULL)
		{
			BtUtilityCopy *copy = palloc(sizeof(BtUtilityCopy));

			copy->relid = ctx.relid;
			copy->target = target;
			copy->cols = ctx.cols;
			result = lappend(result, copy);
		}
	}
	return result;
}
