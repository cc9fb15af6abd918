/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  The access log, backend side: build a record, have it committed by
 *	  the writer worker, write the server-log line; note setting changes;
 *	  keep the writer out of a DBA's way.
 *
 * bt_audit_write() fills in who and what (session, current and login user,
 * client address, application, pid, query id and the normalized top-level
 * statement), packs the record into its database's queue in shared memory,
 * starts the database's writer if none runs (audit_worker.c), and sleeps on
 * its waiter's condition variable until the writer reports the commit.  If
 * that does not happen within biotoken.audit_timeout, the record is
 * withdrawn if the writer has not taken it yet, and the statement is
 * refused with 42501: the log fails closed.  A record whose writer
 * transaction failed is refused the same way, at once.
 *
 * Statements are logged normalized: every literal constant replaced by a
 * $n placeholder (normalize.c).
 *
 * Which statement: events are raised at any nesting depth (a refusal inside
 * a function), but DESIGN.md counts them toward the top-level statement.
 * The hooks below remember the span of the top-level statement (its text is
 * debug_query_string) at parse analysis, planning, executor start and
 * utility processing; they are installed last, so they run first.
 *
 * Settings: guc.c's assign hooks only raise bt_guc_setting_changed.  At the
 * start of every statement (executor start and utility, at any depth) and
 * after every utility statement, a change of biotoken.guard, scope,
 * log_reads or audit_timeout (logged_settings below) against the value
 * this backend last logged becomes a
 * 'setting' record, before any statement runs under the new value.  A
 * change of the server-wide value (postgresql.conf, ALTER SYSTEM, after a
 * reload) is seen by every backend; it is logged once per database, by the
 * first backend there to notice it.
 *
 * Locking: one LWLock (tranche "biotoken access log") protects all of
 * BtAuditShared.  Nothing throws while holding it; shared fields are copied
 * to locals under it.
 *
 * Memory: records are built in the caller's context and freed; nothing is
 * kept across statements except the span of the current statement (a
 * pointer into debug_query_string, used only while it is still that).
 *
 * IDENTIFICATION
 *	  extension/audit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "optimizer/planner.h"
#include "parser/analyze.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "audit.h"
#include "biotoken.h"
#include "catalog.h"
#include "compat.h"
#include "guc.h"
#include "labels.h"
#include "normalize.h"

BtAuditShared *bt_audit_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/*
 * The top-level statement being run: a span of debug_query_string.  Valid
 * only while stmt_text == debug_query_string (see current_statement()).
 */
static const char *stmt_text = NULL;
static int	stmt_location = 0;
static int	stmt_len = 0;
static uint64 stmt_query_id = 0;

/* nesting of ProcessUtility: statements run by a utility are not top-level */
static int	utility_depth = 0;

/* a writer reports a commit or failure within this, or we look again */
#define BT_AUDIT_POLL_MS	1000
/* how often a backend whose queue waits for a writer looks again */
#define BT_AUDIT_WRITER_POLL_MS 20
/* a writer that has not attached this long after its launch is lost */
#define BT_AUDIT_LAUNCH_LOST_MS 10000

/*
 * The settings whose changes are logged.  "logged" is this backend's view
 * of the value last accounted for in the log, and whether that value came
 * from the server-wide configuration; a new backend starts from what its
 * database's log knows (see check_setting).  A server started with
 * biotoken.guard = off in postgresql.conf logs that once per database, at
 * the first statement there.
 */
typedef struct BtLoggedSetting
{
	const char *name;
	int			logged;
	bool		logged_server_level;
} BtLoggedSetting;

static BtLoggedSetting logged_settings[BT_AUDIT_NSETTINGS] = {
	{"biotoken.guard", true, true},
	{"biotoken.scope", BT_SCOPE_STATEMENT, true},
	{"biotoken.log_reads", false, true},
	{"biotoken.audit_timeout", 5000, true},
};

static void log_setting_changes(void);

/* the index of biotoken.audit_timeout in logged_settings */
#define BT_SETTING_AUDIT_TIMEOUT	3

/*
 * Set while a change of log_reads or audit_timeout (logged_settings 2 and
 * up) is written: its record is queued like a 'read', not waited for.
 */
static bool setting_queued_only = false;


/* ----------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------
 */

static Size
audit_shmem_size(void)
{
	Size		size;

	size = MAXALIGN(sizeof(BtAuditShared));
	size = add_size(size, MAXALIGN(mul_size(bt_audit_queues, sizeof(BtAuditQueue))));
	size = add_size(size, MAXALIGN(mul_size(MaxBackends, sizeof(BtAuditWaiter))));
	size = add_size(size, mul_size(bt_audit_queues,
								   MAXALIGN((Size) bt_audit_queue_size * 1024)));
	return size;
}

static void
audit_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(audit_shmem_size());
	RequestNamedLWLockTranche("biotoken access log", 1);
}

static void
audit_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bt_audit_shared = ShmemInitStruct("biotoken access log",
									  audit_shmem_size(), &found);
	if (!found)
	{
		char	   *p = (char *) bt_audit_shared;

		memset(bt_audit_shared, 0, audit_shmem_size());
		bt_audit_shared->lock =
			&(GetNamedLWLockTranche("biotoken access log"))->lock;
		bt_audit_shared->nqueues = bt_audit_queues;
		bt_audit_shared->ring_bytes = MAXALIGN((Size) bt_audit_queue_size * 1024);
		bt_audit_shared->max_writers = bt_audit_writers;
		bt_audit_shared->nwaiters = MaxBackends;
		p += MAXALIGN(sizeof(BtAuditShared));
		bt_audit_shared->queues = (BtAuditQueue *) p;
		p += MAXALIGN(mul_size(bt_audit_queues, sizeof(BtAuditQueue)));
		bt_audit_shared->waiters = (BtAuditWaiter *) p;
		p += MAXALIGN(mul_size(MaxBackends, sizeof(BtAuditWaiter)));
		for (i = 0; i < bt_audit_shared->nqueues; i++)
		{
			ConditionVariableInit(&bt_audit_shared->queues[i].cv);
			bt_audit_shared->queues[i].ring = p;
			p += bt_audit_shared->ring_bytes;
		}
		for (i = 0; i < MaxBackends; i++)
			ConditionVariableInit(&bt_audit_shared->waiters[i].cv);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * bt_audit_database
 *		The entry of a database in shared memory, or NULL.  With create,
 *		a missing entry takes a free slot or the least recently used one
 *		that no DBA operation holds; that database then loses its chain end
 *		(only the detection of rows removed from the end, until its next
 *		record).  Caller holds the lock exclusively if create.
 */
BtAuditDatabase *
bt_audit_database(Oid dboid, bool create)
{
	BtAuditDatabase *victim = NULL;
	int			i;

	for (i = 0; i < BT_AUDIT_DATABASES; i++)
	{
		BtAuditDatabase *d = &bt_audit_shared->dbs[i];

		if (d->dboid == dboid)
			return d;
		if (!create || d->hold_pid != 0)
			continue;
		if (victim == NULL || d->dboid == InvalidOid ||
			(victim->dboid != InvalidOid && d->last_used < victim->last_used))
			victim = d;
	}
	if (victim == NULL)
		return NULL;
	memset(victim, 0, sizeof(BtAuditDatabase));
	victim->dboid = dboid;
	return victim;
}


/* ----------------------------------------------------------------
 * Event names, categories
 * ----------------------------------------------------------------
 */

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
		case BT_EVENT_PRUNE:
			return "prune";
	}
	return "unknown";
}

