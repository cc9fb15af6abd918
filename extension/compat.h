/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL version test of biotoken, as small macros and
 *	  inline functions, one per concern.
 *
 * biotoken supports PostgreSQL 15, 16, 17 and 18 (15 is tested on the
 * host, 17 and 18 in Debian chroots: make test PG_MAJOR=NN; 16 compiles
 * the branches below that 17 or 15 run).  Code outside this header never
 * tests PG_VERSION_NUM; it uses the wrappers below, so a port to a new
 * major version touches this file and the calls of what it changed.
 *
 * IDENTIFICATION
 *	  extension/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_COMPAT_H
#define BIOTOKEN_COMPAT_H

#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_proc.h"
#include "nodes/parsenodes.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/relcache.h"
#include "utils/rel.h"

#if PG_VERSION_NUM < 150000
#error "biotoken requires PostgreSQL 15 or later"
#endif
#if PG_VERSION_NUM >= 190000
#warning "biotoken has not been ported to this PostgreSQL major version"
#endif

/*
 * The permission-check information of a range table.  PostgreSQL 16 moved
 * it out of RangeTblEntry into a list of RTEPermissionInfo, which
 * ExecutorCheckPerms_hook gets as a second argument, and dropped
 * extraUpdatedCols (generated columns an UPDATE recomputes).  Declare the
 * hook with BT_EXECUTOR_CHECK_PERMS_PARAMS and call the previous one with
 * BT_EXECUTOR_CHECK_PERMS_ARGS; the parameters are named rangeTable,
 * rtePermInfos (16 on) and ereport_on_violation.  Inside the hook,
 * BT_HOOK_PERM_INFOS is the permission-info list (NIL before 16).
 */
#if PG_VERSION_NUM >= 160000
#define BT_EXECUTOR_CHECK_PERMS_PARAMS \
	List *rangeTable, List *rtePermInfos, bool ereport_on_violation
#define BT_EXECUTOR_CHECK_PERMS_ARGS \
	rangeTable, rtePermInfos, ereport_on_violation
#define BT_HOOK_PERM_INFOS		rtePermInfos
#else
#define BT_EXECUTOR_CHECK_PERMS_PARAMS \
	List *rangeTable, bool ereport_on_violation
#define BT_EXECUTOR_CHECK_PERMS_ARGS \
	rangeTable, ereport_on_violation
#define BT_HOOK_PERM_INFOS		NIL
#endif

/* A plan's permission-info list (PlannedStmt.permInfos from 16 on) */
#if PG_VERSION_NUM >= 160000
#define BT_PLAN_PERM_INFOS(pstmt)	((pstmt)->permInfos)
#else
#define BT_PLAN_PERM_INFOS(pstmt)	NIL
#endif

/* The column sets of one range-table entry (offset by FirstLowInvalid...) */
typedef struct BtRtePerms
{
	const Bitmapset *selected;	/* read */
	const Bitmapset *inserted;	/* written by INSERT */
	const Bitmapset *updated;	/* written by UPDATE */
	const Bitmapset *extra_updated; /* generated columns UPDATE recomputes
									 * (15 only; 16 dropped it) */
	AclMode		required;		/* requiredPerms (0 for a planner-added child) */
} BtRtePerms;

/*
 * Fill *perms with the column sets of rte, a relation entry of a range
 * table whose permission information is permInfos.  Returns false if the
 * entry has none: from 16 on, the inheritance children and partitions the
 * planner adds get none of their own (before, they carried the parent's
 * sets, translated to their own column numbers).
 */
