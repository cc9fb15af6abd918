/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  The separation guard: executor, planner and utility hooks that
 *	  collect the classified columns each statement reads and writes, and
 *	  refuse a statement that reads biometric data together with identity
 *	  or financial data unless an audit grant covers the session.
 *
 * What a statement reads and writes comes from the permission information
 * PostgreSQL already computes after rewriting: ExecutorCheckPerms_hook sees
 * selectedCols, insertedCols and updatedCols of every range-table entry
 * (views are expanded to the tables under them, inheritance children carry
 * translated column sets; from PostgreSQL 16 on the guard translates the
 * parent's sets itself, see child_perms), and it is called by
 * ExecutorStart, by COPY table TO/FROM and by the RI checks.  Rule actions are separate queries
 * with their own range tables, in which the rewriter has marked the OLD
 * and NEW columns they use.  A view counts as reading every column its
 * definition references, whichever of its columns the outer query uses:
 * the permission information does not say more, and the view's own WHERE
 * and joins read those columns for every row anyway.
 *
 * The statement boundary.  Reads made by nested executions (functions,
 * procedures, triggers, DO blocks) count toward the top-level statement
 * that caused them, and so do reads made while the statement is planned
 * (constant folding runs functions before the outer ExecutorStart).  The
 * guard therefore attributes every check between the end of one top-level
 * statement and the end of the next to the latter: the statement set is
 * reset when a top-level ExecutorEnd or ProcessUtility returns, and when a
 * transaction or subtransaction aborts at top level (a failed statement).
 * "Top level" is tracked with a nesting counter raised around the planner,
 * ExecutorStart/Run/Finish and ProcessUtility and restored in PG_FINALLY,
 * as pg_stat_statements does.  The statement set deliberately survives the
 * COMMIT and ROLLBACK a procedure runs: the procedure is still one
 * statement, and the values it read are still in its variables.
 *
 * Some user code runs at nesting level 0 outside any statement: deferred
 * constraint triggers fired by COMMIT, functions called through the
 * fast-path protocol.  No portal is active then, unlike for a statement
 * sent by the client (PortalStart and PortalRun set ActivePortal), so an
 * executor or utility start at level 0 without one puts the guard in
 * "orphan" mode: everything up to the end of the transaction counts as one
 * statement.  Otherwise each statement such code runs would end at level
 * 0 and reset the set, and a trigger could read a face and then an ID
 * number and hand both to the client in one notice.  A named portal left
 * open by the extended protocol keeps its columns counted until it is
 * closed, so a statement run meanwhile is judged together with it
 * (stricter, never looser).
 *
 * Portals.  A cursor's query reads its columns whenever it delivers rows,
 * not only in the statement that declared it.  So a portal starting a
 * query over classified columns keeps them (BtGuardPortal), and whenever
 * the portal runs that query in a later statement (FETCH, a DO block
 * fetching, the COMMIT that materialises a WITH HOLD cursor, a FETCH from
 * the held rows) they are judged again as read by that statement, before
 * its first row; functions evaluated during the fetch are judged together
 * with them.  While a grant covers the statement the portal's columns are
 * judged at every run, so a revocation stops the cursor and every fetch it
 * lets through is logged.
 *
 * Reads no permission check reports (guard_reads.c).  Triggers, CHECK
 * constraints, index expressions, generated columns and row-level security
 * policies read stored columns the permission information does not name;
 * collect_rtable adds them for the relations whose label-cache entry says
 * they have any (one flag test otherwise), with the statement's PlannedStmt
 * telling which relations are UPDATE or DELETE targets.  What deferred
 * triggers will read is kept for the transaction and judged by the
 * statement that fires them (SET CONSTRAINTS ... IMMEDIATE, or user code
 * run at COMMIT).  Utility commands that evaluate expressions over every
 * row (ALTER TABLE ... ADD CHECK, VALIDATE, TYPE ... USING, ADD COLUMN ...
 * GENERATED, CREATE INDEX, CREATE STATISTICS) are judged before they run.
 *
 * With biotoken.scope = transaction a second set accumulates over the
 * transaction in TopTransactionContext; it is dropped at commit and abort
 * (a procedure's COMMIT starts a new one) and not at subtransaction abort,
 * since rows a rolled-back savepoint returned were seen all the same.
 * Columns enter the sets only once the check that saw them has passed: a
 * refused statement read nothing.
 *
 * Parallel workers: the leader judges the whole plan, so a worker only
 * notes the columns of its own copy of the plan; statements that functions
 * run inside the worker are then judged with them, since the leader never
 * sees those.
 *
 * Lineage (lineage.c).  The planner hook hands INSERT, UPDATE and MERGE
 * to the lineage resolver after rewriting and before planning changes the
 * tree, the utility hook CREATE TABLE AS, SELECT INTO and materialized
 * views once the target exists; the labels lineage sets are made with the
 * guard's hooks out of the way (in_guard).
 *
 * Memory: the fast path (no classified relation in the range table)
 * allocates nothing, and neither does a typical classified statement: sets
 * keep a few columns inline.  What spills from the statement set goes to
 * its own small context, reset at the statement's end: a child of
 * TopMemoryContext rather than of an es_query_cxt, because a statement's
 * reads begin before its executor exists (planning) and outlive the
 * transactions a procedure commits.  The transaction set lives in
 * TopTransactionContext.
 *
 * IDENTIFICATION
 *	  extension/guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "commands/prepare.h"
#include "executor/executor.h"
#include "lib/ilist.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "rewrite/prs2lock.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "compat.h"
#include "grants.h"
#include "guard.h"
#include "guard_reads.h"
#include "guc.h"
#include "labels.h"
#include "lineage.h"

/* One classified column a statement reads or writes. */
typedef struct BtGuardColumn
{
	Oid			relid;
	AttrNumber	attnum;
	int			categories;		/* BtCategory bits of the column */
	bool		read;
	bool		written;
} BtGuardColumn;

/* Columns and relations a set holds without allocating. */
#define BT_INLINE_COLS	8
#define BT_INLINE_RELS	4

/*
 * The classified columns and relations of a statement or a transaction.
 * Small sets live in the inline arrays, so that the common classified
 * statement allocates nothing; larger ones spill into "cxt".  Initialise
 * with set_init; a set must not be copied by value.
 */
typedef struct BtGuardSet
{
	int			read_cats;		/* union of categories read */
	int			write_cats;		/* union of categories written */
	int			ncols;
	int			maxcols;
	BtGuardColumn *cols;
	int			nrels;
	int			maxrels;
	Oid		   *rels;			/* classified base tables touched */
	MemoryContext cxt;
	bool		spilled;		/* something was allocated in cxt */
	BtGuardColumn inline_cols[BT_INLINE_COLS];
	Oid			inline_rels[BT_INLINE_RELS];
} BtGuardSet;

/*
 * The classified columns a portal's query reads (a cursor, a refcursor a
 * function opened, psql's FETCH_COUNT cursor, a client's portal run in
 * pieces): judged again whenever the portal delivers rows in a statement
 * other than the one that counted them last, and at every run while a
 * grant covers the statement.  One per executor run, in its es_query_cxt;
 * a WITH HOLD cursor gets a second one in its portal's context, since its
 * rows outlive the executor.  Each unlinks itself when its context goes.
 */
typedef struct BtGuardPortal
{
	dlist_node	node;
	QueryDesc  *queryDesc;		/* the executor run, or NULL when held */
	Portal		portal;			/* the held portal, or NULL */
	bool		held_copy;		/* a held copy was made of this one */
	uint64		generation;		/* statement that counted it last */
	MemoryContextCallback callback;
	BtGuardSet	set;
} BtGuardPortal;

/* Saved hook values */
static ExecutorCheckPerms_hook_type prev_ExecutorCheckPerms = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static planner_hook_type prev_planner = NULL;
static object_access_hook_type prev_object_access = NULL;

/* Nesting of planner, executor and utility calls; 0 between statements. */
static int	nesting_level = 0;

/* The plan and EXPLAIN flag of the innermost ExecutorStart in progress. */
static PlannedStmt *starting_pstmt = NULL;
static bool starting_explain_only = false;

/* Nesting level at which EXPLAIN without ANALYZE plans its statement. */
static int	explain_plan_level = -1;

/* User code runs at level 0 outside a statement: count to the xact end. */
static bool orphan_mode = false;

/* Whether the check of the plan starting found classified columns. */
static bool starting_classified = false;

/* The portals whose columns are judged again when they deliver rows. */
static dlist_head guard_portals = DLIST_STATIC_INIT(guard_portals);

/* The relation a CREATE TABLE AS in progress created (its first). */
static bool capturing_created = false;
static Oid	created_relid = InvalidOid;

/* Set while the guard itself calls out (lineage labels); skip the hooks. */
static bool in_guard = false;

/* The current top-level statement */
static MemoryContext stmt_cxt = NULL;
static BtGuardSet stmt_set;
static bool stmt_dirty = false;
static int64 stmt_grant_id = 0; /* grant that let it through, logged */
static uint64 stmt_generation = 1;	/* bumped when a statement's set ends */
static TimestampTz stmt_grant_checked_at = 0;	/* when it was last read */

/*
 * How long a grant found for a statement is trusted before it is read
 * again: long-running statements (a procedure's loop) see a revocation or
 * an expiry within this time, without a table scan per nested statement.
 */
#define BT_GRANT_RECHECK_USECS	(1 * USECS_PER_SEC)

/* scope = transaction: in TopTransactionContext, NULL when empty */
static BtGuardSet *xact_set = NULL;

/* What deferred triggers queued so far will read; as xact_set */
static BtGuardSet *deferred_set = NULL;

static void bt_guard_reset_statement(void);


/* ----------------------------------------------------------------
 *		Column sets
 * ----------------------------------------------------------------
 */

/* Make *set empty; spilled arrays will be allocated in cxt. */
static void
set_init(BtGuardSet *set, MemoryContext cxt)
{
	set->read_cats = 0;
	set->write_cats = 0;
	set->ncols = 0;
	set->maxcols = BT_INLINE_COLS;
	set->cols = set->inline_cols;
	set->nrels = 0;
	set->maxrels = BT_INLINE_RELS;
	set->rels = set->inline_rels;
	set->cxt = cxt;
	set->spilled = false;
}

/*
 * Grow an array of a set to twice its size in set->cxt, moving it out of
 * the inline storage the first time.
 */
static void *
set_grow(BtGuardSet *set, void *array, void *inline_array, int *max,
		 Size elemsize)
{
	void	   *grown;

	grown = MemoryContextAlloc(set->cxt, *max * 2 * elemsize);
	memcpy(grown, array, *max * elemsize);
	if (array != inline_array)
		pfree(array);
	*max *= 2;
	set->spilled = true;
	return grown;
}

/*
 * Note that a set touches a classified relation.
 */
static void
set_add_relation(BtGuardSet *set, Oid relid)
{
	int			i;

	for (i = 0; i < set->nrels; i++)
		if (set->rels[i] == relid)
			return;
	if (set->nrels == set->maxrels)
		set->rels = set_grow(set, set->rels, set->inline_rels, &set->maxrels,
							 sizeof(Oid));
	set->rels[set->nrels++] = relid;
}

/*
 * Add one column with known categories (non-zero) to a set.
 */
static void
set_add_entry(BtGuardSet *set, Oid relid, AttrNumber attnum, int cats,
			  bool read, bool written)
{
	int			i;
	BtGuardColumn *col;

	if (read)
		set->read_cats |= cats;
	if (written)
		set->write_cats |= cats;

	for (i = 0; i < set->ncols; i++)
	{
		col = &set->cols[i];
		if (col->relid == relid && col->attnum == attnum)
		{
			col->read |= read;
			col->written |= written;
			return;
		}
	}
	if (set->ncols == set->maxcols)
		set->cols = set_grow(set, set->cols, set->inline_cols, &set->maxcols,
							 sizeof(BtGuardColumn));
	col = &set->cols[set->ncols++];
	col->relid = relid;
	col->attnum = attnum;
	col->categories = cats;
	col->read = read;
	col->written = written;
}

/*
 * Add a column of a relation if it is classified; attnum 0 is the whole
 * row (SELECT t, row_to_json(t), t::text), that is every column.  System
 * columns carry no classified data.
 */
static void
set_add_column(BtGuardSet *set, Oid relid, AttrNumber attnum, bool read,
			   bool written)
{
	int			cats;

	if (attnum == InvalidAttrNumber)
	{
		AttrNumber	natts = bt_labels_relation_natts(relid);
		AttrNumber	a;

		for (a = 1; a <= natts; a++)
			set_add_column(set, relid, a, read, written);
		return;
	}
	if (attnum < 0)
		return;

	cats = bt_labels_column_category(relid, attnum);
	if (cats != 0)
		set_add_entry(set, relid, attnum, cats, read, written);
}

/*
 * Merge src into dst; dst's arrays grow in dst->cxt.
 */
static void
set_merge(BtGuardSet *dst, const BtGuardSet *src)
{
	int			i;

	for (i = 0; i < src->nrels; i++)
		set_add_relation(dst, src->rels[i]);
	for (i = 0; i < src->ncols; i++)
	{
		const BtGuardColumn *col = &src->cols[i];

		set_add_entry(dst, col->relid, col->attnum, col->categories,
					  col->read, col->written);
	}
}

/* Whether reads and writes bring categories together that may not meet. */
static inline bool
combines(int read_cats, int write_cats)
{
	return bt_categories_combine(read_cats, write_cats);
}


/* ----------------------------------------------------------------
 *		Collecting a statement's columns
 * ----------------------------------------------------------------
 */

/*
 * Whether a range-table entry is a relation whose data the guard judges.
 * Views are judged through the tables under them, which the rewriter has
 * put into the same range table.  The EXCLUDED pseudo-relation of an
 * upsert (relkind composite type) holds the row being inserted: the
 * values the statement writes, whose own sources are judged where they
 * are read, not stored data.
 */
static inline bool
rte_is_judged(const RangeTblEntry *rte)
{
	return rte->rtekind == RTE_RELATION && rte->relkind != RELKIND_VIEW &&
		rte->relkind != RELKIND_COMPOSITE_TYPE;
}

/*
 * Add the members of a column bitmapset of a classified relation, whose
 * categories *rel holds (from bt_labels_relation_lookup), to a set.  The
 * common columns are read from *rel directly; the whole row and columns
 * newer than the cache entry take set_add_column, whose catalog access may
 * invalidate *rel, so it is looked up again after that.
 */
static void
set_add_classified(BtGuardSet *set, Oid relid, BtLabelsRelation *rel,
				   const Bitmapset *cols, bool read, bool written)
{
	int			i = -1;

	if (cols == NULL)
		return;
	while ((i = bms_next_member(cols, i)) >= 0)
	{
		AttrNumber	attnum = i + FirstLowInvalidHeapAttributeNumber;

		if (attnum < 0)
			continue;			/* system columns carry no classified data */
		if (attnum > 0 && attnum <= rel->natts)
		{
			int			cats = rel->attcats != NULL ?
				BT_LABELS_ATT_CATEGORY(rel->attcats[attnum - 1]) : 0;

			if (cats != 0)
				set_add_entry(set, relid, attnum, cats, read, written);
			continue;
		}
		set_add_column(set, relid, attnum, read, written);
		bt_labels_relation_lookup(relid, rel);
	}
}

/* Add every member of a column set (offset attnums) as read. */
static void
set_add_read_cols(BtGuardSet *set, Oid relid, const Bitmapset *cols)
{
	int			i = -1;

	while ((i = bms_next_member(cols, i)) >= 0)
		set_add_column(set, relid, i + FirstLowInvalidHeapAttributeNumber,
					   true, false);
}

/*
 * Note that the transaction's deferred triggers will read these columns:
 * the statement that fires them (SET CONSTRAINTS, COMMIT) counts them.
 * Inside a procedure, function or DO block (a nested statement) that may
 * be the enclosing statement itself, whose COMMIT fires them without a
 * hook of ours seeing it: there they count at once, in set (stricter).
 */
static void
note_deferred_reads(BtGuardSet *set, Oid relid, const Bitmapset *cols)
{
	if (nesting_level > 1)
		set_add_read_cols(set, relid, cols);
	if (deferred_set == NULL)
	{
		deferred_set = MemoryContextAlloc(TopTransactionContext,
										  sizeof(BtGuardSet));
		set_init(deferred_set, TopTransactionContext);
	}
	set_add_relation(deferred_set, relid);
	set_add_read_cols(deferred_set, relid, cols);
}

/*
 * The reads the executor makes of a classified relation beyond its
 * permission information (guard_reads.c): its row-level security policies
 * and, when it is a target of an UPDATE or DELETE in pstmt, its triggers,
 * CHECK constraints, index expressions and generated columns.  Out of
 * line: most relations have none of them.
 */
static pg_noinline void
collect_executor_reads(BtGuardSet *set, RangeTblEntry *rte,
					   const BtRtePerms *perms, Index rti, int relflags,
					   PlannedStmt *pstmt)
{
	bool		is_update = false;
	bool		is_delete = false;

	if (relflags & BT_LABELS_REL_RLS)
		set_add_read_cols(set, rte->relid, bt_guard_reads_policies(rte->relid));

	if (pstmt != NULL && list_member_int(pstmt->resultRelations, rti))
	{
		switch (pstmt->commandType)
		{
			case CMD_UPDATE:
				is_update = true;
				break;
			case CMD_DELETE:
				is_delete = true;
				break;
			case CMD_MERGE:
				is_update = (perms->required & ACL_UPDATE) != 0 ||
					perms->required == 0;
				is_delete = (perms->required & ACL_DELETE) != 0;
				break;
			case CMD_INSERT:
				/* ON CONFLICT DO UPDATE updates the conflicting row */
				is_update = (perms->required & ACL_UPDATE) != 0;
				break;
			default:
				break;
		}
	}
	if ((is_update || is_delete) &&
		(relflags & (BT_LABELS_REL_TRIGGERS | BT_LABELS_REL_CHECKS |
					 BT_LABELS_REL_INDEXES | BT_LABELS_REL_GENERATED)))
	{
		BtTargetReads reads;

		if (is_update)
		{
			bt_guard_reads_target(rte->relid, relflags, true,
								  perms->updated, &reads);
			set_add_read_cols(set, rte->relid, reads.cols);
			if (reads.deferred != NULL)
				note_deferred_reads(set, rte->relid, reads.deferred);
		}
		if (is_delete)
		{
			bt_guard_reads_target(rte->relid, relflags, false, NULL, &reads);
			set_add_read_cols(set, rte->relid, reads.cols);
			if (reads.deferred != NULL)
				note_deferred_reads(set, rte->relid, reads.deferred);
		}
	}
}

/*
 * A parent's column set in the column numbers of one of its inheritance
 * children or partitions (whole row stays whole row); palloc'd in the
 * current memory context.
 */
static Bitmapset *
translate_to_child(const AppendRelInfo *appinfo, const Bitmapset *cols)
{
	Bitmapset  *result = NULL;
	int			c;

	if (cols == NULL)
		return NULL;
	if (bms_is_member(InvalidAttrNumber - FirstLowInvalidHeapAttributeNumber,
					  cols))
		result = bms_add_member(result,
								InvalidAttrNumber - FirstLowInvalidHeapAttributeNumber);
	for (c = 1; c <= appinfo->num_child_cols; c++)
	{
		AttrNumber	p = appinfo->parent_colnos[c - 1];

		if (p > 0 && bms_is_member(p - FirstLowInvalidHeapAttributeNumber, cols))
			result = bms_add_member(result, c - FirstLowInvalidHeapAttributeNumber);
	}
	return result;
}

/*
 * The column sets of range-table entry rti, an inheritance child or
 * partition without permission information of its own (PostgreSQL 16 and
 * later give it none): its parent's, translated through the plan's
 * AppendRelInfos, up to the ancestor that has them; no required
 * permissions, as before 16.  A label on a child's column then counts
 * when the statement names the parent, as before 16.  Returns false if
 * the plan says nothing of rti (a parallel worker's copy of a plan has no
 * AppendRelInfos; the leader judged it).
 */
static bool
child_perms(List *rangeTable, List *permInfos, List *appendRels, Index rti,
			BtRtePerms *perms)
{
	ListCell   *lc;

	foreach(lc, appendRels)
	{
		AppendRelInfo *appinfo = lfirst_node(AppendRelInfo, lc);
		RangeTblEntry *prte;
		BtRtePerms	parent;

		if (appinfo->child_relid != rti)
			continue;
		prte = rt_fetch(appinfo->parent_relid, rangeTable);
		if (!bt_rte_perms(permInfos, prte, &parent) &&
			!child_perms(rangeTable, permInfos, appendRels,
						 appinfo->parent_relid, &parent))
			return false;
		perms->selected = translate_to_child(appinfo, parent.selected);
		perms->inserted = translate_to_child(appinfo, parent.inserted);
		perms->updated = translate_to_child(appinfo, parent.updated);
		perms->extra_updated = translate_to_child(appinfo, parent.extra_updated);
		perms->required = 0;
		return true;
	}
	return false;
}

/*
 * Add the classified columns of a range table's permission information
 * (permInfos: the RTEPermissionInfo list, NIL before 16): the selected
 * columns are read, the inserted and updated ones written; and what the
 * executor reads beyond that (collect_executor_reads), pstmt telling the
 * targets (NULL: none).  One cache lookup per relation; nothing is
 * allocated unless the set spills or a classified child's sets must be
 * translated.
 */
static void
collect_rtable(BtGuardSet *set, List *rangeTable, List *permInfos,
			   PlannedStmt *pstmt)
{
	ListCell   *lc;
	Index		rti = 0;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		BtLabelsRelation rel;
		BtRtePerms	perms;
		int			relflags;

		rti++;
		if (!rte_is_judged(rte))
			continue;
		bt_labels_relation_lookup(rte->relid, &rel);
		if (rel.categories == 0)
			continue;
		if (!bt_rte_perms(permInfos, rte, &perms) &&
			!(starting_pstmt != NULL && starting_pstmt->rtable == rangeTable &&
			  child_perms(rangeTable, permInfos, starting_pstmt->appendRelations,
						  rti, &perms)))
			continue;

		relflags = rel.relflags;
		set_add_relation(set, rte->relid);
		set_add_classified(set, rte->relid, &rel, perms.selected, true, false);
		set_add_classified(set, rte->relid, &rel, perms.inserted, false, true);
		set_add_classified(set, rte->relid, &rel, perms.updated, false, true);
		set_add_classified(set, rte->relid, &rel, perms.extra_updated, false, true);
		if (relflags & (BT_LABELS_REL_TRIGGERS | BT_LABELS_REL_CHECKS |
						BT_LABELS_REL_INDEXES | BT_LABELS_REL_RLS |
						BT_LABELS_REL_GENERATED))
			collect_executor_reads(set, rte, &perms, rti, relflags, pstmt);
	}
}

/* ----------------------------------------------------------------
 *		The decision
 * ----------------------------------------------------------------
 */

/* append "schema.table.column (category)" for each selected column */
static void
append_column_list(StringInfo buf, const BtGuardSet *set, bool want_read,
				   int want_cats)
{
	int			i;
	bool		first = true;

	for (i = 0; i < set->ncols; i++)
	{
		const BtGuardColumn *col = &set->cols[i];

		if ((want_read ? !col->read : !col->written) ||
			(col->categories & want_cats) == 0)
			continue;
		if (!first)
			appendStringInfoString(buf, ", ");
		appendStringInfo(buf, "%s (", bt_labels_column_name(col->relid, col->attnum));
		bt_categories_append_names(buf, col->categories, ", ", ", ");
		appendStringInfoChar(buf, ')');
		first = false;
	}
}

/*
 * Build the access-log record of a combining statement: the categories
 * involved and every classified column it reads, and every identity or
 * financial column it writes.  Allocated in the current context.
 */
static void
fill_record(BtAuditRecord *rec, BtAuditEvent event, int64 grant_id,
			const BtGuardSet *all)
{
	int			i;
	int			others = bt_categories_conflicts(all->read_cats);

	rec->event = event;
	rec->grant_id = grant_id;
	rec->categories = all->read_cats | (all->write_cats & others);
	rec->columns = NIL;
	rec->detail = NULL;
	for (i = 0; i < all->ncols; i++)
	{
		const BtGuardColumn *col = &all->cols[i];

		if (col->read || (col->categories & others))
			rec->columns = lappend(rec->columns,
								   bt_labels_column_name(col->relid, col->attnum));
	}
}

/*
 * Log and throw (or, for callers that asked not to throw, return false)
 * the refusal of a statement whose columns, together with those already
 * accumulated, are "all".
 */
static bool
refuse(const BtGuardSet *all, bool transaction, bool ereport_on_violation)
{
	BtAuditRecord rec;
	StringInfoData first;
	StringInfoData others;
	StringInfoData reads;
	StringInfoData writes;
	int			conflicts = bt_categories_conflicts(all->read_cats);
	int			met = (all->read_cats | all->write_cats) & conflicts;
	int			written_other = all->write_cats & conflicts;
	int			readers = 0;
	int			i;
	int64		partial;
	Oid			missing;
	char	   *missing_name = NULL;
	char	   *partial_detail = NULL;

	/*
	 * A grant that covers the session user but does not list every table:
	 * the record and the hint say which grant and which table, so nobody has
	 * to guess why a grant they hold did not apply.
	 */
	partial = bt_grants_find_uncovering(all->rels, all->nrels, &missing);
	if (partial != 0)
	{
		StringInfoData detail;

		missing_name = quote_qualified_identifier(get_namespace_name(get_rel_namespace(missing)),
												  get_rel_name(missing));
		initStringInfo(&detail);
		appendStringInfo(&detail, "{\"grant_not_covering\": " INT64_FORMAT
						 ", \"relation_not_listed\": ", partial);
		escape_json(&detail, missing_name);
		appendStringInfoChar(&detail, '}');
		partial_detail = detail.data;
	}

	/* the record is written first: it must outlive the rollback */
	fill_record(&rec, BT_EVENT_REFUSED, 0, all);
	rec.detail = partial_detail;
	bt_audit_write(&rec);

	if (!ereport_on_violation)
		return false;

	/* the categories read that meet what they may not meet, and those */
	for (i = 0; i < bt_ncategories; i++)
		if ((all->read_cats & bt_categories[i].bit) &&
			(met & bt_categories[i].may_not_meet))
			readers |= bt_categories[i].bit;
	initStringInfo(&first);
	bt_categories_append_names(&first, readers, ", ", " and ");
	initStringInfo(&others);
	bt_categories_append_names(&others, met & ~readers, ", ", " and ");
	initStringInfo(&reads);
	append_column_list(&reads, all, true, BT_CAT_ALL);
	initStringInfo(&writes);
	if (written_other)
		append_column_list(&writes, all, false, conflicts);

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("cannot combine %s data with %s data", first.data,
					others.data),
			 writes.len > 0 ?
			 errdetail("The %s reads %s and writes %s.",
					   transaction ? "transaction" : "statement",
					   reads.data, writes.data) :
			 errdetail("The %s reads %s.",
					   transaction ? "transaction" : "statement",
					   reads.data),
			 partial != 0 ?
			 errhint("Audit grant " INT64_FORMAT " does not list table %s; ask a member of biotoken_admin for a grant that lists every classified table the statement reads.",
					 partial, missing_name) :
			 errhint("Ask a member of biotoken_admin for an audit grant (biotoken.grant_audit)."),
	/* the statement may hold the very ID numbers or embeddings refused */
			 errhidestmt(true)));
	return false;				/* keep the compiler quiet */
}

