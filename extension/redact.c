/*-------------------------------------------------------------------------
 *
 * redact.c
 *	  Keep secrets out of error reports: the statement and CONTEXT of
 *	  biotoken's own errors, and the stored values that PostgreSQL's
 *	  constraint errors print for relations with classified columns.
 *
 * biotoken's errors are raised while a statement may hold embeddings or ID
 * numbers as literals (a probe, a grant's purpose, the row a refusal is
 * about), and PostgreSQL writes the text of a failing statement
 * (log_min_error_statement) and its CONTEXT lines (PL/pgSQL and dynamic SQL
 * quote the inner statement) to the server log.  The emit_log_hook below
 * recognises every report biotoken raises, at any level and from any file,
 * by its source file (the Makefile lists them in BT_SOURCE_FILES; the field
 * also reaches the leader from a parallel worker), and hides the statement
 * and CONTEXT from the server log (the client, who sent them, still gets
 * the CONTEXT).  A PostgreSQL file of the same name would only lose its
 * STATEMENT lines; guc.c, the one such name, raises nothing and is left out.
 * Line breaks in biotoken's reports (from object names) are written as \n,
 * so that every server-log line that starts with "biotoken: access_log" is
 * a record.
 *
 * PostgreSQL's integrity errors (SQLSTATE class 23) print row values in
 * their DETAIL: "Failing row contains (...)" for NOT NULL, CHECK and
 * partition constraints, "Key (...)=(...)" for unique, exclusion and
 * foreign keys.  A statement that selects a row by face and fails a
 * constraint would show that row's ID number.  When the relation the error
 * names (errtable()) or, for a foreign key, the referenced relation has a
 * classified column, the DETAIL is replaced by one that shows no value,
 * and the statement and CONTEXT are hidden from the server log.  This is
 * done in the emit_log_hook for errors that reach the client or the log,
 * and in a PL/pgSQL plugin for errors caught by an EXCEPTION clause, before
 * the handler's first statement can read them (GET STACKED DIAGNOSTICS,
 * RAISE).  No access-log record is written: the guard refused nothing.
 *
 * Plans: a custom plan (EXPLAIN EXECUTE, auto_explain, a prepared statement
 * after its bound values were folded in) shows a probe as a real[] constant,
 * '{0.39,...}'::real[], and auto_explain writes that to the server log.  A
 * planner hook, after planning, retypes every non-null real[] constant that
 * is an argument of one of biotoken's C functions or operators as
 * biotoken.redacted_probe: the datum is unchanged (the functions read it as
 * before, and nothing at execution looks at a Const's type), but its
 * output function prints 'redacted', so EXPLAIN shows
 * 'redacted'::biotoken.redacted_probe.  Cost: a walk of the finished plan;
 * catalog lookups only for a real[] constant argument of some function.
 *
 * Limits: errors caught by other procedural languages (PL/Python's
 * spiexceptions, PL/Perl's $@) keep their DETAIL; a superuser who sets
 * log_min_messages above ERROR also skips emit_log_hook for the client's
 * copy; a PL/pgSQL plugin loaded after biotoken replaces this one (one
 * loaded before is chained).
 *
 * Memory: a replaced DETAIL is allocated in the context of the report it
 * replaces (ErrorContext, or the handler's copy).  No locks.  The relation
 * lookup reads the syscache and the category cache, only inside a
 * transaction; outside one the DETAIL is replaced without looking.
 *
 * IDENTIFICATION
 *	  extension/redact.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
#include "plpgsql.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "labels.h"
#include "redact.h"

static emit_log_hook_type prev_emit_log_hook = NULL;
static planner_hook_type prev_planner = NULL;

PG_FUNCTION_INFO_V1(biotoken_redacted_probe_in);
PG_FUNCTION_INFO_V1(biotoken_redacted_probe_out);

/* base names of biotoken's source files that raise reports */
static const char *const bt_source_files[] = {BT_SOURCE_FILES};

/* the start of every DETAIL this file writes */
#define BT_REDACTED_DETAIL	"Values are not shown: "

/* the PL/pgSQL plugin slot, our plugin, and the one we found there */
static PLpgSQL_plugin **plugin_ptr = NULL;
static PLpgSQL_plugin bt_plugin;
static PLpgSQL_plugin *prev_plugin = NULL;

/*
 * True if edata was raised by biotoken's code, in this process or in a
 * parallel worker of this leader.
 */
