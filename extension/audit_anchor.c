/*-------------------------------------------------------------------------
 *
 * audit_anchor.c
 *	  The durable anchor of the access log: the id and row_hash of the
 *	  last row the writer committed in a database, kept in a small file in
 *	  the data directory, so that rows removed from the end of the log are
 *	  seen after a restart too.
 *
 * The writer keeps the chain end in shared memory (audit.h's
 * BtAuditDatabase.anchor) and continues the chain from it; verification
 * checks the log reaches it.  Shared memory is gone after a restart, so
 * the writer also writes the anchor to "biotoken_log/<database oid>.anchor"
 * after every batch's commit has been flushed and before any waiting
 * backend is told, and fsyncs it (with fsync = on).  After a restart the
 * anchor is read back from there the first time it is needed.
 *
 * Written after the commit, never before: a crash between the two leaves
 * an anchor that is behind the table (the rows after it are still checked
 * by the chain), never one ahead of it (a false alarm).  The file is one
 * 64-byte record with a CRC, written in place with one pwrite, so a torn
 * write is detected; a damaged or missing file only loses the check of the
 * end (with a WARNING), never fails the log.
 *
 * What it does not stop: someone with write access to the data directory
 * can remove the file along with the rows.  The server-log line of every
 * committed record (id and row_hash, shipped elsewhere) is the witness for
 * that; README says so.  Restoring a base backup to an earlier point in
 * time (PITR) makes the anchor newer than the table, and verification then
 * reports the rows the restore removed, as it should.
 *
 * Locking: none; each database's file is written only by its writer (one
 * at a time), read by anyone.
 *
 * IDENTIFICATION
 *	  extension/audit_anchor.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_perm.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "audit.h"

#define BT_ANCHOR_DIR		"biotoken_log"
#define BT_ANCHOR_MAGIC		0x41544e42	/* "BNTA" */
#define BT_ANCHOR_VERSION	1

/* the file: exactly this, in native byte order (it never leaves the host) */
typedef struct BtAnchorFile
{
	uint32		magic;
	uint32		version;
	Oid			dboid;
	Oid			relid;			/* the access_log table */
	int64		id;				/* last committed row */
	uint8		hash[BT_HMAC_BYTES];	/* its row_hash */
	TransactionId xid;			/* the transaction that committed it */
	pg_crc32c	crc;			/* of everything before it */
} BtAnchorFile;

StaticAssertDecl(sizeof(BtAnchorFile) == 64, "anchor file record is 64 bytes");

static void
anchor_path(Oid dboid, char *path)
{
	snprintf(path, MAXPGPATH, BT_ANCHOR_DIR "/%u.anchor", dboid);
}

static pg_crc32c
anchor_crc(const BtAnchorFile *f)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, f, offsetof(BtAnchorFile, crc));
	FIN_CRC32C(crc);
	return crc;
}

/* the writer's open anchor file and its database */
static int	anchor_fd = -1;
static Oid	anchor_fd_db = InvalidOid;

/*
 * bt_audit_anchor_save
 *		Write the chain end of database dboid to its anchor file and fsync
 *		it.  Called by the writer after a batch's commit is flushed.  A
 *		failure is a WARNING (the rows are committed; only the check of the
 *		end after a restart is weakened) and is tried again next batch.
 */
void
bt_audit_anchor_save(Oid dboid, const BtAuditAnchor *a, TransactionId xid)
{
	char		path[MAXPGPATH];
	BtAnchorFile f;

	anchor_path(dboid, path);
	if (anchor_fd >= 0 && anchor_fd_db != dboid)
	{
		close(anchor_fd);
		anchor_fd = -1;
	}
	if (anchor_fd < 0)
	{
		if (MakePGDirectory(BT_ANCHOR_DIR) < 0 && errno != EEXIST)
		{
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", BT_ANCHOR_DIR)));
			return;
		}
		anchor_fd = BasicOpenFilePerm(path, O_RDWR | O_CREAT | PG_BINARY,
									  pg_file_create_mode);
		if (anchor_fd < 0)
		{
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not open access-log anchor file \"%s\": %m", path)));
			return;
		}
		anchor_fd_db = dboid;
		/* the file's directory entry must survive a crash too */
		fsync_fname(BT_ANCHOR_DIR, true);
	}

	memset(&f, 0, sizeof(f));
	f.magic = BT_ANCHOR_MAGIC;
	f.version = BT_ANCHOR_VERSION;
	f.dboid = dboid;
	f.relid = a->relid;
	f.id = a->id;
	memcpy(f.hash, a->hash, BT_HMAC_BYTES);
	f.xid = xid;
	f.crc = anchor_crc(&f);

	errno = 0;
	if (pg_pwrite(anchor_fd, &f, sizeof(f), 0) != sizeof(f) ||
		pg_fsync(anchor_fd) != 0)
	{
		if (errno == 0)
			errno = ENOSPC;
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not write access-log anchor file \"%s\": %m", path),
				 errdetail("Rows removed from the end of the access log may go unnoticed after a restart.")));
		close(anchor_fd);
		anchor_fd = -1;
	}
}

/*
 * bt_audit_anchor_load
 *		Read the chain end of database dboid from its anchor file into *a
 *		and *xid.  False if there is none; a damaged file is a WARNING and
 *		false.
 */
bool
bt_audit_anchor_load(Oid dboid, BtAuditAnchor *a, TransactionId *xid)
{
	char		path[MAXPGPATH];
	BtAnchorFile f;
	int			fd;
	ssize_t		got;

	anchor_path(dboid, path);
	fd = BasicOpenFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not open access-log anchor file \"%s\": %m", path)));
		return false;
	}
	got = pg_pread(fd, &f, sizeof(f), 0);
	close(fd);
	if (got != sizeof(f) || f.magic != BT_ANCHOR_MAGIC ||
		f.version != BT_ANCHOR_VERSION || f.dboid != dboid ||
		!EQ_CRC32C(f.crc, anchor_crc(&f)))
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("access-log anchor file \"%s\" is damaged", path),
				 errdetail("Rows removed from the end of the access log cannot be detected until the writer commits again.")));
		return false;
	}
	memset(a, 0, sizeof(*a));
	a->valid = true;
	a->relid = f.relid;
	a->id = f.id;
	memcpy(a->hash, f.hash, BT_HMAC_BYTES);
	*xid = f.xid;
	return true;
}

/*
 * bt_audit_anchor_remove
 *		Remove the anchor file of a dropped database (its OID may come
 *		back for another one).
 */
void
bt_audit_anchor_remove(Oid dboid)
{
	char		path[MAXPGPATH];

	anchor_path(dboid, path);
	if (unlink(path) < 0 && errno != ENOENT)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("could not remove access-log anchor file \"%s\": %m", path)));
}