/* append the categories in cats to buf as "{a,b}" */
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


/* ----------------------------------------------------------------
 * The statement, normalized
 * ----------------------------------------------------------------
 */

/*
 * Remember the span of the statement being run if it is the top-level one:
 * its text is the client's (debug_query_string) and no utility statement
 * encloses it.  Statements of functions have their own texts; those run by
 * EXPLAIN ANALYZE, CREATE TABLE AS and the like share the text but run
 * inside ProcessUtility.
 */
static inline void
capture_statement(const char *text, int location, int len, uint64 query_id)
{
	if (utility_depth == 0 && text != NULL && text == debug_query_string)
	{
		stmt_text = text;
		stmt_location = location;
		stmt_len = len;
		stmt_query_id = query_id;
	}
}

/*
 * The top-level statement of the current message: *location and *len
 * delimit it in the returned text (len 0: to the end); NULL if there is
 * none (a background worker, or no statement at all).
 */
static const char *
current_statement(int *location, int *len, uint64 *query_id)
{
	if (debug_query_string == NULL)
		return NULL;
	if (stmt_text == debug_query_string)
	{
		*location = stmt_location;
		*len = stmt_len;
		*query_id = stmt_query_id;
	}
	else
	{
		/* extended protocol: one statement per message */
		*location = 0;
		*len = 0;
		*query_id = (uint64) pgstat_get_my_query_id();
	}
	return debug_query_string;
}

/* ----------------------------------------------------------------
 * Building and queueing a record
 * ----------------------------------------------------------------
 */

/*
 * The client's address as inet text, or NULL (Unix socket, no client), as
 * inet_client_addr() says.  (libpq-be.h, which has the Port, needs the
 * GSSAPI headers; the SQL function does not.)
 */
static char *
client_address(void)
{
	LOCAL_FCINFO(fcinfo, 0);
	Datum		addr;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	addr = inet_client_addr(fcinfo);
	if (fcinfo->isnull)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(inet_out, addr));
}

static void
pack_string(StringInfo buf, const char *s)
{
	int32		len = s ? (int32) strlen(s) : -1;

	appendBinaryStringInfo(buf, (const char *) &len, sizeof(len));
	if (s != NULL)
		appendBinaryStringInfo(buf, s, len + 1);
}

/*
 * bt_audit_entry_next
 *		The next string of a packed entry (NULL for a NULL), advancing
 *		*cursor.  Start with *cursor at the first byte after the fixed part.
 */
const char *
bt_audit_entry_next(const char **cursor)
{
	int32		len;
	const char *s;

	memcpy(&len, *cursor, sizeof(len));
	*cursor += sizeof(len);
	if (len < 0)
		return NULL;
	s = *cursor;
	*cursor += len + 1;
	return s;
}

/*
 * What a record carries besides the caller's fields, as text.
 */
typedef struct BtAuditContext
{
	const char *session_user_name;
	const char *current_user_name;
	const char *login_user_name;
	const char *client_addr;
	const char *application_name;
	char	   *statement;		/* normalized, complete */
	uint64		query_id;
	char	   *detail;			/* canonical jsonb text */
	TimestampTz logged_at;
} BtAuditContext;

static void
fill_context(const BtAuditRecord *rec, bool with_statement, BtAuditContext *cx)
{
	int			location;
	int			len;
	uint64		query_id = 0;
	const char *text;

	memset(cx, 0, sizeof(*cx));
	cx->logged_at = GetCurrentTimestamp();
	cx->session_user_name = GetUserNameFromId(GetSessionUserId(), true);
	/*
	 * grant_audit and revoke_audit are SECURITY DEFINER functions of the
	 * extension's owner: their records name the caller's current user (the
	 * SET ROLE one, which a SECURITY DEFINER function does not change), not
	 * the owner the function runs as.
	 */
	cx->current_user_name =
		GetUserNameFromId(rec->event == BT_EVENT_GRANT ||
						  rec->event == BT_EVENT_REVOKE ?
						  GetOuterUserId() : GetUserId(), true);
	/* the role that authenticated, whatever SET SESSION AUTHORIZATION did */
	cx->login_user_name = OidIsValid(GetAuthenticatedUserId()) ?
		GetUserNameFromId(GetAuthenticatedUserId(), true) : NULL;
	cx->client_addr = client_address();
	cx->application_name = application_name;
	if (with_statement)
	{
		text = current_statement(&location, &len, &query_id);
		if (text != NULL)
			cx->statement = bt_normalize_statement(text, location, len);
		cx->query_id = query_id;
	}
	if (rec->detail != NULL)
	{
		/* jsonb's text form is canonical: keys sorted, no white space */
		Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															CStringGetDatum(rec->detail)));

		if (!JB_ROOT_IS_OBJECT(jb))
			elog(ERROR, "access-log detail is not a JSON object");
		cx->detail = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
}

/*
 * cx->detail (canonical jsonb text, or NULL) with "columns_omitted" and
 * "columns_total" added, canonical again; palloc'd in the current context.
 */
static char *
detail_with_omitted(const char *detail, int omitted, int total)
{
	char	   *extra = psprintf("{\"columns_omitted\": %d, \"columns_total\": %d}",
								 omitted, total);
	Datum		jb = DirectFunctionCall1(jsonb_in, CStringGetDatum(extra));
	Jsonb	   *res;

	if (detail != NULL)
		jb = DirectFunctionCall2(jsonb_concat,
								 DirectFunctionCall1(jsonb_in, CStringGetDatum(detail)),
								 jb);
	res = DatumGetJsonbP(jb);
	return JsonbToCString(NULL, &res->root, VARSIZE(res));
}

/*
 * Pack a record into one palloc'd entry of at most BT_AUDIT_MAX_ENTRY
 * bytes.  The statement is cut to BT_AUDIT_MAX_STATEMENT bytes (at a
 * character boundary) and, if the entry would still not fit the queue, to
 * less, down to 1 kB; then the column list is cut, keeping its first
 * columns, and detail gets "columns_omitted" and "columns_total".  The
 * categories are always kept.  A record is never dropped for its size: a
 * refusal must be recorded.  The server-log line still gets the full
 * statement and column list.
 */