static inline bool
bt_rte_perms(List *permInfos, const RangeTblEntry *rte, BtRtePerms *perms)
{
#if PG_VERSION_NUM >= 160000
	RTEPermissionInfo *pi;

	if (rte->perminfoindex == 0)
		return false;
	pi = getRTEPermissionInfo(permInfos, (RangeTblEntry *) rte);
	perms->selected = pi->selectedCols;
	perms->inserted = pi->insertedCols;
	perms->updated = pi->updatedCols;
	perms->extra_updated = NULL;
	perms->required = pi->requiredPerms;
#else
	perms->selected = rte->selectedCols;
	perms->inserted = rte->insertedCols;
	perms->updated = rte->updatedCols;
	perms->extra_updated = rte->extraUpdatedCols;
	perms->required = rte->requiredPerms;
#endif
	return true;
}

/*
 * ExecutorRun_hook: PostgreSQL 18 dropped the execute_once argument.
 * Declare the hook with BT_EXECUTOR_RUN_PARAMS and pass on
 * BT_EXECUTOR_RUN_ARGS (queryDesc, direction, count[, execute_once]).
 */
#if PG_VERSION_NUM >= 180000
#define BT_EXECUTOR_RUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define BT_EXECUTOR_RUN_ARGS	queryDesc, direction, count
#else
#define BT_EXECUTOR_RUN_PARAMS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, \
	bool execute_once
#define BT_EXECUTOR_RUN_ARGS	queryDesc, direction, count, execute_once
#endif

/*
 * Marks a function that never returns; put it before the declaration
 * ("BT_NORETURN extern void f(void);").  PostgreSQL 18 replaced the
 * pg_attribute_noreturn() suffix by the pg_noreturn prefix; the older
 * attribute works as a prefix too.
 */
#if PG_VERSION_NUM >= 180000
#define BT_NORETURN		pg_noreturn
#else
#define BT_NORETURN		pg_attribute_noreturn()
#endif

/*
 * This backend's local transaction id.  PostgreSQL 17 moved it into
 * MyProc->vxid.
 */
#if PG_VERSION_NUM >= 170000
#define BT_MY_LXID		(MyProc->vxid.lxid)
#else
#define BT_MY_LXID		(MyProc->lxid)
#endif

/*
 * An ALTER TABLE subcommand's kind, with the "...Recurse" variants that
 * PostgreSQL 16 removed folded into their plain kind.
 */
static inline AlterTableType
bt_alter_table_subtype(const AlterTableCmd *cmd)
{
#if PG_VERSION_NUM < 160000
	switch (cmd->subtype)
	{
		case AT_AddColumnRecurse:
			return AT_AddColumn;
		case AT_AddConstraintRecurse:
			return AT_AddConstraint;
		case AT_ValidateConstraintRecurse:
			return AT_ValidateConstraint;
		default:
			break;
	}
#endif
	return cmd->subtype;
}

/*
 * The PGPROC number of this process, which indexes per-process slots in
 * shared memory.  PostgreSQL 17 replaced MyProc->pgprocno by MyProcNumber.
 */
#if PG_VERSION_NUM >= 170000
#define BT_MY_PROCNO	MyProcNumber
#else
#define BT_MY_PROCNO	(MyProc->pgprocno)
#endif

/*
 * The array of all settings (utils/guc_tables.h), with its length in n.
 * PostgreSQL 16 made get_guc_variables() return the length itself.
 */
#if PG_VERSION_NUM >= 160000
#define BT_GET_GUC_VARIABLES(n)	get_guc_variables(&(n))
#else
#define BT_GET_GUC_VARIABLES(n)	((n) = GetNumConfigOptions(), get_guc_variables())
#endif

/*
 * Memory for a GUC check hook's *extra, which guc.c frees.  Before 16 it
 * used free(); from 16 on it keeps settings in a memory context of its own
 * and frees them with pfree(), so *extra must come from guc_malloc()
 * (malloc'd memory there fails at commit: "pfree called with invalid
 * pointer").  NULL when out of memory, after logging at LOG.
 */
#if PG_VERSION_NUM >= 160000
#define BT_GUC_MALLOC(size)		guc_malloc(LOG, (size))
#else
#define BT_GUC_MALLOC(size)		malloc(size)
#endif

