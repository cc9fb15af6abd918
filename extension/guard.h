/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  The separation guard: refuses statements that read biometric data
 *	  together with identity or financial data.
 *
 * IDENTIFICATION
 *	  extension/guard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_GUARD_H
#define BIOTOKEN_GUARD_H

/*
 * bt_guard_init: installs the executor, planner and utility hooks and the
 * transaction callbacks of the guard; called from _PG_init when preloaded,
 * after classification is set up (the guard asks labels.c for categories).
 */
extern void bt_guard_init(void);

#endif							/* BIOTOKEN_GUARD_H */