/*
 * Write a 'read' record (biotoken.log_reads) for the biometric columns of
 * new_set that the statement has not read before; a function reading a
 * face in a loop is logged once per statement, not once per call.
 */
static void
note_new_biometric_reads(const BtGuardSet *new_set)
{
	List	   *columns = NIL;
	int			i;
	int			j;

	for (i = 0; i < new_set->ncols; i++)
	{
		const BtGuardColumn *col = &new_set->cols[i];
		bool		seen = false;

		if (!col->read || (col->categories & BT_CAT_BIOMETRIC) == 0)
			continue;
		for (j = 0; j < stmt_set.ncols && !seen; j++)
			seen = stmt_set.cols[j].relid == col->relid &&
				stmt_set.cols[j].attnum == col->attnum && stmt_set.cols[j].read;
		if (!seen)
			columns = lappend(columns, bt_labels_column_name(col->relid, col->attnum));
	}
	if (columns != NIL)
		bt_audit_note_read(columns);
}

/*
 * Under scope = transaction, add the columns of a check that passed (and
 * was judged) to the transaction set.
 */
static void
note_transaction_columns(const BtGuardSet *set, bool judge)
{
	if (bt_scope != BT_SCOPE_TRANSACTION || !judge)
		return;
	if (xact_set == NULL)
	{
		xact_set = MemoryContextAlloc(TopTransactionContext,
									  sizeof(BtGuardSet));
		set_init(xact_set, TopTransactionContext);
	}
	set_merge(xact_set, set);
}

