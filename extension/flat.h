/*-------------------------------------------------------------------------
 *
 * flat.h
 *	  biotoken_flat, the identification index: what _PG_init calls.
 *
 * IDENTIFICATION
 *	  extension/flat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_FLAT_H
#define BIOTOKEN_FLAT_H

/* installs the planner hook that costs parallel scans of the index */
extern void bt_flat_init(void);

#endif							/* BIOTOKEN_FLAT_H */
