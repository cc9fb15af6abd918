/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The access log, backend side.
 *
 * Every record goes to the server log as one line with the fixed prefix
 * "biotoken: ", for log shippers, as pgaudit does.  The line names the
 * event, the grant, the categories and the columns; it never holds a
 * literal from the statement.
 *
 * IDENTIFICATION
 *	  extension/audit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "miscadmin.h"

#include "audit.h"
#include "labels.h"

/*
 * bt_audit_event_name
 *		The name of an event as the access log's "event" column spells it.
 */
const char *
bt_audit_event_name(BtAuditEvent event)
{
	switch (event)
	{
		case BT_EVENT_REFUSED:
			return "refused";
		case BT_EVENT_ALLOWED:
			return "allowed";
		case BT_EVENT_GRANT:
			return "grant";
		case BT_EVENT_REVOKE:
			return "revoke";
		case BT_EVENT_LABEL:
			return "label";
		case BT_EVENT_SETTING:
			return "setting";
		case BT_EVENT_READ:
			return "read";
	}
	return "unknown";
}

/* append a text[] literal of the categories in cats to buf */
static void
append_categories(StringInfo buf, int cats)
{
	bool		first = true;
	int			bit;

	appendStringInfoChar(buf, '{');
	for (bit = BT_CAT_BIOMETRIC; bit <= BT_CAT_FINANCIAL; bit <<= 1)
		if (cats & bit)
		{
			if (!first)
				appendStringInfoChar(buf, ',');
			appendStringInfoString(buf, bt_labels_category_name(bit));
			first = false;
		}
	appendStringInfoChar(buf, '}');
}

/*
 * Write the server-log line of a record.
 */
static void
server_log_line(const BtAuditRecord *rec)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "event=%s", bt_audit_event_name(rec->event));
	if (rec->grant_id != 0)
		appendStringInfo(&buf, " grant_id=" INT64_FORMAT, rec->grant_id);
	if (rec->categories != 0)
	{
		appendStringInfoString(&buf, " categories=");
		append_categories(&buf, rec->categories);
	}
	if (rec->columns != NIL)
	{
		appendStringInfoString(&buf, " columns={");
		foreach(lc, rec->columns)
		{
			if (!first)
				appendStringInfoChar(&buf, ',');
			appendStringInfoString(&buf, (const char *) lfirst(lc));
			first = false;
		}
		appendStringInfoChar(&buf, '}');
	}
	if (rec->detail != NULL)
		appendStringInfo(&buf, " detail=%s", rec->detail);

	ereport(LOG_SERVER_ONLY,
			(errmsg("biotoken: %s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	pfree(buf.data);
}

/*
 * bt_audit_write
 *		Record an event.
 */
void
bt_audit_write(const BtAuditRecord *rec)
{
	server_log_line(rec);
}