/*
 * Decide on the columns new_set of one permission check, given what the
 * statement (and, under scope = transaction, the transaction) already read
 * and wrote; on success they join those sets.  See guard_check.
 */
static bool
guard_decide(BtGuardSet *new_set, bool ereport_on_violation, bool judge,
			 bool own_reads)
{
	BtGuardSet	all;
	bool		transaction = (bt_scope == BT_SCOPE_TRANSACTION);
	int			read_cats;
	int			write_cats;
	bool		new_relation = false;
	int			i;
	int64		grant_id;
	TimestampTz now;

	if (!stmt_dirty)
		set_init(&stmt_set, stmt_cxt);

	read_cats = stmt_set.read_cats | new_set->read_cats;
	write_cats = stmt_set.write_cats | new_set->write_cats;
	if (transaction && xact_set != NULL)
	{
		read_cats |= xact_set->read_cats;
		write_cats |= xact_set->write_cats;
	}

	if (judge && combines(read_cats, write_cats))
	{
		/* Everything the decision is about, for the grant and the log */
		set_init(&all, CurrentMemoryContext);
		if (transaction && xact_set != NULL)
			set_merge(&all, xact_set);
		set_merge(&all, &stmt_set);
		set_merge(&all, new_set);

		/*
		 * A grant found for this statement a moment ago still holds unless
		 * the statement now touches a relation it did not touch then;
		 * otherwise grant rows and memberships are read again.
		 */
		for (i = 0; i < new_set->nrels && !new_relation; i++)
		{
			int			j;

			new_relation = true;
			for (j = 0; j < stmt_set.nrels; j++)
				if (stmt_set.rels[j] == new_set->rels[i])
					new_relation = false;
		}

		now = GetCurrentTimestamp();
		if (stmt_grant_id != 0 && !new_relation &&
			now - stmt_grant_checked_at < BT_GRANT_RECHECK_USECS)
			grant_id = stmt_grant_id;
		else
		{
			grant_id = bt_grants_find_covering(all.rels, all.nrels);
			stmt_grant_checked_at = now;
		}

		if (grant_id == 0)
			return refuse(&all, transaction && xact_set != NULL &&
						  !combines(stmt_set.read_cats | new_set->read_cats,
									stmt_set.write_cats | new_set->write_cats),
						  ereport_on_violation);

		if (grant_id != stmt_grant_id)
		{
			BtAuditRecord rec;

			fill_record(&rec, BT_EVENT_ALLOWED, grant_id, &all);
			bt_audit_write(&rec);
			stmt_grant_id = grant_id;
		}
	}

	/*
	 * The check passed.  With biotoken.log_reads, log the biometric columns
	 * the statement reads for the first time, before any row is returned.
	 */
	if (bt_log_reads && own_reads && (new_set->read_cats & BT_CAT_BIOMETRIC))
		note_new_biometric_reads(new_set);

	/* The columns now count as read and written. */
	set_merge(&stmt_set, new_set);
	stmt_dirty = true;
	note_transaction_columns(new_set, judge);
	return true;
}