static BtAuditEntry *
pack_entry(const BtAuditRecord *rec, const BtAuditContext *cx)
{
	StringInfoData buf;
	BtAuditEntry hdr;
	char	   *statement = cx->statement;
	char	   *detail = cx->detail;
	int			stmt_limit = BT_AUDIT_MAX_STATEMENT;
	int			ncolumns = list_length(rec->columns);
	int			keep = ncolumns;
	int			i;

	for (;;)
	{
		if (statement != NULL && (int) strlen(cx->statement) > stmt_limit)
		{
			int			cut = pg_mbcliplen(cx->statement, strlen(cx->statement),
										   stmt_limit);

			statement = psprintf("%.*s ... (%d bytes omitted)", cut,
								 cx->statement,
								 (int) strlen(cx->statement) - cut);
		}

		memset(&hdr, 0, sizeof(hdr));
		hdr.event = rec->event;
		hdr.grant_id = rec->grant_id;
		hdr.categories = rec->categories;
		hdr.backend_pid = MyProcPid;
		hdr.logged_at = cx->logged_at;
		hdr.query_id = (int64) cx->query_id;
		hdr.ncolumns = keep;
		hdr.procno = BT_MY_PROCNO;

		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, (const char *) &hdr, sizeof(hdr));
		while (buf.len < MAXALIGN(sizeof(BtAuditEntry)))
			appendStringInfoChar(&buf, '\0');
		pack_string(&buf, cx->session_user_name);
		pack_string(&buf, cx->current_user_name);
		pack_string(&buf, cx->login_user_name);
		pack_string(&buf, cx->client_addr);
		pack_string(&buf, cx->application_name);
		pack_string(&buf, statement);
		pack_string(&buf, detail);
		for (i = 0; i < keep; i++)
			pack_string(&buf, (const char *) list_nth(rec->columns, i));
		while (buf.len % MAXIMUM_ALIGNOF != 0)
			appendStringInfoChar(&buf, '\0');

		if (buf.len <= BT_AUDIT_MAX_ENTRY)
			break;
		pfree(buf.data);
		if (statement != NULL && stmt_limit > 1024)
		{
			stmt_limit /= 2;
			continue;
		}
		if (keep == 0)
			/* user names, addresses and a 1 kB statement fit in 64 kB */
			elog(ERROR, "access-log record of %d bytes does not fit the queue",
				 buf.len);
		/* keep the share of the columns that fits, and room for detail */
		keep = (int) ((int64) keep * (BT_AUDIT_MAX_ENTRY - 512) / buf.len);
		if (keep >= ncolumns)
			keep = ncolumns - 1;
		detail = detail_with_omitted(cx->detail, ncolumns - keep, ncolumns);
	}

	((BtAuditEntry *) buf.data)->len = buf.len;
	return (BtAuditEntry *) buf.data;
}

/* true if a DBA operation (DROP DATABASE, ...) wants the writer of dboid gone */
static bool
database_held(Oid dboid)
{
	BtAuditDatabase *d = bt_audit_database(dboid, false);

	if (d == NULL || d->hold_pid == 0)
		return false;
	if (BackendPidGetProc(d->hold_pid) == NULL)
	{
		/* the holder died without letting go */
		d->hold_pid = 0;
		return false;
	}
	return true;
}

/*
 * Why this backend's last call of ensure_writer() left its queue without a
 * writer: the fail-closed error names the limit that was reached.
 */
typedef enum BtWriterShortage
{
	BT_SHORT_NONE,
	BT_SHORT_WRITERS,			/* biotoken.audit_writers are all busy */
	BT_SHORT_WORKERS			/* no background worker slot was free */
} BtWriterShortage;

static BtWriterShortage writer_shortage = BT_SHORT_NONE;

/* a writer that has not attached this long after its launch is lost */
static bool
writer_active(BtAuditQueue *q, TimestampTz now)
{
	if (q->writer_state == BT_WRITER_RUNNING)
		return true;
	return q->writer_state == BT_WRITER_STARTING &&
		!TimestampDifferenceExceeds(q->launched_at, now, BT_AUDIT_LAUNCH_LOST_MS);
}

/*
 * The queue that has waited longest for a writer and may have one, or -1.
 * Lock held.
 */
static int
longest_waiting_queue(TimestampTz now)
{
	int			best = -1;
	int			i;

	for (i = 0; i < bt_audit_shared->nqueues; i++)
	{
		BtAuditQueue *q = &bt_audit_shared->queues[i];

		if (q->dboid == InvalidOid || q->wants_writer_since == 0 ||
			writer_active(q, now) || database_held(q->dboid))
			continue;
		if (best < 0 ||
			q->wants_writer_since < bt_audit_shared->queues[best].wants_writer_since)
			best = i;
	}
	return best;
}

/*
 * Have a writer for queue qi.  Called with the lock held exclusively;
 * returns with it held; never throws.
 *
 * Writers are shared fairly: at most biotoken.audit_writers run at once,
 * which leaves the rest of max_worker_processes to parallel query and
 * everything else.  A queue without a writer waits in line
 * (wants_writer_since); a free slot goes to the queue that has waited
 * longest, whichever database it belongs to, so this backend may start
 * another database's writer before its own.  A writer leaves as soon as
 * another queue waits and its own is empty, or after its turn
 * (audit_worker.c), so that every database gets its turn.  When no writer
 * can be had, writer_shortage says why, for the fail-closed message.
 */
static void
ensure_writer(int qi)
{
	BtAuditQueue *q = &bt_audit_shared->queues[qi];
	TimestampTz now = GetCurrentTimestamp();

	writer_shortage = BT_SHORT_NONE;
	if (writer_active(q, now))
		return;
	if (database_held(q->dboid))
		return;
	if (q->wants_writer_since == 0)
		q->wants_writer_since = now;

	for (;;)
	{
		BtAuditQueue *next_q;
		int			active = 0;
		int			next;
		int			i;
		uint32		generation;
		Oid			dboid;

		for (i = 0; i < bt_audit_shared->nqueues; i++)
			if (writer_active(&bt_audit_shared->queues[i], now))
				active++;
		if (active >= bt_audit_shared->max_writers)
		{
			/* wake the writers: an idle one leaves for a waiting queue */
			for (i = 0; i < bt_audit_shared->nqueues; i++)
				if (bt_audit_shared->queues[i].writer_state == BT_WRITER_RUNNING)
					SetLatch(&GetPGProcByNumber(bt_audit_shared->queues[i].writer_procno)->procLatch);
			writer_shortage = BT_SHORT_WRITERS;
			return;
		}
		next = longest_waiting_queue(now);
		if (next < 0)
			return;

		next_q = &bt_audit_shared->queues[next];
		dboid = next_q->dboid;
		next_q->writer_state = BT_WRITER_STARTING;
		next_q->launched_at = now;
		generation = ++next_q->generation;
		LWLockRelease(bt_audit_shared->lock);
		if (!bt_audit_worker_launch(next, generation, dboid))
		{
			LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
			if (next_q->writer_state == BT_WRITER_STARTING &&
				next_q->generation == generation)
				next_q->writer_state = BT_WRITER_NONE;
			writer_shortage = BT_SHORT_WORKERS;
			return;
		}
		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		if (next == qi)
			return;
	}
}

/* the queue of MyDatabaseId, claiming a free one; -1 if all are taken */
static int
find_queue(void)
{
	int			i;
	int			free_q = -1;

	for (i = 0; i < bt_audit_shared->nqueues; i++)
	{
		BtAuditQueue *q = &bt_audit_shared->queues[i];

		if (q->dboid == MyDatabaseId)
			return i;
		if (free_q < 0 && q->dboid == InvalidOid)
			free_q = i;
	}
	if (free_q >= 0)
	{
		BtAuditQueue *q = &bt_audit_shared->queues[free_q];

		q->dboid = MyDatabaseId;
		q->head = q->tail = 0;
		q->nentries = 0;
		q->leave = false;
		q->wants_writer_since = 0;
	}
	return free_q;
}

/*
 * Copy an entry into queue q's ring if there is room; *ring_pos is where
 * it went.  Lock held exclusively.
 */