/*
 * ExecInitRangeTable: PostgreSQL 16 added the list of RTEPermissionInfos,
 * 18 the set of range-table indexes that initial pruning left (all).
 */
#if PG_VERSION_NUM >= 180000
#define BT_EXEC_INIT_RANGE_TABLE(estate, rtable) \
	ExecInitRangeTable((estate), (rtable), NIL, \
					   bms_add_range(NULL, 1, list_length(rtable)))
#elif PG_VERSION_NUM >= 160000
#define BT_EXEC_INIT_RANGE_TABLE(estate, rtable) \
	ExecInitRangeTable((estate), (rtable), NIL)
#else
#define BT_EXEC_INIT_RANGE_TABLE(estate, rtable) \
	ExecInitRangeTable((estate), (rtable))
#endif

/*
 * Whether a role may EXECUTE a function.  PostgreSQL 16 replaced the
 * per-class aclcheck functions by object_aclcheck().
 */
#if PG_VERSION_NUM >= 160000
#define BT_PROC_ACLCHECK(funcid, roleid) \
	object_aclcheck(ProcedureRelationId, (funcid), (roleid), ACL_EXECUTE)
#else
#define BT_PROC_ACLCHECK(funcid, roleid) \
	pg_proc_aclcheck((funcid), (roleid), ACL_EXECUTE)
#endif

/*
 * The "snapshot too old" check after reading a page in a scan.  PostgreSQL
 * 17 removed old_snapshot_threshold and TestForOldSnapshot().
 */
#if PG_VERSION_NUM >= 170000
#define BT_TEST_FOR_OLD_SNAPSHOT(snapshot, rel, page)	((void) 0)
#else
#define BT_TEST_FOR_OLD_SNAPSHOT(snapshot, rel, page) \
	TestForOldSnapshot((snapshot), (rel), (page))
#endif

/*
 * A new page at the end of a fork of rel, pinned and exclusively locked.
 * PostgreSQL 16 replaced ReadBuffer(P_NEW) under the relation extension
 * lock by ExtendBufferedRel(), which takes that lock itself.
 */
#if PG_VERSION_NUM >= 160000
#define BT_EXTEND_RELATION(rel, fork) \
	ExtendBufferedRel(BMR_REL(rel), (fork), NULL, EB_LOCK_FIRST)
#else
static inline Buffer
bt_extend_relation(Relation rel, ForkNumber fork)
{
	bool		needlock = !RELATION_IS_LOCAL(rel);
	Buffer		buf;

	if (needlock)
		LockRelationForExtension(rel, ExclusiveLock);
	buf = ReadBufferExtended(rel, fork, P_NEW, RBM_NORMAL, NULL);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	if (needlock)
		UnlockRelationForExtension(rel, ExclusiveLock);
	return buf;
}
#define BT_EXTEND_RELATION(rel, fork)	bt_extend_relation((rel), (fork))
#endif

/*
 * What the core lexer (parser/scanner.h) found at stmt[location], a token
 * of length bytes, told from the statement's text.  The token codes
 * core_yylex() returns come from the grammar's parser/gram.h, which
 * PostgreSQL 16 and later do not install; a token's first characters say
 * the same on every version, for what the statement normalizer needs:
 * constants (numbers; '...', E'...', B'...', X'...', U&'...' strings;
 * $tag$ dollar quotes), parameters ($n), the N of N'...' (the lexer
 * returns it alone, as the keyword NCHAR) and quoted identifiers ("..."
 * and U&"...").  Unquoted identifiers never begin with a digit, a quote
 * or a dollar sign.  Pass the statement as given to scanner_init(), not
 * the lexer's buffer: the lexer puts a NUL after the current token there.
 */
typedef enum BtCoreToken
{
	BT_CORE_OTHER,
	BT_CORE_CONST,
	BT_CORE_PARAM,
	BT_CORE_NCHAR,
	BT_CORE_QUOTED_IDENT
} BtCoreToken;