/*
 * guard_check for a first check that needs a decision: take the columns
 * collected into the statement set back out, then decide.  Out of line, as
 * is guard_check_more, so that the common path has no set on its stack.
 */
static pg_noinline bool
guard_check_first(bool ereport_on_violation, bool judge, bool own_reads)
{
	BtGuardSet	new_set;

	set_init(&new_set, CurrentMemoryContext);
	set_merge(&new_set, &stmt_set);
	if (stmt_set.spilled)
		MemoryContextReset(stmt_cxt);
	set_init(&stmt_set, stmt_cxt);
	return guard_decide(&new_set, ereport_on_violation, judge, own_reads);
}

/* guard_check for a later check of the statement: collect, then decide */
static pg_noinline bool
guard_check_more(List *rangeTable, List *permInfos, PlannedStmt *pstmt,
				 bool ereport_on_violation, bool judge, bool own_reads)
{
	BtGuardSet	new_set;

	set_init(&new_set, CurrentMemoryContext);
	collect_rtable(&new_set, rangeTable, permInfos, pstmt);
	return guard_decide(&new_set, ereport_on_violation, judge, own_reads);
}

/*
 * The slow path: the statement touches a classified relation.  Collect its
 * columns, combine them with what the statement (and, under scope =
 * transaction, the transaction) already read and wrote, and decide.
 * Returns true if the statement may proceed.  Without "judge" the columns
 * are only noted (the guard is off, or this is a parallel worker's copy of
 * a plan the leader judged); without "own_reads" they are not logged for
 * biotoken.log_reads either (the leader logs them).
 *
 * Columns enter the statement set only once the check that saw them has
 * passed.  The common check, the first of its statement, that combines
 * nothing and has no biometric read to log, passes without a decision; its
 * columns are collected straight into the (empty) statement set, where
 * guard_decide would merge them unchanged.  Any other first check takes
 * them back out before deciding, so that a refusal, or an error on the
 * way, leaves the statement set empty as it was.
 */