static bool
ring_put(BtAuditQueue *q, BtAuditEntry *e, uint64 *ring_pos)
{
	uint64		pos = q->head % bt_audit_shared->ring_bytes;
	uint64		contiguous = bt_audit_shared->ring_bytes - pos;
	uint64		need = e->len;

	if (need > contiguous)
		need += contiguous;
	if (bt_audit_shared->ring_bytes - (q->head - q->tail) < need)
		return false;
	if (e->len > contiguous)
	{
		/* fill the end of the ring; a tail too short for a header is skipped */
		if (contiguous >= sizeof(BtAuditEntry))
		{
			BtAuditEntry *pad = (BtAuditEntry *) (q->ring + pos);

			memset(pad, 0, sizeof(BtAuditEntry));
			pad->len = contiguous;
			pad->flags = BT_ENTRY_PAD;
		}
		q->head += contiguous;
		pos = 0;
	}
	if (q->nentries == 0)
		q->pending_since = GetCurrentTimestamp();
	e->seq = q->next_seq++;
	e->flags = 0;
	*ring_pos = pos;
	memcpy(q->ring + pos, e, e->len);
	q->head += e->len;
	q->nentries++;
	return true;
}

/* the fail-closed error, for a record that was not committed */
static void
throw_not_committed(const char *why, const char *hint)
{
	ereport(ERROR,
			(errcode(BT_ERRCODE_LOG_UNAVAILABLE),
			 errmsg("statement refused: the access log could not be written"),
			 errdetail("%s", why),
			 errhint("%s", hint ? hint :
					 "biotoken refuses what it cannot log.  Check the server log for the biotoken access-log writer, and that biotoken.access_log is not locked."),
			 errhidestmt(true)));
}

/* the hint for the failure queue_and_wait or queue_async last returned */
static const char *failure_hint = NULL;

/*
 * The reason a record was not written in time, naming the limit that was
 * reached if one was (queued: whether it got into a queue at all); sets
 * failure_hint.
 */
static const char *
timeout_reason(bool queued, bool writer_running)
{
	if (!queued)
	{
		failure_hint = "Raise biotoken.audit_queues (the number of databases that can write at the same time) and restart the server.";
		return psprintf("All %d access-log queues (biotoken.audit_queues) were taken by other databases, or this database's queue was full, for biotoken.audit_timeout (%d ms).",
						bt_audit_shared->nqueues, bt_audit_timeout);
	}
	if (!writer_running && writer_shortage == BT_SHORT_WRITERS)
	{
		failure_hint = "Raise biotoken.audit_writers (and max_worker_processes with it) and restart the server.";
		return psprintf("No access-log writer became free within biotoken.audit_timeout (%d ms): all %d (biotoken.audit_writers) were writing for other databases.",
						bt_audit_timeout, bt_audit_shared->max_writers);
	}
	if (!writer_running && writer_shortage == BT_SHORT_WORKERS)
	{
		failure_hint = "Raise max_worker_processes: biotoken needs up to biotoken.audit_writers background workers besides parallel query's.";
		return psprintf("The access-log writer could not be started within biotoken.audit_timeout (%d ms): no background worker slot (max_worker_processes) was free.",
						bt_audit_timeout);
	}
	failure_hint = NULL;
	return psprintf("The record was not committed within biotoken.audit_timeout (%d ms).",
					bt_audit_timeout);
}

/*
 * Queue an entry and wait until the writer has committed it.  On success
 * *result holds the row's id and hash.  Returns NULL on success, else why
 * not (the caller writes the server-log line, then throws).
 */
static const char *
queue_and_wait(BtAuditEntry *e, BtAuditAnchor *result)
{
	BtAuditWaiter *w = &bt_audit_shared->waiters[BT_MY_PROCNO];
	TimestampTz deadline;
	/* volatile: changed under PG_TRY and read after it (-Wclobbered) */
	const char *volatile failure = NULL;
	volatile int qi = -1;
	volatile bool queued = false;
	int			state;
	int			writer_procno = -1;
	uint64		ring_pos;

	failure_hint = NULL;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   bt_audit_timeout);

	ConditionVariablePrepareToSleep(&w->cv);
	PG_TRY();
	{
		for (;;)
		{
			long		remaining;

			LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
			if (!queued)
			{
				qi = find_queue();
				if (qi >= 0 && ring_put(&bt_audit_shared->queues[qi], e, &ring_pos))
				{
					queued = true;
					w->state = BT_WAIT_QUEUED;
					w->queue = qi;
					w->seq = e->seq;
					w->ring_pos = ring_pos;
				}
			}
			writer_procno = -1;
			if (qi >= 0)
			{
				ensure_writer(qi);
				if (bt_audit_shared->queues[qi].writer_state == BT_WRITER_RUNNING)
					writer_procno = bt_audit_shared->queues[qi].writer_procno;
			}
			state = queued ? w->state : BT_WAIT_IDLE;
			if (state == BT_WAIT_DONE)
			{
				result->valid = true;
				result->id = w->log_id;
				memcpy(result->hash, w->row_hash, BT_HMAC_BYTES);
				w->state = BT_WAIT_IDLE;
			}
			else if (state == BT_WAIT_FAILED)
				w->state = BT_WAIT_IDLE;
			LWLockRelease(bt_audit_shared->lock);

			if (state == BT_WAIT_DONE)
				break;
			/* the writer sleeps until told there is work */
			if (state == BT_WAIT_QUEUED && writer_procno >= 0)
				SetLatch(&GetPGProcByNumber(writer_procno)->procLatch);
			if (state == BT_WAIT_FAILED)
			{
				failure = "The access-log writer could not commit the record.";
				break;
			}

			remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
														deadline);
			if (remaining <= 0)
			{
				failure = timeout_reason(queued, writer_procno >= 0);
				break;
			}
			/* the queue may be full or all queues taken: look again soon */
			if (!queued)
				remaining = Min(remaining, 10);
			/* waiting for a writer slot: a leaving writer frees one soon */
			else if (writer_procno < 0)
				remaining = Min(remaining, BT_AUDIT_WRITER_POLL_MS);
			ConditionVariableTimedSleep(&w->cv, Min(remaining, BT_AUDIT_POLL_MS),
										PG_WAIT_EXTENSION);
		}
	}
	PG_FINALLY();
	{
		ConditionVariableCancelSleep();

		/*
		 * Not committed (timeout, or a cancel or error while waiting): take
		 * the record back if the writer has not taken it, so that no row
		 * says a refused statement ran.  One it has taken may still commit.
		 */
		if (queued && failure == NULL && !result->valid)
			failure = "The wait for the access-log writer was interrupted.";
		if (queued && !result->valid)
		{
			LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
			if (w->queue == qi && w->seq == e->seq)
			{
				/* still in the ring: the writer will skip it */
				if (w->state == BT_WAIT_QUEUED)
					((BtAuditEntry *) (bt_audit_shared->queues[qi].ring +
									   w->ring_pos))->flags |= BT_ENTRY_WITHDRAWN;
				w->state = BT_WAIT_IDLE;
			}
			LWLockRelease(bt_audit_shared->lock);
		}
	}
	PG_END_TRY();

	return failure;
}

/*
 * Queue an entry that nobody waits for (a 'read' record, see audit_write).
 * Returns NULL once it is in the queue, else why it could not be queued in
 * time: the queue stayed full, or its writer has taken nothing for longer
 * than biotoken.audit_timeout (stopped, or stuck on a lock).
 */