static bool
raised_by_biotoken(const ErrorData *edata)
{
	int			i;

	if (edata->filename == NULL)
		return false;
	for (i = 0; i < lengthof(bt_source_files); i++)
		if (strcmp(edata->filename, bt_source_files[i]) == 0)
			return true;
	return false;
}

/*
 * True if the relation schema.table (and, for a foreign key error, the
 * relation its constraint references) has a classified column, or if that
 * cannot be told (no transaction to look it up in): then the caller
 * redacts, failing closed.  Catalog lookups only; may throw only on a
 * catalog failure.
 */
static bool
relation_is_classified(const ErrorData *edata)
{
	Oid			nspid;
	Oid			relid;

	if (!IsTransactionState() || !OidIsValid(MyDatabaseId))
		return true;
	nspid = edata->schema_name ? get_namespace_oid(edata->schema_name, true) :
		InvalidOid;
	if (!OidIsValid(nspid))
		return true;
	relid = get_relname_relid(edata->table_name, nspid);
	if (!OidIsValid(relid))
		return true;
	if (bt_labels_relation_categories(relid) != 0)
		return true;

	/* "Key (...)=(...) is not present in / still referenced from" */
	if (edata->sqlerrcode == ERRCODE_FOREIGN_KEY_VIOLATION &&
		edata->constraint_name != NULL)
	{
		Oid			conoid = get_relation_constraint_oid(relid,
														 edata->constraint_name,
														 true);
		HeapTuple	tup;

		if (!OidIsValid(conoid))
			return true;
		tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
		if (HeapTupleIsValid(tup))
		{
			Oid			confrelid = ((Form_pg_constraint) GETSTRUCT(tup))->confrelid;

			ReleaseSysCache(tup);
			if (OidIsValid(confrelid) &&
				bt_labels_relation_categories(confrelid) != 0)
				return true;
		}
	}
	return false;
}

/*
 * If edata is an integrity error with a DETAIL about a relation with
 * classified columns, replace the DETAIL by one without values (in the
 * memory context of the report) and return true.  Idempotent.
 */
static bool
redact_constraint_detail(ErrorData *edata)
{
	MemoryContext oldcxt;
	char	   *detail;

	if (edata->elevel < ERROR ||
		ERRCODE_TO_CATEGORY(edata->sqlerrcode) !=
		ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		edata->table_name == NULL || edata->detail == NULL ||
		strncmp(edata->detail, BT_REDACTED_DETAIL,
				strlen(BT_REDACTED_DETAIL)) == 0)
		return false;
	if (!relation_is_classified(edata))
		return false;

	oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(edata->detail));
	detail = psprintf(BT_REDACTED_DETAIL "relation \"%s\" has classified columns.",
					  edata->table_name);
	MemoryContextSwitchTo(oldcxt);
	pfree(edata->detail);
	edata->detail = detail;
	return true;
}

/*
 * Replace *field (a report's text, in its memory context) by a copy with
 * every line break written as \n, if it has one.  biotoken's messages have
 * no line breaks of their own; one comes from a name (a column called
 * "x<newline>biotoken: access_log id=..."), and would start a server-log
 * line that a log shipper could take for an access-log record.
 */
static void
escape_line_breaks(char **field)
{
	const char *p;
	StringInfoData buf;
	MemoryContext oldcxt;

	if (*field == NULL || strpbrk(*field, "\n\r") == NULL)
		return;
	oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(*field));
	initStringInfo(&buf);
	for (p = *field; *p; p++)
	{
		if (*p == '\n')
			appendStringInfoString(&buf, "\\n");
		else if (*p == '\r')
			appendStringInfoString(&buf, "\\r");
		else
			appendStringInfoChar(&buf, *p);
	}
	MemoryContextSwitchTo(oldcxt);
	pfree(*field);
	*field = buf.data;
}

/*
 * Whether edata is PostgreSQL's permission error for a score function
 * (biometric_distance, also behind the <~> operator).  Told by the
 * untranslated message and the function's name, which is not translated.
 */
static bool
is_score_denial(const ErrorData *edata)
{
	return edata->elevel >= ERROR &&
		edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE &&
		edata->message_id != NULL &&
		strcmp(edata->message_id, "permission denied for function %s") == 0 &&
		edata->message != NULL &&
		strstr(edata->message, "biometric_distance") != NULL;
}