static bool
guard_check(List *rangeTable, List *permInfos, PlannedStmt *pstmt,
			bool ereport_on_violation, bool judge, bool own_reads)
{
	int			read_cats;
	int			write_cats;

	if (stmt_cxt == NULL)
		stmt_cxt = AllocSetContextCreate(TopMemoryContext,
										 "biotoken guard statement",
										 ALLOCSET_SMALL_SIZES);

	if (stmt_dirty)
		return guard_check_more(rangeTable, permInfos, pstmt,
								ereport_on_violation, judge, own_reads);

	/* a collection that failed half-way may have spilled */
	if (stmt_set.spilled)
		MemoryContextReset(stmt_cxt);
	set_init(&stmt_set, stmt_cxt);
	collect_rtable(&stmt_set, rangeTable, permInfos, pstmt);

	read_cats = stmt_set.read_cats;
	write_cats = stmt_set.write_cats;
	if (bt_scope == BT_SCOPE_TRANSACTION && xact_set != NULL)
	{
		read_cats |= xact_set->read_cats;
		write_cats |= xact_set->write_cats;
	}
	if (!(judge && combines(read_cats, write_cats)) &&
		!(bt_log_reads && own_reads &&
		  (stmt_set.read_cats & BT_CAT_BIOMETRIC)))
	{
		stmt_dirty = true;
		note_transaction_columns(&stmt_set, judge);
		return true;
	}

	/* a decision is needed: the columns have not passed yet */
	return guard_check_first(ereport_on_violation, judge, own_reads);
}


