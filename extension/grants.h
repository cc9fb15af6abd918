/*-------------------------------------------------------------------------
 *
 * grants.h
 *	  Audit grants: time-limited, purpose-bound permission to combine
 *	  biometric data with identity or financial data.
 *
 * IDENTIFICATION
 *	  extension/grants.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_GRANTS_H
#define BIOTOKEN_GRANTS_H

/*
 * bt_grants_find_covering: the id of an active audit grant that covers the
 * session user for a statement touching the given classified base tables,
 * or 0 if there is none.  Reads biotoken.audit_grants directly (no SPI, so
 * the guard's hooks are not re-entered) with a fresh snapshot, so that a
 * revocation committed a moment ago is seen.  Membership is re-checked on
 * every call.  Meant for the guard's rare path only.
 */
extern int64 bt_grants_find_covering(const Oid *relids, int nrelids);
extern int64 bt_grants_find_uncovering(const Oid *relids, int nrelids,
									   Oid *missing);

#endif							/* BIOTOKEN_GRANTS_H */