/*
 * bt_emit_log_hook
 *		Runs before a report goes to the server log and the client (both
 *		read the same ErrorData): hide the statement and CONTEXT of
 *		biotoken's reports, redact constraint DETAILs.
 */
static void
bt_emit_log_hook(ErrorData *edata)
{
	if (raised_by_biotoken(edata))
	{
		edata->hide_stmt = true;
		edata->hide_ctx = true;
		escape_line_breaks(&edata->message);
		escape_line_breaks(&edata->detail);
		escape_line_breaks(&edata->hint);
	}
	else if (redact_constraint_detail(edata))
	{
		/* the statement and COPY's CONTEXT may hold the row's values */
		edata->hide_stmt = true;
		edata->hide_ctx = true;
	}
	else if (is_score_denial(edata))
	{
		/*
		 * PostgreSQL's own "permission denied for function
		 * biometric_distance": the statement holds a probe, and the
		 * message alone does not say what to do.
		 */
		edata->hide_stmt = true;
		edata->hide_ctx = true;
		if (edata->hint == NULL)
			edata->hint = pstrdup("Scores and identification (biometric_distance, the <~> operator) need membership in role \"biotoken_matcher\"; biometric_verify answers yes or no without it.");
	}

	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/* ----------------------------------------------------------------
 * The PL/pgSQL plugin: errors caught by an EXCEPTION clause
 * ----------------------------------------------------------------
 */

static void
bt_plugin_func_setup(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	if (prev_plugin)
	{
		/* PL/pgSQL filled in its pointers in our struct: pass them on */
		prev_plugin->error_callback = bt_plugin.error_callback;
		prev_plugin->assign_expr = bt_plugin.assign_expr;
		prev_plugin->assign_value = bt_plugin.assign_value;
		prev_plugin->eval_datum = bt_plugin.eval_datum;
		prev_plugin->cast_value = bt_plugin.cast_value;
		if (prev_plugin->func_setup)
			prev_plugin->func_setup(estate, func);
	}
}

static void
bt_plugin_func_beg(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	if (prev_plugin && prev_plugin->func_beg)
		prev_plugin->func_beg(estate, func);
}

static void
bt_plugin_func_end(PLpgSQL_execstate *estate, PLpgSQL_function *func)
{
	if (prev_plugin && prev_plugin->func_end)
		prev_plugin->func_end(estate, func);
}

/*
 * Before each statement: inside an exception handler, estate->cur_error is
 * the caught report, which GET STACKED DIAGNOSTICS and RAISE read.  Costs a
 * pointer test outside handlers.
 */
static void
bt_plugin_stmt_beg(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt)
{
	if (unlikely(estate->cur_error != NULL))
	{
		ErrorData  *edata = estate->cur_error;

		if (raised_by_biotoken(edata) || redact_constraint_detail(edata))
		{
			/* a re-raise (RAISE;) logs no statement or CONTEXT either */
			edata->hide_stmt = true;
			edata->hide_ctx = true;
		}
	}
	if (prev_plugin && prev_plugin->stmt_beg)
		prev_plugin->stmt_beg(estate, stmt);
}

static void
bt_plugin_stmt_end(PLpgSQL_execstate *estate, PLpgSQL_stmt *stmt)
{
	if (prev_plugin && prev_plugin->stmt_end)
		prev_plugin->stmt_end(estate, stmt);
}

/* ----------------------------------------------------------------
 * Plans: probes shown as a redacted constant
 * ----------------------------------------------------------------
 */

typedef struct BtRedactPlan
{
	Oid			redacted_type;	/* InvalidOid until looked up */
	bool		looked_up;
} BtRedactPlan;

/* true if funcid is a C function of this library */
static bool
is_biotoken_function(Oid funcid)
{
	HeapTuple	tup;
	bool		result = false;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	if (!HeapTupleIsValid(tup))
		return false;
	if (((Form_pg_proc) GETSTRUCT(tup))->prolang == ClanguageId)
	{
		bool		isnull;
		Datum		probin = SysCacheGetAttr(PROCOID, tup,
											 Anum_pg_proc_probin, &isnull);

		if (!isnull)
		{
			char	   *lib = TextDatumGetCString(probin);
			const char *base = strrchr(lib, '/');

			base = base ? base + 1 : lib;
			result = strcmp(base, "biotoken") == 0 ||
				strncmp(base, "biotoken.", 9) == 0;
			pfree(lib);
		}
	}
	ReleaseSysCache(tup);
	return result;
}

/* the OID of biotoken.redacted_probe, or InvalidOid (not installed yet) */
static Oid
redacted_probe_type(void)
{
	Oid			nspid = get_namespace_oid("biotoken", true);

	if (!OidIsValid(nspid))
		return InvalidOid;
	return GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
						   CStringGetDatum("redacted_probe"),
						   ObjectIdGetDatum(nspid));
}