/* ----------------------------------------------------------------
 *		Lineage
 * ----------------------------------------------------------------
 */

/*
 * Label what a statement copied into relid (lineage.c), with the guard's
 * own hooks out of the way of the catalog work that takes.
 */
static void
lineage_apply(Oid relid, List *targets)
{
	bool		save_in_guard = in_guard;

	if (targets == NIL || !OidIsValid(relid))
		return;
	in_guard = true;
	PG_TRY();
	{
		bt_lineage_apply(relid, targets);
	}
	PG_FINALLY();
	{
		in_guard = save_in_guard;
	}
	PG_END_TRY();
}


/* ----------------------------------------------------------------
 *		Reads outside the permission information
 * ----------------------------------------------------------------
 */

/*
 * Judge columns read by the current statement that no permission check
 * reported (a portal's, deferred triggers', a utility command's), as if a
 * check had: throws the refusal, or adds them to the statement set.
 */
static void
judge_extra_set(const BtGuardSet *set)
{
	BtGuardSet	new_set;

	if (in_guard || bt_audit_is_writer() || IsParallelWorker())
		return;
	if (!bt_guard && !bt_log_reads)
		return;
	if (stmt_cxt == NULL)
		stmt_cxt = AllocSetContextCreate(TopMemoryContext,
										 "biotoken guard statement",
										 ALLOCSET_SMALL_SIZES);
	set_init(&new_set, CurrentMemoryContext);
	set_merge(&new_set, set);
	(void) guard_decide(&new_set, true, bt_guard, true);
}

/*
 * A utility command about to evaluate expressions over stored rows (see
 * guard_reads.c): judge the columns they read.  Cheap for every other
 * command.
 */
static void
judge_utility_reads(Node *parsetree)
{
	List	   *reads;
	ListCell   *lc;
	BtGuardSet	set;

	if (in_guard || (!bt_guard && !bt_log_reads))
		return;
	reads = bt_guard_reads_utility(parsetree);
	if (reads == NIL)
		return;
	set_init(&set, CurrentMemoryContext);
	foreach(lc, reads)
	{
		BtUtilityRead *read = (BtUtilityRead *) lfirst(lc);

		set_add_relation(&set, read->relid);
		set_add_read_cols(&set, read->relid, read->cols);
	}
	judge_extra_set(&set);
}

/*
 * The statement about to fire the transaction's deferred triggers (SET
 * CONSTRAINTS ... IMMEDIATE, or user code run at COMMIT) reads what they
 * were handed.
 */
static void
judge_deferred_reads(void)
{
	if (deferred_set != NULL)
		judge_extra_set(deferred_set);
}


/* ----------------------------------------------------------------
 *		Portals
 * ----------------------------------------------------------------
 */

/* Memory context callback: a portal set's context is going away. */
static void
forget_portal(void *arg)
{
	BtGuardPortal *gp = (BtGuardPortal *) arg;

	dlist_delete(&gp->node);
}

/*
 * A new portal set with a copy of set's columns, allocated in cxt and
 * unlinked when cxt is reset or deleted.
 */
static BtGuardPortal *
new_portal_set(MemoryContext cxt, QueryDesc *queryDesc, Portal portal)
{
	BtGuardPortal *gp = MemoryContextAllocZero(cxt, sizeof(BtGuardPortal));

	gp->queryDesc = queryDesc;
	gp->portal = portal;
	gp->generation = stmt_generation;
	set_init(&gp->set, cxt);
	gp->callback.func = forget_portal;
	gp->callback.arg = gp;
	MemoryContextRegisterResetCallback(cxt, &gp->callback);
	dlist_push_head(&guard_portals, &gp->node);
	return gp;
}

/*
 * A portal is starting a query that reads classified columns: keep them,
 * for the statements that fetch its rows later.  The check that just
 * passed counted them for the statement starting it.
 */
static void
remember_portal(QueryDesc *queryDesc)
{
	BtGuardPortal *gp;

	gp = new_portal_set(queryDesc->estate->es_query_cxt, queryDesc, NULL);
	collect_rtable(&gp->set, queryDesc->plannedstmt->rtable,
				   BT_PLAN_PERM_INFOS(queryDesc->plannedstmt), NULL);
}

/*
 * Judge a portal's columns as read by the current statement (the FETCH,
 * the DO block fetching, the COMMIT materialising a held cursor): throws
 * the refusal, or adds them to the statement set.  Functions that run
 * while the rows are produced are then judged together with them.
 */
static void
judge_portal_set(BtGuardPortal *gp)
{
	if (gp->generation == stmt_generation && stmt_grant_id == 0)
		return;				/* counted by this statement, and no grant to recheck */
	judge_extra_set(&gp->set);
	gp->generation = stmt_generation;
}

/*
 * A portal runs queryDesc, its own query.  A WITH HOLD cursor's rows will
 * outlive the executor (they are materialised at COMMIT): copy its set
 * into the portal's own context first, for the FETCHes from the store.
 */
static pg_noinline void
judge_portal_run(QueryDesc *queryDesc)
{
	dlist_iter	iter;

	dlist_foreach(iter, &guard_portals)
	{
		BtGuardPortal *gp = dlist_container(BtGuardPortal, node, iter.cur);

		if (gp->queryDesc != queryDesc)
			continue;
		if ((ActivePortal->cursorOptions & CURSOR_OPT_HOLD) && !gp->held_copy)
		{
			BtGuardPortal *held;

			held = new_portal_set(ActivePortal->portalContext, NULL,
								  ActivePortal);
			set_merge(&held->set, &gp->set);
			gp->held_copy = true;
		}
		judge_portal_set(gp);
		return;
	}
}