static const char *
queue_async(BtAuditEntry *e)
{
	TimestampTz deadline;
	uint64		ring_pos;

	failure_hint = NULL;
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   bt_audit_timeout);
	e->procno = -1;
	for (;;)
	{
		BtAuditQueue *q = NULL;
		bool		queued = false;
		bool		stuck = false;
		int			writer_procno = -1;
		int			qi;

		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		qi = find_queue();
		if (qi >= 0)
		{
			q = &bt_audit_shared->queues[qi];
			if (q->nentries > 0 &&
				TimestampDifferenceExceeds(q->pending_since, GetCurrentTimestamp(),
										   bt_audit_timeout))
				stuck = true;
			else
				queued = ring_put(q, e, &ring_pos);
			ensure_writer(qi);
			if (q->writer_state == BT_WRITER_RUNNING)
				writer_procno = q->writer_procno;
		}
		LWLockRelease(bt_audit_shared->lock);

		if (writer_procno >= 0)
			SetLatch(&GetPGProcByNumber(writer_procno)->procLatch);
		if (queued)
			return NULL;
		if (stuck)
			return psprintf("The access-log writer has taken no record for longer than biotoken.audit_timeout (%d ms).",
							bt_audit_timeout);
		if (GetCurrentTimestamp() >= deadline)
			return timeout_reason(false, writer_procno >= 0);
		/* full: wait for the writer to take what is there */
		if (q != NULL)
			ConditionVariableTimedSleep(&q->cv, 10, PG_WAIT_EXTENSION);
		else
			pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Where the access log of this database is: not at all (no extension
 * here), in a committed table, or in one this transaction is creating (the
 * extension is being created: no other transaction, so no writer, can see
 * the table yet).
 */
typedef enum BtLogPlace
{
	BT_LOG_NONE,
	BT_LOG_WRITER,
	BT_LOG_LOCAL
} BtLogPlace;

static BtLogPlace
log_place(Oid *relid, Oid *owner)
{
	HeapTuple	tup;
	BtLogPlace	place = BT_LOG_NONE;

	if (!OidIsValid(MyDatabaseId) || !IsTransactionState())
		return BT_LOG_NONE;

	/* the extension's member, never a table found by name */
	*relid = bt_audit_log_find(owner);
	if (!OidIsValid(*relid))
		return BT_LOG_NONE;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(*relid));
	if (HeapTupleIsValid(tup))
	{
		place = TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)) ?
			BT_LOG_LOCAL : BT_LOG_WRITER;
		ReleaseSysCache(tup);
	}
	return place;
}


/* ----------------------------------------------------------------
 * The server-log line
 * ----------------------------------------------------------------
 */

/*
 * Append s to buf escaped so that it stays on one line and cannot end its
 * field: backslash, double quote and every control character are written
 * as backslash escapes (\n, \r, \t, \xNN).
 */
static void
append_escaped(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		switch (c)
		{
			case '"':
				appendStringInfoString(buf, "\\\"");
				break;
			case '\\':
				appendStringInfoString(buf, "\\\\");
				break;
			case '\n':
				appendStringInfoString(buf, "\\n");
				break;
			case '\r':
				appendStringInfoString(buf, "\\r");
				break;
			case '\t':
				appendStringInfoString(buf, "\\t");
				break;
			default:
				if (c < 0x20 || c == 0x7f)
					appendStringInfo(buf, "\\x%02x", c);
				else
					appendStringInfoChar(buf, (char) c);
		}
	}
}

/* append s as a double-quoted value on one line */
static void
append_quoted(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	append_escaped(buf, s);
	appendStringInfoChar(buf, '"');
}

/*
 * Append a column name as an element of the {...} list: as it is when it
 * holds only characters that cannot end an element or a line, else
 * double-quoted and escaped (as array_out quotes, plus the escapes of
 * append_escaped).
 */
static void
append_list_element(StringInfo buf, const char *s)
{
	const char *p;
	bool		plain = (*s != '\0');

	for (p = s; *p && plain; p++)
	{
		unsigned char c = (unsigned char) *p;

		if (c <= 0x20 || c == 0x7f || c == '{' || c == '}' || c == ',' ||
			c == '"' || c == '\\')
			plain = false;
	}
	if (plain)
		appendStringInfoString(buf, s);
	else
		append_quoted(buf, s);
}

/*
 * Write the server-log line of a record: "biotoken: access_log " and then
 * key=value pairs, always in this order, values with spaces quoted.  After
 * a commit it names the row (id and row_hash, so a log shipper holds the
 * end of the chain); a 'read' record says it was queued; otherwise it says
 * the record was not committed.  The
 * statement is the normalized one, in full.
 */