/* retype the real[] constant arguments of a call of funcid */
static void
redact_call(Oid funcid, List *args, BtRedactPlan *cx)
{
	ListCell   *lc;
	bool		checked = false;

	foreach(lc, args)
	{
		Const	   *c = (Const *) lfirst(lc);

		if (!IsA(c, Const) || c->consttype != FLOAT4ARRAYOID || c->constisnull)
			continue;
		if (!checked)
		{
			if (!is_biotoken_function(funcid))
				return;
			checked = true;
		}
		if (!cx->looked_up)
		{
			cx->redacted_type = redacted_probe_type();
			cx->looked_up = true;
		}
		if (!OidIsValid(cx->redacted_type))
			return;
		c->consttype = cx->redacted_type;
		c->consttypmod = -1;
	}
}

static bool
redact_expr_walker(Node *node, BtRedactPlan *cx)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr))
		redact_call(((FuncExpr *) node)->funcid, ((FuncExpr *) node)->args, cx);
	else if (IsA(node, OpExpr))
		redact_call(((OpExpr *) node)->opfuncid, ((OpExpr *) node)->args, cx);
	return expression_tree_walker(node, redact_expr_walker, (void *) cx);
}

#define REDACT(expr)	redact_expr_walker((Node *) (expr), cx)

/*
 * Walk a plan and its children, and every expression each node type
 * holds (plannodes.h).
 */
static void
redact_plan(Plan *plan, BtRedactPlan *cx)
{
	ListCell   *lc;

	if (plan == NULL)
		return;
	check_stack_depth();
	REDACT(plan->targetlist);
	REDACT(plan->qual);
	REDACT(plan->initPlan);

	switch (nodeTag(plan))
	{
		case T_Result:
			REDACT(((Result *) plan)->resconstantqual);
			break;
		case T_ModifyTable:
			{
				ModifyTable *mt = (ModifyTable *) plan;

				REDACT(mt->returningLists);
				REDACT(mt->onConflictSet);
				REDACT(mt->onConflictWhere);
				REDACT(mt->withCheckOptionLists);
				REDACT(mt->mergeActionLists);
			}
			break;
		case T_Append:
			foreach(lc, ((Append *) plan)->appendplans)
				redact_plan((Plan *) lfirst(lc), cx);
			break;
		case T_MergeAppend:
			foreach(lc, ((MergeAppend *) plan)->mergeplans)
				redact_plan((Plan *) lfirst(lc), cx);
			break;
		case T_BitmapAnd:
			foreach(lc, ((BitmapAnd *) plan)->bitmapplans)
				redact_plan((Plan *) lfirst(lc), cx);
			break;
		case T_BitmapOr:
			foreach(lc, ((BitmapOr *) plan)->bitmapplans)
				redact_plan((Plan *) lfirst(lc), cx);
			break;
		case T_SampleScan:
			REDACT(((SampleScan *) plan)->tablesample);
			break;
		case T_IndexScan:
			{
				IndexScan  *is = (IndexScan *) plan;

				REDACT(is->indexqual);
				REDACT(is->indexqualorig);
				REDACT(is->indexorderby);
				REDACT(is->indexorderbyorig);
			}
			break;
		case T_IndexOnlyScan:
			{
				IndexOnlyScan *ios = (IndexOnlyScan *) plan;

				REDACT(ios->indexqual);
				REDACT(ios->recheckqual);
				REDACT(ios->indexorderby);
			}
			break;
		case T_BitmapIndexScan:
			REDACT(((BitmapIndexScan *) plan)->indexqual);
			REDACT(((BitmapIndexScan *) plan)->indexqualorig);
			break;
		case T_BitmapHeapScan:
			REDACT(((BitmapHeapScan *) plan)->bitmapqualorig);
			break;
		case T_TidScan:
			REDACT(((TidScan *) plan)->tidquals);
			break;
		case T_TidRangeScan:
			REDACT(((TidRangeScan *) plan)->tidrangequals);
			break;
		case T_SubqueryScan:
			redact_plan(((SubqueryScan *) plan)->subplan, cx);
			break;
		case T_FunctionScan:
			REDACT(((FunctionScan *) plan)->functions);
			break;
		case T_ValuesScan:
			REDACT(((ValuesScan *) plan)->values_lists);
			break;
		case T_TableFuncScan:
			REDACT(((TableFuncScan *) plan)->tablefunc);
			break;
		case T_ForeignScan:
			REDACT(((ForeignScan *) plan)->fdw_exprs);
			REDACT(((ForeignScan *) plan)->fdw_recheck_quals);
			break;
		case T_CustomScan:
			REDACT(((CustomScan *) plan)->custom_exprs);
			foreach(lc, ((CustomScan *) plan)->custom_plans)
				redact_plan((Plan *) lfirst(lc), cx);
			break;
		case T_NestLoop:
			REDACT(((Join *) plan)->joinqual);
			break;
		case T_MergeJoin:
			REDACT(((Join *) plan)->joinqual);
			REDACT(((MergeJoin *) plan)->mergeclauses);
			break;
		case T_HashJoin:
			REDACT(((Join *) plan)->joinqual);
			REDACT(((HashJoin *) plan)->hashclauses);
			REDACT(((HashJoin *) plan)->hashkeys);
			break;
		case T_Hash:
			REDACT(((Hash *) plan)->hashkeys);
			break;
		case T_Memoize:
			REDACT(((Memoize *) plan)->param_exprs);
			break;
		case T_WindowAgg:
			REDACT(((WindowAgg *) plan)->startOffset);
			REDACT(((WindowAgg *) plan)->endOffset);
			REDACT(((WindowAgg *) plan)->runCondition);
			REDACT(((WindowAgg *) plan)->runConditionOrig);
			break;
		case T_Limit:
			REDACT(((Limit *) plan)->limitOffset);
			REDACT(((Limit *) plan)->limitCount);
			break;
		default:
			/* no expressions beyond the targetlist and qual */
			break;
	}
	redact_plan(plan->lefttree, cx);
	redact_plan(plan->righttree, cx);
}