/*
 * FETCH from a held cursor reads its rows from the store the COMMIT made,
 * without the executor: judge the cursor's columns here.
 */
static void
judge_held_fetch(FetchStmt *stmt)
{
	Portal		portal;
	dlist_iter	iter;

	if (stmt->ismove || stmt->portalname == NULL)
		return;
	portal = GetPortalByName(stmt->portalname);
	if (!PortalIsValid(portal) || portal->holdStore == NULL ||
		portal->queryDesc != NULL)
		return;
	dlist_foreach(iter, &guard_portals)
	{
		BtGuardPortal *gp = dlist_container(BtGuardPortal, node, iter.cur);

		if (gp->portal == portal && gp->queryDesc == NULL)
		{
			judge_portal_set(gp);
			return;
		}
	}
}


/* ----------------------------------------------------------------
 *		Hooks
 * ----------------------------------------------------------------
 */

/*
 * ExecutorCheckPerms hook: judge the statement whose range table this is.
 *
 * Called after PostgreSQL's own privilege checks passed, by ExecutorStart
 * (also for EXPLAIN, and for every execution of a cached plan), by COPY and
 * by RI checks; the latter pass ereport_on_violation = false and get false
 * back instead of an error.
 */
static bool
bt_ExecutorCheckPerms(BT_EXECUTOR_CHECK_PERMS_PARAMS)
{
	ListCell   *lc;
	PlannedStmt *pstmt = NULL;

	if (prev_ExecutorCheckPerms != NULL &&
		!prev_ExecutorCheckPerms(BT_EXECUTOR_CHECK_PERMS_ARGS))
		return false;

	/* the access-log writer's own statements are not judged */
	if (in_guard || bt_audit_is_writer())
		return true;

	/* with the guard off, only biotoken.log_reads still wants the columns */
	if (!bt_guard && !bt_log_reads)
		return true;

	/* the fast path: a hash probe per relation, no allocation */
	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);

		if (rte_is_judged(rte) && bt_labels_relation_categories(rte->relid) != 0)
			break;
	}
	if (lc == NULL)
		return true;

	/* EXPLAIN without ANALYZE runs nothing */
	if (starting_explain_only && starting_pstmt != NULL &&
		starting_pstmt->rtable == rangeTable)
		return true;

	/*
	 * A parallel worker's own plan was judged by the leader; the worker only
	 * notes its columns, so that statements run by functions inside the
	 * worker are judged together with them.
	 */
	if (starting_pstmt != NULL && starting_pstmt->rtable == rangeTable)
		pstmt = starting_pstmt;
	if (IsParallelWorker() && nesting_level <= 1)
		return guard_check(rangeTable, BT_HOOK_PERM_INFOS, pstmt,
						   ereport_on_violation, false, false);

	if (!guard_check(rangeTable, BT_HOOK_PERM_INFOS, pstmt,
					 ereport_on_violation, bt_guard, true))
		return false;
	if (pstmt != NULL)
		starting_classified = true;
	return true;
}

/*
 * ExecutorStart hook: remember whether the plan starting is only to be
 * explained, and count the nesting, since functions can run inside
 * ExecutorStart (initial partition pruning).  A portal's own query that
 * reads classified columns gets a portal set (see BtGuardPortal).
 */
static void
bt_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	PlannedStmt *save_pstmt = starting_pstmt;
	bool		save_explain_only = starting_explain_only;
	bool		save_classified = starting_classified;

	starting_pstmt = queryDesc->plannedstmt;
	starting_explain_only = (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0;
	starting_classified = false;
	if (nesting_level == 0 && ActivePortal == NULL && !orphan_mode)
	{
		orphan_mode = true;
		judge_deferred_reads();
	}
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorStart)
			prev_ExecutorStart(queryDesc, eflags);
		else
			standard_ExecutorStart(queryDesc, eflags);

		/*
		 * PortalStart sets the portal's queryDesc only after this returns:
		 * a portal without one is starting this very query.
		 */
		if (starting_classified && !starting_explain_only &&
			ActivePortal != NULL && ActivePortal->queryDesc == NULL &&
			queryDesc->estate != NULL)
			remember_portal(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
		starting_pstmt = save_pstmt;
		starting_explain_only = save_explain_only;
		starting_classified = save_classified;
	}
	PG_END_TRY();
}

/*
 * ExecutorRun hook: count the nesting; when a portal runs its own query
 * (a FETCH, a piece of a portal's rows, a held cursor materialised at
 * COMMIT), judge the portal's columns with the statement doing that.
 */
static void
bt_ExecutorRun(BT_EXECUTOR_RUN_PARAMS)
{
	if (!dlist_is_empty(&guard_portals) && ActivePortal != NULL &&
		ActivePortal->queryDesc == queryDesc)
		judge_portal_run(queryDesc);

	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(BT_EXECUTOR_RUN_ARGS);
		else
			standard_ExecutorRun(BT_EXECUTOR_RUN_ARGS);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

/* ExecutorFinish hook: count the nesting (AFTER triggers run here) */
static void
bt_ExecutorFinish(QueryDesc *queryDesc)
{
	nesting_level++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();
}

/* ExecutorEnd hook: a top-level statement ends here */
static void
bt_ExecutorEnd(QueryDesc *queryDesc)
{
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);

	if (nesting_level == 0)
		bt_guard_reset_statement();
}

/* whether an EXPLAIN statement has the ANALYZE option */
static bool
explain_analyzes(ExplainStmt *stmt)
{
	ListCell   *lc;
	bool		analyze = false;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "analyze") == 0)
			analyze = defGetBoolean(opt);
	}
	return analyze;
}

/*
 * ProcessUtility hook: count the nesting, let EXPLAIN without ANALYZE plan
 * without labelling, label what CREATE TABLE AS, SELECT INTO and
 * materialized views copy, and end a top-level statement.
 */