static void
server_log_line(const BtAuditRecord *rec, const BtAuditContext *cx,
				const BtAuditAnchor *row, BtLogPlace place, bool queued_only)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;
	char	   *dbname;
	int			i;

	initStringInfo(&buf);
	if (row != NULL && row->valid)
	{
		appendStringInfo(&buf, "id=" INT64_FORMAT " row_hash=", row->id);
		for (i = 0; i < BT_HMAC_BYTES; i++)
			appendStringInfo(&buf, "%02x", row->hash[i]);
	}
	else if (queued_only)
		appendStringInfoString(&buf, "id=queued");
	else if (place == BT_LOG_NONE)
		appendStringInfoString(&buf, "id=none status=\"no access log in this database\"");
	else
		appendStringInfoString(&buf, "id=none status=\"not committed: statement refused\"");
	appendStringInfo(&buf, " event=%s", bt_audit_event_name(rec->event));
	appendStringInfoString(&buf, " database=");
	dbname = get_database_name(MyDatabaseId);
	append_quoted(&buf, dbname ? dbname : "");
	if (cx->session_user_name)
	{
		appendStringInfoString(&buf, " session_user=");
		append_quoted(&buf, cx->session_user_name);
	}
	if (cx->current_user_name)
	{
		appendStringInfoString(&buf, " current_user=");
		append_quoted(&buf, cx->current_user_name);
	}
	if (cx->login_user_name)
	{
		appendStringInfoString(&buf, " login_user=");
		append_quoted(&buf, cx->login_user_name);
	}
	if (cx->client_addr)
		appendStringInfo(&buf, " client_addr=%s", cx->client_addr);
	if (cx->application_name && cx->application_name[0])
	{
		appendStringInfoString(&buf, " application_name=");
		append_quoted(&buf, cx->application_name);
	}
	appendStringInfo(&buf, " pid=%d", MyProcPid);
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
			append_list_element(&buf, (const char *) lfirst(lc));
			first = false;
		}
		appendStringInfoChar(&buf, '}');
	}
	if (cx->query_id != 0)
		appendStringInfo(&buf, " query_id=" INT64_FORMAT, (int64) cx->query_id);
	if (cx->statement)
	{
		appendStringInfoString(&buf, " statement=");
		append_quoted(&buf, cx->statement);
	}
	if (cx->detail)
		appendStringInfo(&buf, " detail=%s", cx->detail);

	ereport(LOG_SERVER_ONLY,
			(errmsg("biotoken: access_log %s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	pfree(buf.data);
}


/* ----------------------------------------------------------------
 * Writing a record
 * ----------------------------------------------------------------
 */

/*
 * Write one record; the statement is left out when with_statement is
 * false (a change that no statement caused).
 */
static void
audit_write(const BtAuditRecord *rec, bool with_statement)
{
	BtAuditContext cx;
	BtAuditEntry *e;
	BtAuditAnchor row;
	BtLogPlace	place;
	Oid			relid = InvalidOid;
	Oid			owner = InvalidOid;
	const char *failure = NULL;
	bool		queued_only = false;

	bt_require_preloaded();
	if (bt_audit_is_writer())
		elog(ERROR, "the access-log writer cannot write access-log records");
	Assert(rec->event >= BT_EVENT_REFUSED && rec->event <= BT_EVENT_LAST);

	fill_context(rec, with_statement, &cx);
	memset(&row, 0, sizeof(row));
	place = log_place(&relid, &owner);

	if (place != BT_LOG_NONE)
	{
		e = pack_entry(rec, &cx);
		if (place == BT_LOG_LOCAL)
		{
			/*
			 * The extension is being created in this transaction: write the
			 * row in it, with the same chain code as the writer.  It commits
			 * or rolls back with the table it is in.
			 */
			BtAuditAnchor end;

			bt_audit_chain_append(relid, owner, &e, 1, NULL, 0, &row, &end);
		}
		else if (rec->event == BT_EVENT_READ || setting_queued_only)
		{
			/*
			 * biotoken.log_reads: every read of a biometric column.  Such a
			 * record is queued, not waited for: a commit round trip per
			 * SELECT would cost most of the throughput.  The log still
			 * fails closed when its writer falls behind by more than
			 * biotoken.audit_timeout; what a crash can lose is the reads of
			 * the last moments before it.  Everything DESIGN.md requires to
			 * be durable before the fact is waited for.  A change of
			 * log_reads or audit_timeout is queued the same way: neither
			 * lets a statement through that the guard would refuse.
			 */
			failure = queue_async(e);
			queued_only = (failure == NULL);
		}
		else
			failure = queue_and_wait(e, &row);
		pfree(e);
	}

	/*
	 * biotoken.server_log_reads = off: a read record that was queued has
	 * no server-log line (at 2,000 reads a second the lines cost more than
	 * the rows); one that could not be queued still has its line.
	 */
	if (!(queued_only && !bt_server_log_reads))
		server_log_line(rec, &cx, &row, place, queued_only);
	if (failure != NULL)
		throw_not_committed(failure, failure_hint);
}

/*
 * bt_audit_write
 *		Record an event: committed to biotoken.access_log before this
 *		returns, and written to the server log.  Throws 42501 if the record
 *		cannot be committed in time; the caller's statement is then refused.
 *		Must run inside a transaction (for the user names).
 */
void
bt_audit_write(const BtAuditRecord *rec)
{
	/*
	 * pg_upgrade restores security labels (and nothing else that logs):
	 * that is the old cluster's state arriving, not a change, and the log
	 * table itself is carried over as it is.
	 */
	if (IsBinaryUpgrade)
		return;
	/* a setting changed just before must come first in the log */
	log_setting_changes();
	audit_write(rec, true);
}

/*
 * bt_audit_note_read
 *		With biotoken.log_reads on, record a read of biometric columns.
 */
void
bt_audit_note_read(List *columns)
{
	BtAuditRecord rec;

	if (!bt_log_reads)
		return;
	memset(&rec, 0, sizeof(rec));
	rec.event = BT_EVENT_READ;
	rec.categories = BT_CAT_BIOMETRIC;
	rec.columns = columns;
	bt_audit_write(&rec);
}


/* ----------------------------------------------------------------
 * Setting changes
 * ----------------------------------------------------------------
 */

static const char *
source_name(GucSource source)
{
	switch (source)
	{
		case PGC_S_DEFAULT:
		case PGC_S_DYNAMIC_DEFAULT:
			return "default";
		case PGC_S_ENV_VAR:
			return "environment";
		case PGC_S_FILE:
			return "configuration file";
		case PGC_S_ARGV:
			return "command line";
		case PGC_S_GLOBAL:
			return "global";
		case PGC_S_DATABASE:
			return "database";
		case PGC_S_USER:
			return "user";
		case PGC_S_DATABASE_USER:
			return "database user";
		case PGC_S_CLIENT:
			return "client";
		case PGC_S_OVERRIDE:
			return "override";
		case PGC_S_INTERACTIVE:
			return "interactive";
		case PGC_S_TEST:
			return "test";
		case PGC_S_SESSION:
			return "session";
	}
	return "unknown";
}

/* where the current value of a setting came from */
static GucSource
setting_source(const char *name)
{
	struct config_generic **vars;
	int			n;
	int			i;

	vars = BT_GET_GUC_VARIABLES(n);
	for (i = 0; i < n; i++)
		if (strcmp(vars[i]->name, name) == 0)
			return vars[i]->source;
	return PGC_S_DEFAULT;
}

static const char *
setting_text(int which, int value)
{
	switch (which)
	{
		case 0:
		case 2:
			return value ? "on" : "off";
		case 1:
			return value == BT_SCOPE_TRANSACTION ? "transaction" : "statement";
		default:
			return psprintf("%dms", value);
	}
}

/* false until this backend first looked at its settings */
static bool settings_seen = false;

/* boot values of the logged settings: what a new database's log assumes */
static const int setting_boot[BT_AUDIT_NSETTINGS] = {1, BT_SCOPE_STATEMENT, 0, 5000};

/*
 * One setting.  A server-wide value (postgresql.conf, ALTER SYSTEM, the
 * command line: what a reload changes in every backend at once) is logged
 * once per database: when it differs from the server-wide value that
 * database's log last recorded (kept in shared memory), the first backend
 * to notice claims it there and logs it, with no statement (none caused
 * it).  A claim whose record fails is given back, so another backend logs
 * it; a claim not yet committed does not stop another backend from logging
 * it too (a duplicate is better than a gap).  Any other change of this
 * backend's value (SET, RESET, SET LOCAL, a function's SET clause, the end
 * of either, a startup option, a role or database setting) is logged by
 * this backend, with the statement during which it was noticed.
 */
static void
check_setting(int which, int value)
{
	BtLoggedSetting *s = &logged_settings[which];
	GucSource	source = setting_source(s->name);
	bool		server_level = (source <= PGC_S_ARGV);
	bool		claimed = false;
	bool		server_change = false;
	int			db_known = setting_boot[which];
	bool		db_committed = true;
	int			old;
	BtAuditDatabase *d;
	BtAuditRecord rec;
	StringInfoData detail;
	int			saved_timeout;

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	d = bt_audit_database(MyDatabaseId, true);
	if (d != NULL)
	{
		d->last_used = GetCurrentTimestamp();
		if (d->srv_valid[which])
		{
			db_known = d->srv_value[which];
			db_committed = d->srv_committed[which];
		}
		if (server_level && (value != db_known || !db_committed))
		{
			d->srv_valid[which] = true;
			d->srv_value[which] = value;
			d->srv_committed[which] = false;
			claimed = true;
		}
	}
	LWLockRelease(bt_audit_shared->lock);

	/* a new backend's previous value is what its database's log knows */
	if (!settings_seen)
	{
		s->logged = db_known;
		s->logged_server_level = true;
	}

	if (server_level)
		server_change = (value != db_known || !db_committed);
	if (!server_change &&
		(value == s->logged || (server_level && s->logged_server_level)))
	{
		s->logged = value;
		s->logged_server_level = server_level;
		return;
	}
	old = server_change ? db_known : s->logged;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "{\"setting\": ");
	escape_json(&detail, s->name);
	appendStringInfo(&detail, ", \"old\": \"%s\", \"new\": \"%s\", \"source\": ",
					 setting_text(which, old), setting_text(which, value));
	escape_json(&detail, source_name(source));
	appendStringInfoChar(&detail, '}');

	memset(&rec, 0, sizeof(rec));
	rec.event = BT_EVENT_SETTING;
	rec.detail = detail.data;

	/*
	 * A change of audit_timeout itself is logged under the longer of the
	 * old and the new timeout: lowering it must not make its own record
	 * fail while the writer starts.
	 */
	saved_timeout = bt_audit_timeout;
	if (which == BT_SETTING_AUDIT_TIMEOUT)
		bt_audit_timeout = Max(old, value);
	setting_queued_only = (which >= 2);
	PG_TRY();
	{
		/* a server-wide change was not caused by this statement */
		audit_write(&rec, !server_change);
	}
	PG_CATCH();
	{
		bt_audit_timeout = saved_timeout;
		setting_queued_only = false;
		if (claimed)
		{
			LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
			d = bt_audit_database(MyDatabaseId, false);
			if (d != NULL && d->srv_value[which] == value &&
				!d->srv_committed[which])
				d->srv_valid[which] = false;
			LWLockRelease(bt_audit_shared->lock);
		}
		/* not logged: look again at the next statement */
		bt_guc_setting_changed = true;
		PG_RE_THROW();
	}
	PG_END_TRY();
	bt_audit_timeout = saved_timeout;
	setting_queued_only = false;

	if (claimed)
	{
		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		d = bt_audit_database(MyDatabaseId, false);
		if (d != NULL && d->srv_value[which] == value)
			d->srv_committed[which] = true;
		LWLockRelease(bt_audit_shared->lock);
	}
	s->logged = value;
	s->logged_server_level = server_level;
	pfree(detail.data);
}

/*
 * Turn the flag raised by guc.c's assign hooks into 'setting' records.
 * The fast path is one test of a bool.
 */
static void
log_setting_changes(void)
{
	if (likely(!bt_guc_setting_changed))
		return;
	/* parallel workers repeat their leader's settings; the writer logs nothing */
	if (IsParallelWorker() || bt_audit_is_writer() || !bt_preloaded ||
		!OidIsValid(MyDatabaseId) || !IsTransactionState())
		return;
	bt_guc_setting_changed = false;
	check_setting(0, bt_guard ? 1 : 0);
	check_setting(1, bt_scope);
	check_setting(2, bt_log_reads ? 1 : 0);
	check_setting(BT_SETTING_AUDIT_TIMEOUT, bt_audit_timeout);
	settings_seen = true;
}


/* ----------------------------------------------------------------
 * DBA operations that need the writer out of a database
 * ----------------------------------------------------------------
 */

/* how long a DBA operation waits for a writer to leave */
#define BT_AUDIT_LEAVE_WAIT_MS	5000

/*
 * The database a utility statement needs no other session in (DROP
 * DATABASE, ALTER DATABASE ... RENAME or SET TABLESPACE, the template of
 * CREATE DATABASE), or NULL.  These all wait (CountOtherDBBackends) for
 * every other session of that database to leave, and a writer is one.
 */
static const char *
database_needing_writer_gone(Node *stmt)
{
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return ((DropdbStmt *) stmt)->dbname;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				return ((RenameStmt *) stmt)->subname;
			return NULL;
		case T_AlterDatabaseStmt:
			foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
				if (strcmp(((DefElem *) lfirst(lc))->defname, "tablespace") == 0)
					return ((AlterDatabaseStmt *) stmt)->dbname;
			return NULL;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *def = (DefElem *) lfirst(lc);

				if (strcmp(def->defname, "template") == 0 && def->arg != NULL)
					return defGetString(def);
			}
			return "template1";
		default:
			return NULL;
	}
}

