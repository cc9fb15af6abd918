/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL version test of biotoken, as small macros.
 *
 * biotoken targets PostgreSQL 15 and is kept ready for 16 and 17.  Code
 * outside this header never tests PG_VERSION_NUM; it uses the wrappers
 * below, so a port to a new major version touches one file.
 *
 * IDENTIFICATION
 *	  extension/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_COMPAT_H
#define BIOTOKEN_COMPAT_H

#include "postgres.h"

#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/rel.h"

#if PG_VERSION_NUM < 150000
#error "biotoken requires PostgreSQL 15 or later"
#endif

/*
 * PostgreSQL 16 moved the permission-check information out of the range
 * table into RTEPermissionInfo and changed ExecutorCheckPerms_hook.
 */
#if PG_VERSION_NUM >= 160000
#define BT_HAVE_PERMINFO 1
#endif

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
 * ExecInitRangeTable: PostgreSQL 16 added the list of RTEPermissionInfos.
 */
#if PG_VERSION_NUM >= 160000
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