static void
bt_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	/* volatile: set before PG_TRY and read in PG_FINALLY (-Wclobbered) */
	CreateTableAsStmt *volatile ctas = NULL;
	Query	   *volatile ctas_q = NULL;
	List	   *volatile copies = NIL;
	bool		save_capturing = capturing_created;
	Oid			save_created = created_relid;
	volatile Oid ctas_target = InvalidOid;
	ListCell   *lc;
	int			save_explain_plan_level = explain_plan_level;

	if (IsA(parsetree, ExplainStmt))
	{
		ExplainStmt *explain = (ExplainStmt *) parsetree;
		Query	   *query = castNode(Query, explain->query);

		if (!explain_analyzes(explain))
			explain_plan_level = nesting_level + 1;
		else if (query->commandType == CMD_UTILITY &&
				 IsA(query->utilityStmt, CreateTableAsStmt))
			ctas = (CreateTableAsStmt *) query->utilityStmt;
	}
	else if (IsA(parsetree, CreateTableAsStmt))
		ctas = (CreateTableAsStmt *) parsetree;

	if (nesting_level == 0 && ActivePortal == NULL && !orphan_mode)
	{
		orphan_mode = true;
		judge_deferred_reads();
	}

	if (IsA(parsetree, FetchStmt) && !dlist_is_empty(&guard_portals))
		judge_held_fetch((FetchStmt *) parsetree);
	else if (IsA(parsetree, ConstraintsSetStmt) &&
			 !((ConstraintsSetStmt *) parsetree)->deferred)
		judge_deferred_reads();
	else
		judge_utility_reads(parsetree);

	/* columns ALTER TABLE fills from others get their categories after */
	if (IsA(parsetree, AlterTableStmt) && !in_guard)
		copies = bt_guard_copies_utility(parsetree);

	/*
	 * The target of CREATE TABLE AS is the relation it creates, known by
	 * its OID (bt_guard_object_access): a name can resolve to another
	 * relation afterwards (a temporary table of the same name comes first
	 * in the search path), and IF NOT EXISTS may create nothing.
	 */
	if (ctas != NULL && !in_guard)
	{
		ctas_q = bt_lineage_ctas_query(ctas);
		capturing_created = ctas_q != NULL;
		created_relid = InvalidOid;
	}

	nesting_level++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		if (ctas_q != NULL)
			ctas_target = created_relid;
	}
	PG_FINALLY();
	{
		nesting_level--;
		explain_plan_level = save_explain_plan_level;
		if (ctas != NULL && !in_guard)
		{
			capturing_created = save_capturing;
			created_relid = save_created;
		}
	}
	PG_END_TRY();

	foreach(lc, copies)
	{
		BtUtilityCopy *copy = (BtUtilityCopy *) lfirst(lc);

		lineage_apply(copy->relid,
					  bt_lineage_for_columns(copy->relid,
											 get_attnum(copy->relid, copy->target),
											 copy->cols));
	}

	/* the new relation exists now: label what was copied into it */
	if (ctas_q != NULL && OidIsValid(ctas_target))
		lineage_apply(ctas_target, bt_lineage_for_output(ctas_q));
	else if (IsA(parsetree, RefreshMatViewStmt) && !in_guard)
	{
		Oid			relid = RangeVarGetRelid(((RefreshMatViewStmt *) parsetree)->relation,
											 NoLock, true);

		if (OidIsValid(relid))
		{
			Relation	rel = table_open(relid, AccessShareLock);
			Query	   *query = bt_lineage_view_query(rel);

			table_close(rel, AccessShareLock);
			if (query != NULL)
				lineage_apply(relid, bt_lineage_for_output(query));
		}
	}

	if (nesting_level == 0)
		bt_guard_reset_statement();
}

/*
 * planner hook: count the nesting (functions folded into constants run
 * here) and find the lineage of INSERT, UPDATE and MERGE before the
 * planner rearranges the query; label once planning succeeded.
 */
static PlannedStmt *
bt_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	PlannedStmt *result;
	/* set before PG_TRY (-Wclobbered) */
	List	   *volatile lineage = NIL;
	List	   *volatile cte_copies = NIL;
	Oid			target = InvalidOid;
	ListCell   *lc;

	if (!in_guard && nesting_level != explain_plan_level &&
		!bt_audit_is_writer())
	{
		if (parse->commandType == CMD_INSERT ||
			parse->commandType == CMD_UPDATE ||
			parse->commandType == CMD_MERGE)
			lineage = bt_lineage_for_dml(parse, &target);
		/* INSERT, UPDATE and MERGE in WITH, of any statement */
		if (parse->hasModifyingCTE)
			cte_copies = bt_lineage_for_ctes(parse);
	}

	nesting_level++;
	PG_TRY();
	{
		if (prev_planner)
			result = prev_planner(parse, query_string, cursorOptions, boundParams);
		else
			result = standard_planner(parse, query_string, cursorOptions,
									  boundParams);
	}
	PG_FINALLY();
	{
		nesting_level--;
	}
	PG_END_TRY();

	if (lineage != NIL)
		lineage_apply(target, lineage);
	foreach(lc, cte_copies)
	{
		BtLineageCopy *copy = (BtLineageCopy *) lfirst(lc);

		lineage_apply(copy->relid, copy->targets);
	}
	return result;
}


/* ----------------------------------------------------------------
 *		Statement and transaction ends
 * ----------------------------------------------------------------
 */

/*
 * Forget the current statement's columns at the end of a top-level
 * statement; in orphan mode only the end of the transaction does.  Cheap
 * when nothing classified was touched.
 */
static void
bt_guard_reset_statement(void)
{
	if (!stmt_dirty || orphan_mode)
		return;
	if (stmt_set.spilled)
		MemoryContextReset(stmt_cxt);
	set_init(&stmt_set, stmt_cxt);
	stmt_grant_id = 0;
	stmt_grant_checked_at = 0;
	stmt_dirty = false;
	stmt_generation++;
}

/*
 * Transaction callback: the transaction set lived in TopTransactionContext
 * and goes with it.  A statement that failed at top level ends here too;
 * a COMMIT or ROLLBACK inside a procedure (nesting_level > 0) does not end
 * the CALL.
 */
static void
bt_guard_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			xact_set = NULL;
			deferred_set = NULL;
			if (nesting_level == 0)
			{
				orphan_mode = false;
				bt_guard_reset_statement();
			}
			break;
		default:
			break;
	}
}

/*
 * Subtransaction callback: a statement that failed at top level inside a
 * savepoint ends here.  What the transaction read before stays read.
 */
static void
bt_guard_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && nesting_level == 0)
		bt_guard_reset_statement();
}

/*
 * Object access hook: note the first relation a CREATE TABLE AS creates
 * (its target; a TOAST table follows it).  Cheap for everything else.
 */
static void
bt_guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					   int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
	if (capturing_created && access == OAT_POST_CREATE &&
		classId == RelationRelationId && subId == 0 &&
		!OidIsValid(created_relid))
		created_relid = objectId;
}

/*
 * bt_guard_init
 *		Install the guard's hooks and callbacks.  Called once from _PG_init
 *		in the postmaster; backends inherit them.
 */
void
bt_guard_init(void)
{
	prev_ExecutorCheckPerms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = bt_ExecutorCheckPerms;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = bt_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = bt_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = bt_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = bt_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = bt_ProcessUtility;
	prev_planner = planner_hook;
	planner_hook = bt_planner;
	prev_object_access = object_access_hook;
	object_access_hook = bt_guard_object_access;

	RegisterXactCallback(bt_guard_xact_callback, NULL);
	RegisterSubXactCallback(bt_guard_subxact_callback, NULL);
}
