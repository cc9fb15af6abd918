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

#endif							/* BIOTOKEN_COMPAT_H */