/* the current user may create databases (PostgreSQL's own test) */
static bool
may_create_databases(void)
{
	HeapTuple	tup;
	bool		result = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return result;
}

/*
 * Whether the current user passes PostgreSQL's privilege checks for the
 * DBA operation stmt on database dboid (see database_needing_writer_gone):
 * only then may it hold the database and ask its writer to leave.  A role
 * without those rights would otherwise stop the writer of any database
 * just by trying; PostgreSQL refuses it later, and says why.
 */
static bool
may_run_dba_operation(Node *stmt, Oid dboid)
{
	HeapTuple	tup;
	Form_pg_database db;
	bool		owner;
	bool		result;

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (!HeapTupleIsValid(tup))
		return false;
	db = (Form_pg_database) GETSTRUCT(tup);
	/* as pg_database_ownercheck: superusers, and members of the owner */
	owner = has_privs_of_role(GetUserId(), db->datdba);
	switch (nodeTag(stmt))
	{
		case T_CreatedbStmt:
			/* createdb(): CREATEDB, and the template must be copyable */
			result = may_create_databases() &&
				(superuser() || owner || db->datistemplate);
			break;
		case T_RenameStmt:
			/* RenameDatabase(): owner, and CREATEDB */
			result = owner && may_create_databases();
			break;
		default:
			/* dropdb(), movedb(): owner */
			result = owner;
			break;
	}
	ReleaseSysCache(tup);
	return result;
}

/* at exit, however: let go of every database this backend holds */
static void
release_held_at_exit(int code, Datum arg)
{
	int			i;

	if (bt_audit_shared == NULL)
		return;
	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < BT_AUDIT_DATABASES; i++)
		if (bt_audit_shared->dbs[i].hold_pid == MyProcPid)
			bt_audit_shared->dbs[i].hold_pid = 0;
	LWLockRelease(bt_audit_shared->lock);
}

/*
 * Hold dboid (no writer may start there) and ask its writer to leave;
 * wait until it has, at most BT_AUDIT_LEAVE_WAIT_MS.  If it does not, the
 * operation goes on and fails as it would with any other session there.
 * Called inside bt_ProcessUtility's PG_TRY, so that an error while waiting
 * (a cancel, statement_timeout) lets go of the database as well, and only
 * for a user that may run the operation (may_run_dba_operation).
 */
