/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  The access log, backend side: build a record, have it committed,
 *	  write the server-log line.
 *
 * IDENTIFICATION
 *	  extension/audit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_AUDIT_H
#define BIOTOKEN_AUDIT_H

#include "nodes/pg_list.h"

typedef enum BtAuditEvent
{
	BT_EVENT_REFUSED,			/* a statement the guard refused */
	BT_EVENT_ALLOWED,			/* a combining statement let through by a grant */
	BT_EVENT_GRANT,				/* an audit grant was given */
	BT_EVENT_REVOKE,			/* an audit grant was revoked */
	BT_EVENT_LABEL,				/* a classification label changed */
	BT_EVENT_SETTING,			/* biotoken.guard or biotoken.scope changed */
	BT_EVENT_READ				/* a read of a biometric column (log_reads) */
} BtAuditEvent;

typedef struct BtAuditRecord
{
	BtAuditEvent event;
	int64		grant_id;		/* grant used, granted or revoked; 0 if none */
	int			categories;		/* BtCategory bits */
	List	   *columns;		/* of char *, "schema.table.column" */
	const char *detail;			/* a JSON object as text, or NULL */
} BtAuditRecord;

extern const char *bt_audit_event_name(BtAuditEvent event);
extern void bt_audit_write(const BtAuditRecord *rec);

#endif							/* BIOTOKEN_AUDIT_H */
