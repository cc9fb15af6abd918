/*-------------------------------------------------------------------------
 *
 * biotoken.h
 *	  Module-wide state shared by every file of biotoken.
 *
 * IDENTIFICATION
 *	  extension/biotoken.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_BIOTOKEN_H
#define BIOTOKEN_BIOTOKEN_H

/* true when the library was loaded from shared_preload_libraries */
extern bool bt_preloaded;

extern void bt_require_preloaded(void);

#define BT_SCHEMA	"biotoken"

/*
 * The SQLSTATE of a statement refused because its access-log record could
 * not be committed (fail closed): 58000 (system_error), a state of the
 * system an application may retry after, never 42501, which stays the
 * guard's refusal and PostgreSQL's own permission denials.
 */
#define BT_ERRCODE_LOG_UNAVAILABLE	ERRCODE_SYSTEM_ERROR

#endif							/* BIOTOKEN_BIOTOKEN_H */