static void
hold_database(Oid dboid)
{
	TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   BT_AUDIT_LEAVE_WAIT_MS);
	BtAuditDatabase *d;
	int			qi = -1;
	int			i;
	static bool exit_callback = false;

	/* a FATAL exit (pg_terminate_backend while waiting) lets go too */
	if (!exit_callback)
	{
		before_shmem_exit(release_held_at_exit, (Datum) 0);
		exit_callback = true;
	}

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	d = bt_audit_database(dboid, true);
	if (d != NULL)
		d->hold_pid = MyProcPid;
	for (i = 0; i < bt_audit_shared->nqueues; i++)
		if (bt_audit_shared->queues[i].dboid == dboid)
			qi = i;
	LWLockRelease(bt_audit_shared->lock);
	if (qi < 0)
		return;

	ConditionVariablePrepareToSleep(&bt_audit_shared->queues[qi].cv);
	for (;;)
	{
		BtAuditQueue *q = &bt_audit_shared->queues[qi];
		int			procno = -1;
		bool		gone;
		long		remaining;

		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		gone = (q->dboid != dboid || q->writer_state == BT_WRITER_NONE);
		if (!gone)
		{
			q->leave = true;
			if (q->writer_state == BT_WRITER_RUNNING)
				procno = q->writer_procno;
		}
		LWLockRelease(bt_audit_shared->lock);
		if (gone)
			break;
		if (procno >= 0)
			SetLatch(&GetPGProcByNumber(procno)->procLatch);
		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
		if (remaining <= 0)
			break;
		ConditionVariableTimedSleep(&q->cv, Min(remaining, 100), PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

static void
release_database(Oid dboid, bool dropped)
{
	BtAuditDatabase *d;

	LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
	d = bt_audit_database(dboid, false);
	if (d != NULL && d->hold_pid == MyProcPid)
	{
		d->hold_pid = 0;
		/* the OID may come back for another database */
		if (dropped)
			memset(d, 0, sizeof(BtAuditDatabase));
	}
	if (dropped)
		bt_audit_anchor_remove(dboid);
	if (!dropped)
	{
		int			i;

		/* the operation failed: the writer need not leave after all */
		for (i = 0; i < bt_audit_shared->nqueues; i++)
			if (bt_audit_shared->queues[i].dboid == dboid)
				bt_audit_shared->queues[i].leave = false;
	}
	else
	{
		int			i;

		/* records nobody can write any more must not hold a queue */
		for (i = 0; i < bt_audit_shared->nqueues; i++)
		{
			BtAuditQueue *q = &bt_audit_shared->queues[i];

			if (q->dboid == dboid && q->writer_state == BT_WRITER_NONE)
			{
				q->dboid = InvalidOid;
				q->head = q->tail = 0;
				q->nentries = 0;
			}
		}
	}
	LWLockRelease(bt_audit_shared->lock);
}


/* ----------------------------------------------------------------
 * Hooks
 * ----------------------------------------------------------------
 */

static void
bt_post_parse_analyze(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	if (!bt_audit_is_writer())
		capture_statement(pstate->p_sourcetext, query->stmt_location,
						  query->stmt_len, query->queryId);
}

static PlannedStmt *
bt_planner(Query *parse, const char *query_string, int cursorOptions,
		   ParamListInfo boundParams)
{
	if (!bt_audit_is_writer())
		capture_statement(query_string, parse->stmt_location, parse->stmt_len,
						  parse->queryId);
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

static void
bt_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (!bt_audit_is_writer())
	{
		capture_statement(queryDesc->sourceText,
						  queryDesc->plannedstmt->stmt_location,
						  queryDesc->plannedstmt->stmt_len,
						  queryDesc->plannedstmt->queryId);
		/* no statement runs under a setting the log has not seen */
		log_setting_changes();
	}
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
bt_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	const char *held_name = NULL;
	volatile Oid held = InvalidOid; /* set under PG_TRY (-Wclobbered) */
	volatile bool done = false;
	bool		writer = bt_audit_is_writer();

	if (!writer)
	{
		capture_statement(queryString, pstmt->stmt_location, pstmt->stmt_len,
						  pstmt->queryId);
		log_setting_changes();
		held_name = database_needing_writer_gone(stmt);
		if (held_name != NULL)
			held = get_database_oid(held_name, true);
		/* only once PostgreSQL's own privilege checks would pass */
		if (OidIsValid(held) && !may_run_dba_operation(stmt, held))
			held = InvalidOid;
	}

	utility_depth++;
	PG_TRY();
	{
		/* inside: a cancel while waiting for the writer lets go too */
		if (OidIsValid(held))
			hold_database(held);
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
									params, queryEnv, dest, qc);
		done = true;
	}
	PG_FINALLY();
	{
		utility_depth--;
		if (OidIsValid(held))
			release_database(held, done && IsA(stmt, DropdbStmt));
	}
	PG_END_TRY();

	if (writer)
		return;

	/*
	 * A new access log starts with the settings in force, whatever this
	 * backend logged before there was a log to write to.
	 */
	if (IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "biotoken") == 0)
	{
		BtAuditDatabase *d;

		settings_seen = false;
		LWLockAcquire(bt_audit_shared->lock, LW_EXCLUSIVE);
		d = bt_audit_database(MyDatabaseId, false);
		if (d != NULL)
			memset(d->srv_valid, 0, sizeof(d->srv_valid));
		LWLockRelease(bt_audit_shared->lock);
		bt_guc_setting_changed = true;
	}

	/* SET, RESET, SET LOCAL: logged before the client hears of it */
	log_setting_changes();
}

/*
 * bt_audit_init
 *		Request shared memory, enable query ids and install the hooks.
 *		Called from _PG_init while shared_preload_libraries is processed,
 *		after every other module's hooks, so that these run first.
 */
void
bt_audit_init(void)
{
	/*
	 * Up to biotoken.audit_writers background workers are ours; parallel
	 * query should still get max_parallel_workers of max_worker_processes.
	 */
	if (bt_audit_writers + max_parallel_workers > max_worker_processes)
		ereport(WARNING,
				(errmsg("biotoken.audit_writers (%d) and max_parallel_workers (%d) exceed max_worker_processes (%d)",
						bt_audit_writers, max_parallel_workers, max_worker_processes),
				 errdetail("Parallel queries may get fewer workers while access-log writers run."),
				 errhint("Raise max_worker_processes to at least %d.",
						 bt_audit_writers + max_parallel_workers)));

	/* query ids for the log, as pg_stat_statements asks for them */
	EnableQueryId();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = audit_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = audit_shmem_startup;

	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = bt_post_parse_analyze;
	prev_planner_hook = planner_hook;
	planner_hook = bt_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = bt_ExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = bt_ProcessUtility;
}

PG_FUNCTION_INFO_V1(biotoken_access_log_status);

/*
 * SQL: biotoken.access_log_status(OUT queued int, OUT oldest_queued_at
 *		timestamptz, OUT writer_pid int, OUT writer_state text,
 *		OUT waiting_for_writer_since timestamptz)
 *
 * This database's access-log queue, for monitoring: how many records wait
 * for the writer and since when (the writer's lag), and the writer.  Reads
 * shared memory under the queue lock in shared mode; no records, no
 * statement text, nothing secret.  All NULL but queued = 0 when the
 * database has no queue.
 */
Datum
biotoken_access_log_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, true, true, false, true};
	int			queued = 0;
	int			state = BT_WRITER_NONE;
	int			pid = 0;
	TimestampTz oldest = 0;
	TimestampTz wants = 0;
	int			i;

	bt_require_preloaded();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	if (bt_audit_shared != NULL)
	{
		LWLockAcquire(bt_audit_shared->lock, LW_SHARED);
		for (i = 0; i < bt_audit_shared->nqueues; i++)
		{
			BtAuditQueue *q = &bt_audit_shared->queues[i];

			if (q->dboid != MyDatabaseId)
				continue;
			queued = q->nentries;
			oldest = q->nentries > 0 ? q->pending_since : 0;
			state = q->writer_state;
			pid = q->writer_pid;
			wants = q->wants_writer_since;
			break;
		}
		LWLockRelease(bt_audit_shared->lock);
	}

	values[0] = Int32GetDatum(queued);
	if (oldest != 0)
	{
		values[1] = TimestampTzGetDatum(oldest);
		nulls[1] = false;
	}
	if (state != BT_WRITER_NONE && pid != 0)
	{
		values[2] = Int32GetDatum(pid);
		nulls[2] = false;
	}
	values[3] = CStringGetTextDatum(state == BT_WRITER_RUNNING ? "running" :
									state == BT_WRITER_STARTING ? "starting" :
									"none");
	if (wants != 0)
	{
		values[4] = TimestampTzGetDatum(wants);
		nulls[4] = false;
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
