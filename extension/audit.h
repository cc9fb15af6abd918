/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  The access log: records, the shared-memory queue between the
 *	  backends (audit.c) and the writer worker (audit_worker.c), and the
 *	  hash chain.
 *
 * Other modules call only the first part: bt_audit_write() with a
 * BtAuditRecord, bt_audit_note_read() for biotoken.log_reads, and
 * bt_audit_is_writer() to stay out of the writer's own statements.  The
 * second part is shared by audit.c and audit_worker.c only.  The functions
 * marked PGDLLEXPORT are also called by the test library
 * tests/audit_probe, and PostgreSQL 16 and later build modules with
 * hidden symbols by default.
 *
 * IDENTIFICATION
 *	  extension/audit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_AUDIT_H
#define BIOTOKEN_AUDIT_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"

#include "crypto.h"

typedef enum BtAuditEvent
{
	BT_EVENT_REFUSED,			/* a statement the guard refused */
	BT_EVENT_ALLOWED,			/* a combining statement let through by a grant */
	BT_EVENT_GRANT,				/* an audit grant was given */
	BT_EVENT_REVOKE,			/* an audit grant was revoked */
	BT_EVENT_LABEL,				/* a classification label changed */
	BT_EVENT_SETTING,			/* biotoken.guard or biotoken.scope changed */
	BT_EVENT_READ,				/* a read of a biometric column (log_reads) */
	BT_EVENT_PRUNE				/* archive-and-prune removed the log's head */
} BtAuditEvent;

#define BT_EVENT_LAST	BT_EVENT_PRUNE

typedef struct BtAuditRecord
{
	BtAuditEvent event;
	int64		grant_id;		/* grant used, granted or revoked; 0 if none */
	int			categories;		/* BtCategory bits */
	List	   *columns;		/* of char *, "schema.table.column" */
	const char *detail;			/* a JSON object as text, or NULL */
} BtAuditRecord;

extern PGDLLEXPORT const char *bt_audit_event_name(BtAuditEvent event);

/*
 * bt_audit_write: have the record committed to biotoken.access_log (and
 * written to the server log) before returning; throws 42501 (fail closed)
 * if that cannot be done within biotoken.audit_timeout.  The session
 * fields and the normalized top-level statement are filled in here.
 */
extern PGDLLEXPORT void bt_audit_write(const BtAuditRecord *rec);

/*
 * bt_audit_note_read: with biotoken.log_reads on, write a 'read' record for
 * a statement that reads the biometric columns "columns" (List of char *,
 * "schema.table.column"); does nothing when log_reads is off.
 */
extern PGDLLEXPORT void bt_audit_note_read(List *columns);

/*
 * true in the access-log writer worker: hooks of other modules must leave
 * its statements alone, they are the log itself.  Inline, since every hook
 * asks on every statement; only audit_worker.c sets the flag.
 */
extern bool bt_audit_am_writer;

static inline bool
bt_audit_is_writer(void)
{
	return bt_audit_am_writer;
}

/* shared memory, worker registration and hooks; called from _PG_init */
extern void bt_audit_init(void);


/* ----------------------------------------------------------------
 * Between audit.c and audit_worker.c only.
 * ----------------------------------------------------------------
 */

/*
 * biotoken.audit_queues queues of biotoken.audit_queue_size bytes each;
 * read the sizes from shared memory (the settings are postmaster's).
 */
#define BT_AUDIT_MAX_ENTRY		(bt_audit_shared->ring_bytes / 2)
#define BT_AUDIT_MAX_STATEMENT	(32 * 1024) /* statement bytes in the table */
#define BT_AUDIT_DATABASES		64	/* databases whose chain end is kept */
#define BT_AUDIT_WORKER_IDLE_MS 10000	/* the writer leaves after this */
#define BT_AUDIT_WRITER_TURN_MS 500 /* then it yields to a waiting database */

/* state of a queue's writer */
#define BT_WRITER_NONE			0
#define BT_WRITER_STARTING		1
#define BT_WRITER_RUNNING		2

/* state of a waiter (one per PGPROC) */
#define BT_WAIT_IDLE			0
#define BT_WAIT_QUEUED			1	/* in the ring, may be withdrawn */
#define BT_WAIT_TAKEN			2	/* in the writer's current batch */
#define BT_WAIT_DONE			3	/* committed */
#define BT_WAIT_FAILED			4	/* the writer's transaction failed */

/*
 * One record in a queue's ring.  The fixed part is followed by the strings
 * session_user, current_user, login_user, client_addr, application_name,
 * statement, detail and then ncolumns column names, each as an int32 length
 * (-1 for NULL) and that many bytes plus a NUL.  Entries never wrap: a PAD
 * entry fills the end of the ring when the next one does not fit.
 */