static inline BtCoreToken
bt_core_token_class(const char *stmt, int location, int length)
{
	const char *tok = stmt + location;
	char		c = tok[0];

	if (c == '\'' || (c >= '0' && c <= '9') ||
		(c == '.' && length > 1 && tok[1] >= '0' && tok[1] <= '9'))
		return BT_CORE_CONST;
	if (c == '$')
		return (length > 1 && tok[1] >= '0' && tok[1] <= '9') ?
			BT_CORE_PARAM : BT_CORE_CONST;
	if (c == '"')
		return BT_CORE_QUOTED_IDENT;
	if (length == 1 && (c == 'n' || c == 'N') && tok[1] == '\'')
		return BT_CORE_NCHAR;
	if ((c == 'e' || c == 'E' || c == 'b' || c == 'B' || c == 'x' || c == 'X') &&
		length > 1 && tok[1] == '\'')
		return BT_CORE_CONST;
	if ((c == 'u' || c == 'U') && length > 2 && tok[1] == '&')
		return tok[2] == '\'' ? BT_CORE_CONST :
			tok[2] == '"' ? BT_CORE_QUOTED_IDENT : BT_CORE_OTHER;
	return BT_CORE_OTHER;
}

/*
 * The primary key index of rel, or InvalidOid.  PostgreSQL 18 returns a
 * deferrable primary key only when asked to; before, it always did.
 */
#if PG_VERSION_NUM >= 180000
#define BT_PRIMARY_KEY_INDEX(rel)	RelationGetPrimaryKeyIndex((rel), true)
#else
#define BT_PRIMARY_KEY_INDEX(rel)	RelationGetPrimaryKeyIndex(rel)
#endif

/*
 * vacuum_delay_point: PostgreSQL 18 asks whether ANALYZE is calling (it
 * has a delay setting of its own); index vacuuming is not ANALYZE.
 */
#if PG_VERSION_NUM >= 180000
#define BT_VACUUM_DELAY_POINT()	vacuum_delay_point(false)
#else
#define BT_VACUUM_DELAY_POINT()	vacuum_delay_point()
#endif

/*
 * Index entries for a tuple just inserted into rel (no ON CONFLICT, no
 * UPDATE).  PostgreSQL 16 added ExecInsertIndexTuples' onlySummarizing.
 */
#if PG_VERSION_NUM >= 160000
#define BT_EXEC_INSERT_INDEX_TUPLES(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL, false)
#else
#define BT_EXEC_INSERT_INDEX_TUPLES(rri, slot, estate) \
	ExecInsertIndexTuples((rri), (slot), (estate), false, false, NULL, NIL)
#endif

/*
 * The index AM's part of a parallel index scan's shared state, and the
 * signature of amestimateparallelscan.  PostgreSQL 17 passed the numbers of
 * scan keys and ordering keys to amestimateparallelscan, 18 the index too,
 * and 18 renamed ps_offset to ps_offset_am.
 */
#if PG_VERSION_NUM >= 180000
#define BT_PARALLEL_SCAN_AM(pscan) \
	((void *) OffsetToPointer((void *) (pscan), (pscan)->ps_offset_am))
#define BT_ESTIMATE_PARALLEL_SCAN_ARGS \
	Relation indexRelation, int nkeys, int norderbys
#else
#define BT_PARALLEL_SCAN_AM(pscan) \
	((void *) OffsetToPointer((void *) (pscan), (pscan)->ps_offset))
#if PG_VERSION_NUM >= 170000
#define BT_ESTIMATE_PARALLEL_SCAN_ARGS	int nkeys, int norderbys
#else
#define BT_ESTIMATE_PARALLEL_SCAN_ARGS	void
#endif
#endif

#endif							/* BIOTOKEN_COMPAT_H */