/*
 * bt_planner
 *		Plan as usual, then retype the probe constants of the finished plan.
 */
static PlannedStmt *
bt_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *stmt;
	BtRedactPlan cx = {InvalidOid, false};
	ListCell   *lc;

	if (prev_planner)
		stmt = prev_planner(parse, query_string, cursorOptions, boundParams);
	else
		stmt = standard_planner(parse, query_string, cursorOptions, boundParams);

	redact_plan(stmt->planTree, &cx);
	foreach(lc, stmt->subplans)
		redact_plan((Plan *) lfirst(lc), &cx);
	return stmt;
}

/*
 * SQL: biotoken.redacted_probe_in(cstring) -> biotoken.redacted_probe
 *
 * The type only stands in for probes in plans: nothing may be entered as it.
 */
Datum
biotoken_redacted_probe_in(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot accept a value of type %s", "biotoken.redacted_probe")));
	PG_RETURN_VOID();			/* keep the compiler quiet */
}

/*
 * SQL: biotoken.redacted_probe_out(biotoken.redacted_probe) -> cstring
 *
 * Prints the same marker whatever the probe.
 */
Datum
biotoken_redacted_probe_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(pstrdup("redacted"));
}

/*
 * bt_redact_init
 *		Install the emit_log_hook, the planner hook and the PL/pgSQL
 *		plugin (chained to the previous ones); from _PG_init, when
 *		preloaded.
 */
void
bt_redact_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = bt_emit_log_hook;
	prev_planner = planner_hook;
	planner_hook = bt_planner;

	plugin_ptr = (PLpgSQL_plugin **) find_rendezvous_variable("PLpgSQL_plugin");
	prev_plugin = *plugin_ptr;
	memset(&bt_plugin, 0, sizeof(bt_plugin));
	bt_plugin.func_setup = bt_plugin_func_setup;
	bt_plugin.func_beg = bt_plugin_func_beg;
	bt_plugin.func_end = bt_plugin_func_end;
	bt_plugin.stmt_beg = bt_plugin_stmt_beg;
	bt_plugin.stmt_end = bt_plugin_stmt_end;
	*plugin_ptr = &bt_plugin;
}