typedef struct BtAuditEntry
{
	uint32		len;			/* whole entry, MAXALIGNed */
	uint32		flags;			/* BT_ENTRY_PAD, BT_ENTRY_WITHDRAWN */
	uint64		seq;			/* per-queue sequence number */
	int			procno;			/* the waiter's pgprocno; -1: nobody waits */
	int			event;			/* BtAuditEvent */
	int64		grant_id;
	int			categories;
	int32		backend_pid;
	TimestampTz logged_at;
	int64		query_id;
	int			ncolumns;
	/* strings follow */
} BtAuditEntry;

#define BT_ENTRY_PAD			1	/* fills the end of the ring */
#define BT_ENTRY_WITHDRAWN		2	/* its backend gave up waiting */

#define BT_AUDIT_NSTRINGS		7	/* strings before the column names */

/* the access-log queue of one database and its writer */
typedef struct BtAuditQueue
{
	Oid			dboid;			/* InvalidOid: free */
	int			writer_state;	/* BT_WRITER_* */
	int			writer_pid;
	int			writer_procno;	/* to set its latch */
	TimestampTz launched_at;
	uint32		generation;		/* of the latest launch */
	bool		leave;			/* a DBA operation asks the writer to go */
	uint64		next_seq;		/* sequence number of the next entry */
	uint64		head;			/* ring bytes written, ever */
	uint64		tail;			/* ring bytes taken, ever */
	int			nentries;		/* entries between tail and head */
	TimestampTz pending_since;	/* when the oldest of them was queued */
	TimestampTz wants_writer_since; /* waiting for a writer slot, or 0 */
	ConditionVariable cv;		/* ring space freed, writer gone */
	char	   *ring;			/* ring_bytes of shared memory */
} BtAuditQueue;

/* what a backend waits for */
typedef struct BtAuditWaiter
{
	int			state;			/* BT_WAIT_* */
	int			queue;
	uint64		seq;
	uint64		ring_pos;		/* where the entry is, while QUEUED */
	int64		log_id;			/* when DONE */
	uint8		row_hash[BT_HMAC_BYTES];
	ConditionVariable cv;
} BtAuditWaiter;

/* the chain end a writer appends to, and what one appended row became */
typedef struct BtAuditAnchor
{
	bool		valid;
	Oid			relid;			/* the access_log table it belongs to */
	int64		id;
	uint8		hash[BT_HMAC_BYTES];
} BtAuditAnchor;

/*
 * What the server knows of one database's log between writer lifetimes:
 * the end of the chain as last committed (to detect rows removed from the
 * end), the server-wide settings last logged there, and a DBA operation
 * that needs the writer gone.
 */
/* the settings whose changes are 'setting' events (audit.c) */
#define BT_AUDIT_NSETTINGS	4

typedef struct BtAuditDatabase
{
	Oid			dboid;			/* InvalidOid: free */
	BtAuditAnchor anchor;		/* last row the writer committed */
	TransactionId anchor_xid;	/* the transaction that committed it */
	bool		srv_valid[BT_AUDIT_NSETTINGS];	/* audit.c's logged_settings */
	int			srv_value[BT_AUDIT_NSETTINGS];
	bool		srv_committed[BT_AUDIT_NSETTINGS];
	int			hold_pid;		/* backend running a DBA operation, or 0 */
	TimestampTz last_used;
} BtAuditDatabase;

typedef struct BtAuditShared
{
	LWLock	   *lock;			/* protects everything below */
	BtAuditDatabase dbs[BT_AUDIT_DATABASES];
	int			nqueues;		/* biotoken.audit_queues */
	uint64		ring_bytes;		/* biotoken.audit_queue_size */
	int			max_writers;	/* biotoken.audit_writers */
	BtAuditQueue *queues;		/* nqueues, in this segment */
	int			nwaiters;
	BtAuditWaiter *waiters;		/* one per PGPROC */
} BtAuditShared;

extern BtAuditShared *bt_audit_shared;


/* audit.c */
extern const char *bt_audit_entry_next(const char **cursor);
extern BtAuditDatabase *bt_audit_database(Oid dboid, bool create);

/* audit_anchor.c */
extern void bt_audit_anchor_save(Oid dboid, const BtAuditAnchor *a,
								 TransactionId xid);
extern bool bt_audit_anchor_load(Oid dboid, BtAuditAnchor *a,
								 TransactionId *xid);
extern void bt_audit_anchor_remove(Oid dboid);

/* audit_worker.c */
extern PGDLLEXPORT void bt_audit_worker_main(Datum main_arg);
extern bool bt_audit_worker_launch(int queue, uint32 generation, Oid dboid);
extern Oid	bt_audit_log_find(Oid *owner);
extern void bt_audit_chain_append(Oid relid, Oid owner,
								  BtAuditEntry **entries, int n,
								  const BtAuditAnchor *known_end,
								  int checkpoint_rows,
								  BtAuditAnchor *results,
								  BtAuditAnchor *end);

#endif							/* BIOTOKEN_AUDIT_H */
