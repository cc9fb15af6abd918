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

#endif							/* BIOTOKEN_BIOTOKEN_H */
