/*-------------------------------------------------------------------------
 *
 * flat.c
 *	  biotoken_flat, the identification index: an index access method that
 *	  answers "ORDER BY face <~> probe LIMIT k" with an exact brute-force
 *	  Hamming scan of every template, done inside the access method.
 *
 * A sequential scan feeding a top-k sort pays, for every row, a heap tuple
 * deformation, an fmgr call of the distance function and a copy of the row
 * into the sort; that overhead alone costs more than the distances.  This
 * index keeps the templates densely packed in its own pages and computes
 * all distances in one tight loop per page with the kernel that the SQL
 * functions use (template.h), so both paths give the same distances and the
 * same errors.  Distances are integers 0..bits over a fixed bit count, so
 * the scan orders them with a counting sort over a histogram rather than a
 * comparison sort.  Nothing is approximate: the index returns every row, in
 * exactly the order of the distance, with the exact distance.
 *
 * Storage.  Block 0 is the metapage; every other page holds BtFlatTuples
 * (the heap TID, then the template's bt1 record without a varlena header;
 * an empty record for a NULL template) behind ordinary line pointers.  The
 * build writes them in heap order; inserts append to the first page of the
 * metapage's list of pages with free space (a new page when none has room);
 * VACUUM deletes dead tuples in place, rebuilds that list, marks emptied
 * pages deleted and gives them to the free space map for reuse.  There are
 * no links between pages.  Every change is WAL-logged with generic WAL
 * records (access/generic_xlog.h), so crash recovery and physical replicas
 * replay it without biotoken.
 *
 * Scanning.  amrescan takes the probe from the ordering operator's scan key.
 * The first amgettuple reads every page (a "pass") and turns each distance
 * diff/bits into a key floor(diff * 32768 / bits): for one bit count this is
 * exact and order-preserving, and it orders templates of different bit
 * counts correctly to within 1/32768 (the returned distance is then a lower
 * bound that the executor rechecks; see set_orderby).  Each row becomes one
 * uint64, key << 48 | heap TID, in a flat array, and a histogram counts the
 * keys.  Rows are handed out in batches of whole keys: a batch is the rows
 * of the next few keys, placed in key order by one counting-sort pass over
 * the array.  Batches start small (a LIMIT k query needs one) and double.
 *
 * Parallel scans.  Under Gather Merge, the leader and each worker run a
 * scan of their own: each claims ranges of pages from a counter in shared
 * memory (BtFlatParallelScanData) until none is left, keeps the distances of
 * its own rows exactly as a serial scan keeps all of them, and hands its
 * rows out in distance order; Gather Merge merges the streams, so the rows
 * and distances come out as from a serial scan (rows of equal distance
 * possibly in another order).  A participant that must read the index again
 * (see Memory) reads the ranges it claimed the first time.  The planner
 * divides a partial path's index startup cost among the participants
 * through set_rel_pathlist_hook (flat_set_rel_pathlist), which also drops
 * the parallel paths whose probe a worker could not have.
 *
 * Memory.  Scan state lives in a context of its own under the executor's.
 * The array is bounded by work_mem: when it fills, the pairs of the farthest
 * keys are dropped (the histogram says where to cut), and only if the
 * consumer ever gets past the kept keys is the index read again, for keys
 * above those already returned.  One key with more rows than fit (many
 * identical distances) is kept whole, beyond work_mem.
 *
 * Locking.  A scan share-locks one page at a time and computes all of its
 * distances under that lock.  Inserts lock the page they add to and, to
 * move on to another page, the metapage first (metapage, then data page, as
 * in contrib/bloom); VACUUM locks each page in turn, then the metapage.
 * The scan keeps heap TIDs after it has let go of their page, as GiST's
 * ordered scans do, which is safe for MVCC snapshots only: a TID VACUUM
 * frees belonged to a tuple no MVCC snapshot of ours can see.
 *
 * Privileges.  The ordering operator's function, biometric_distance,
 * requires EXECUTE (biotoken_matcher).  The executor checks that when it
 * initialises the index scan's ORDER BY expression; since the index computes
 * scores without calling the function, amrescan checks it again.
 *
 * IDENTIFICATION
 *	  extension/flat.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/amapi.h"
#include "access/amvalidate.h"
#include "access/generic_xlog.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "pgstat.h"
#include "port/pg_bitutils.h"
#include "storage/bufmgr.h"
#include "storage/indexfsm.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/spccache.h"
#include "utils/syscache.h"

#include "biotoken.h"
#include "compat.h"
#include "flat.h"
#include "template.h"

PG_FUNCTION_INFO_V1(biotoken_flat_handler);

/* ----------------------------------------------------------------
 * Page layout
 * ----------------------------------------------------------------
 */
#define BT_FLAT_MAGIC			0x62744631	/* "btF1" */
#define BT_FLAT_VERSION			1
#define BT_FLAT_PAGE_ID			0xFF8C	/* distinct from core AMs and bloom */
#define BT_FLAT_METAPAGE_BLKNO	0
#define BT_FLAT_FIRST_BLKNO		1

/* page flags */
#define BT_FLAT_META			0x0001
#define BT_FLAT_DELETED			0x0002	/* emptied by VACUUM; reusable */

typedef struct BtFlatPageOpaqueData
{
	uint16		flags;
	uint16		page_id;		/* BT_FLAT_PAGE_ID, for tools like pg_filedump */
} BtFlatPageOpaqueData;

typedef BtFlatPageOpaqueData *BtFlatPageOpaque;

#define FlatPageGetOpaque(page) \
	((BtFlatPageOpaque) PageGetSpecialPointer(page))
#define FlatPageIsDeleted(page) \
	((FlatPageGetOpaque(page)->flags & BT_FLAT_DELETED) != 0)

/*
 * The metapage: free_pages[free_next .. free_end - 1] are pages that had
 * room when VACUUM (or the build, or an insert that added a page) last
 * looked; inserts go to the first of them that still has room.
 */
typedef struct BtFlatMetaData
{
	uint32		magic;
	uint32		version;
	uint32		free_next;
	uint32		free_end;
	BlockNumber free_pages[FLEXIBLE_ARRAY_MEMBER];
} BtFlatMetaData;

#define BT_FLAT_FREE_PAGES \
	((BLCKSZ - MAXALIGN(SizeOfPageHeaderData) - \
	  MAXALIGN(sizeof(BtFlatPageOpaqueData)) - \
	  offsetof(BtFlatMetaData, free_pages)) / sizeof(BlockNumber))

#define FlatPageGetMeta(page)	((BtFlatMetaData *) PageGetContents(page))

/* an index tuple: the heap TID, then the bt1 record (empty for NULL) */
typedef struct BtFlatTuple
{
	ItemPointerData heap_tid;
	uint8		record[FLEXIBLE_ARRAY_MEMBER];
} BtFlatTuple;

#define BT_FLAT_TUPLE_HEADER	offsetof(BtFlatTuple, record)

/* the largest tuple that fits on an otherwise empty page */
#define BT_FLAT_MAX_TUPLE \
	MAXALIGN_DOWN(BLCKSZ - MAXALIGN(SizeOfPageHeaderData + sizeof(ItemIdData)) - \
				  MAXALIGN(sizeof(BtFlatPageOpaqueData)))

/* ----------------------------------------------------------------
 * Scan state
 * ----------------------------------------------------------------
 */

/*
 * Keys: floor(diff * BT_FLAT_KEY_SCALE / bits) for a template, one more
 * than the largest distance key for a NULL template or a NULL probe (NULL
 * distances sort last, as in ORDER BY).  A key and a heap TID make one
 * uint64 that sorts like (key, TID).
 */
#define BT_FLAT_KEY_SCALE		32768
#define BT_FLAT_KEY_SHIFT		15	/* log2(BT_FLAT_KEY_SCALE) */
#define BT_FLAT_NULL_KEY		(BT_FLAT_KEY_SCALE + 1)
#define BT_FLAT_NKEYS			(BT_FLAT_NULL_KEY + 1)

StaticAssertDecl(BT_FLAT_KEY_SCALE == BT_CODEC_MAX_BITS,
				 "every bit count must map distinct distances to distinct keys");
StaticAssertDecl(BT_FLAT_NULL_KEY <= PG_UINT16_MAX, "a key must fit in 16 bits");

#define FLAT_ITEM(key, tid) \
	(((uint64) (key) << 48) | \
	 ((uint64) ItemPointerGetBlockNumberNoCheck(tid) << 16) | \
	 (uint64) ItemPointerGetOffsetNumberNoCheck(tid))
#define FLAT_ITEM_KEY(item)		((int) ((item) >> 48))

/* records handed to the kernel at once (all of one run) */
#define BT_FLAT_BATCH			32

/* rows in the first batch handed out after a pass; later batches double */
#define BT_FLAT_FIRST_BATCH		64

typedef struct BtFlatScanOpaqueData
{
	MemoryContext cxt;			/* owns everything below */
	BtProbeCache *probe;		/* the probe and its projections */
	bool		probe_null;		/* no probe (NULL or no ORDER BY): every
								 * distance is NULL */
	bool		started;		/* the first pass has run */

	/* the current pass keeps the rows with keys in (lo, cut] */
	int			lo;
	int			cut;
	int64		nbeyond;		/* rows of this pass with keys above cut */
	uint64	   *items;			/* (key, TID) of the kept rows */
	int64		nitems;
	int64		capacity;		/* allocated items */
	int64		limit;			/* capacity allowed by work_mem */
	int64	   *hist;			/* kept rows per key */

	/* rows with keys up to emitted have been put in batches */
	int			emitted;
	uint64	   *batch;			/* the current batch, in key order */
	int64		nbatch;
	int64		batchpos;		/* next row of the batch to return */
	int64		batchcap;
	int64		batch_target;	/* rows wanted in the next batch */
	int64	   *offsets;		/* counting sort positions, per key */

	/* bit counts of the templates met, to turn keys back into distances */
	int			bits;			/* the first one */
	bool		mixed_bits;		/* another one was met */
	bool		all_pow2;		/* every one met is a power of two */

	/* the key of the current run: diff << shift, or by division if < 0 */
	int			run_bits;
	int			run_shift;

	/*
	 * A parallel scan: the page ranges [ranges[2i], ranges[2i + 1]) this
	 * participant claimed in its first pass, which later passes read again.
	 */
	BlockNumber *ranges;
	int			nranges;
	int			rangecap;
} BtFlatScanOpaqueData;

typedef BtFlatScanOpaqueData *BtFlatScanOpaque;

/*
 * The shared state of a parallel scan, in dynamic shared memory.  The
 * participants (the leader and its workers) claim ranges of pages under the
 * spinlock, each computes the distances of its own pages and hands its rows
 * out in distance order, and Gather Merge merges the participants' streams.
 * nblocks is fixed by the first participant to start, so that all read the
 * same pages however the index grows meanwhile.
 */
typedef struct BtFlatParallelScanData
{
	slock_t		mutex;
	BlockNumber nblocks;		/* InvalidBlockNumber until the first claim */
	BlockNumber next;			/* the first page not yet claimed */
} BtFlatParallelScanData;

typedef BtFlatParallelScanData *BtFlatParallelScan;

/*
 * Pages claimed at once: a few, so that each participant reads runs of
 * consecutive pages (and prefetches within them), but at most 1/64 of the
 * index, so that the pages of a small index are shared out too.
 */
#define BT_FLAT_PARALLEL_CHUNK	32

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

/* ----------------------------------------------------------------
 * Pages
 * ----------------------------------------------------------------
 */

/* initialise any page of the index */
static void
flat_init_page(Page page, uint16 flags)
{
	BtFlatPageOpaque opaque;

	PageInit(page, BLCKSZ, sizeof(BtFlatPageOpaqueData));
	opaque = FlatPageGetOpaque(page);
	opaque->flags = flags;
	opaque->page_id = BT_FLAT_PAGE_ID;
}

/*
 * Initialise the metapage in page.  pd_lower covers the whole free-page
 * list, so generic WAL records include every change to it (they skip the
 * hole between pd_lower and pd_upper).
 */
static void
flat_fill_metapage(Page page)
{
	BtFlatMetaData *meta;

	flat_init_page(page, BT_FLAT_META);
	meta = FlatPageGetMeta(page);
	memset(meta, 0, offsetof(BtFlatMetaData, free_pages) +
		   sizeof(BlockNumber) * BT_FLAT_FREE_PAGES);
	meta->magic = BT_FLAT_MAGIC;
	meta->version = BT_FLAT_VERSION;
	((PageHeader) page)->pd_lower = (char *) &meta->free_pages[BT_FLAT_FREE_PAGES] -
		(char *) page;
	Assert(((PageHeader) page)->pd_lower <= ((PageHeader) page)->pd_upper);
}

/* the metadata of the metapage page, checked */
static BtFlatMetaData *
flat_meta(Relation index, Page page)
{
	BtFlatMetaData *meta = FlatPageGetMeta(page);

	if (!(FlatPageGetOpaque(page)->flags & BT_FLAT_META) ||
		meta->magic != BT_FLAT_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("index \"%s\" is not a biotoken_flat index",
						RelationGetRelationName(index))));
	if (meta->version != BT_FLAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INDEX_CORRUPTED),
				 errmsg("biotoken_flat index \"%s\" has version %u, expected %d",
						RelationGetRelationName(index), meta->version,
						BT_FLAT_VERSION),
				 errhint("REINDEX the index.")));
	return meta;
}

/*
 * A new page for the index, pinned and exclusively locked: a page VACUUM
 * freed if the free space map has one, else a new block at the end.  The
 * caller initialises it.
 */
static Buffer
flat_new_buffer(Relation index)
{
	for (;;)
	{
		BlockNumber blkno = GetFreeIndexPage(index);
		Buffer		buf;

		if (blkno == InvalidBlockNumber)
			break;
		buf = ReadBuffer(index, blkno);

		/* someone may have reused it already; then it is locked or in use */
		if (ConditionalLockBuffer(buf))
		{
			Page		page = BufferGetPage(buf);

			if (PageIsNew(page) || FlatPageIsDeleted(page))
				return buf;
			LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		}
		ReleaseBuffer(buf);
	}
	return BT_EXTEND_RELATION(index, MAIN_FORKNUM);
}

/*
 * Add tup (size bytes) to the data page page if it has room; a page VACUUM
 * emptied (or a new, never initialised one) is initialised first.
 */
static bool
flat_page_add(Page page, BtFlatTuple *tup, Size size)
{
	if (PageIsNew(page) || FlatPageIsDeleted(page))
		flat_init_page(page, 0);
	if (PageGetFreeSpace(page) < MAXALIGN(size))
		return false;
	if (PageAddItem(page, (Item) tup, size, InvalidOffsetNumber,
					false, false) == InvalidOffsetNumber)
		elog(ERROR, "could not add a tuple to a biotoken_flat page with room for it");
	return true;
}

/*
 * The index tuple of one heap row, palloc'd in the current context, and its
 * size.  Checks that the template is a well-formed bt1 record (so scans can
 * trust the length of every record that shares a checked header).
 */
static BtFlatTuple *
flat_form_tuple(Relation index, Datum value, bool isnull, ItemPointer tid,
				Size *size)
{
	BtFlatTuple *tup;

	if (isnull)
	{
		*size = BT_FLAT_TUPLE_HEADER;
		tup = palloc(*size);
	}
	else
	{
		struct varlena *t = PG_DETOAST_DATUM_PACKED(value);
		size_t		len = VARSIZE_ANY_EXHDR(t);

		bt_template_check_record((const uint8 *) VARDATA_ANY(t), len);
		*size = BT_FLAT_TUPLE_HEADER + len;
		if (*size > BT_FLAT_MAX_TUPLE)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("biometric template is too large for index \"%s\"",
							RelationGetRelationName(index)),
					 errdetail("An index tuple of %zu bytes does not fit on a %d-byte page.",
							   *size, BLCKSZ)));
		tup = palloc(*size);
		memcpy(tup->record, VARDATA_ANY(t), len);
		if ((Pointer) t != DatumGetPointer(value))
			pfree(t);
	}
	tup->heap_tid = *tid;
	return tup;
}

/* ----------------------------------------------------------------
 * Build
 * ----------------------------------------------------------------
 */
typedef struct BtFlatBuildState
{
	Relation	index;
	MemoryContext tmpcxt;		/* reset after every heap row */
	double		indtuples;
	bool		page_used;		/* page holds tuples not yet written */
	PGAlignedBlock page;		/* the page being filled */
} BtFlatBuildState;

/* write the build's page to a new block, WAL-logged as a full image */
static void
flat_build_flush(BtFlatBuildState *bs)
{
	GenericXLogState *state;
	Buffer		buf;
	Page		page;

	buf = flat_new_buffer(bs->index);
	state = GenericXLogStart(bs->index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	memcpy(page, bs->page.data, BLCKSZ);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	flat_init_page(bs->page.data, 0);
	bs->page_used = false;
}

static void
flat_build_callback(Relation index, ItemPointer tid, Datum *values,
					bool *isnull, bool tupleIsAlive, void *state)
{
	BtFlatBuildState *bs = (BtFlatBuildState *) state;
	MemoryContext oldcxt = MemoryContextSwitchTo(bs->tmpcxt);
	BtFlatTuple *tup;
	Size		size;

	tup = flat_form_tuple(index, values[0], isnull[0], tid, &size);
	if (PageGetFreeSpace(bs->page.data) < MAXALIGN(size))
		flat_build_flush(bs);
	if (!flat_page_add(bs->page.data, tup, size))
		elog(ERROR, "could not add a tuple to an empty biotoken_flat page");
	bs->page_used = true;
	bs->indtuples += 1;

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(bs->tmpcxt);
}

/*
 * ambuild: the metapage, then the heap's templates in heap order, page by
 * page; the last page becomes the one inserts go to.
 */
static IndexBuildResult *
flat_build(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BtFlatBuildState bs;
	GenericXLogState *state;
	BtFlatMetaData *meta;
	BlockNumber last = InvalidBlockNumber;
	Buffer		buf;
	Page		page;
	double		reltuples;

	bt_require_preloaded();
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data",
			 RelationGetRelationName(index));

	/* the metapage, block 0 */
	buf = flat_new_buffer(index);
	Assert(BufferGetBlockNumber(buf) == BT_FLAT_METAPAGE_BLKNO);
	state = GenericXLogStart(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	flat_fill_metapage(page);
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);

	memset(&bs, 0, sizeof(bs));
	bs.index = index;
	bs.tmpcxt = AllocSetContextCreate(CurrentMemoryContext,
									  "biotoken_flat build",
									  ALLOCSET_DEFAULT_SIZES);
	flat_init_page(bs.page.data, 0);

	reltuples = table_index_build_scan(heap, index, indexInfo, true, true,
									   flat_build_callback, (void *) &bs,
									   NULL);
	if (bs.page_used)
	{
		flat_build_flush(&bs);
		last = RelationGetNumberOfBlocks(index) - 1;
	}
	MemoryContextDelete(bs.tmpcxt);

	/* inserts go to the last page first */
	if (last != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, BT_FLAT_METAPAGE_BLKNO);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		meta = flat_meta(index, page);
		meta->free_pages[0] = last;
		meta->free_next = 0;
		meta->free_end = 1;
		GenericXLogFinish(state);
		UnlockReleaseBuffer(buf);
	}

	result = (IndexBuildResult *) palloc(sizeof(IndexBuildResult));
	result->heap_tuples = reltuples;
	result->index_tuples = bs.indtuples;
	return result;
}

/*
 * ambuildempty: the metapage of the init fork of an unlogged index.  Logged
 * with log_newpage_buffer, since generic WAL records are not written for
 * unlogged relations and the init fork must survive a crash.
 */
static void
flat_buildempty(Relation index)
{
	Buffer		buf = BT_EXTEND_RELATION(index, INIT_FORKNUM);

	START_CRIT_SECTION();
	flat_fill_metapage(BufferGetPage(buf));
	MarkBufferDirty(buf);
	log_newpage_buffer(buf, true);
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/* ----------------------------------------------------------------
 * Insert
 * ----------------------------------------------------------------
 */

/*
 * Add tup to the index: to the first listed page with room, trying first
 * without changing (and so without exclusively locking) the metapage, which
 * is the common case; else to a new page, which becomes the only listed
 * one.  Each change is one generic WAL record.
 */
static void
flat_add_tuple(Relation index, BtFlatTuple *tup, Size size)
{
	GenericXLogState *state;
	BtFlatMetaData *meta;
	BlockNumber blkno = InvalidBlockNumber;
	Buffer		metabuf;
	Buffer		buf;
	Page		page;
	uint32		next;

	metabuf = ReadBuffer(index, BT_FLAT_METAPAGE_BLKNO);
	LockBuffer(metabuf, BUFFER_LOCK_SHARE);
	meta = flat_meta(index, BufferGetPage(metabuf));
	if (meta->free_next < meta->free_end)
		blkno = meta->free_pages[meta->free_next];
	LockBuffer(metabuf, BUFFER_LOCK_UNLOCK);

	if (blkno != InvalidBlockNumber)
	{
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		state = GenericXLogStart(index);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (flat_page_add(page, tup, size))
		{
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			ReleaseBuffer(metabuf);
			return;
		}
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
	}

	/* the other listed pages; free_next moves past the full ones */
	LockBuffer(metabuf, BUFFER_LOCK_EXCLUSIVE);
	meta = flat_meta(index, BufferGetPage(metabuf));
	next = meta->free_next;
	if (next < meta->free_end && meta->free_pages[next] == blkno)
		next++;
	for (;;)
	{
		state = GenericXLogStart(index);
		meta = FlatPageGetMeta(GenericXLogRegisterBuffer(state, metabuf, 0));
		if (next >= meta->free_end)
			break;				/* keep state for the new page */

		blkno = meta->free_pages[next];
		buf = ReadBuffer(index, blkno);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = GenericXLogRegisterBuffer(state, buf, 0);
		if (flat_page_add(page, tup, size))
		{
			meta->free_next = next;
			GenericXLogFinish(state);
			UnlockReleaseBuffer(buf);
			UnlockReleaseBuffer(metabuf);
			return;
		}
		GenericXLogAbort(state);
		UnlockReleaseBuffer(buf);
		next++;
	}

	buf = flat_new_buffer(index);
	page = GenericXLogRegisterBuffer(state, buf, GENERIC_XLOG_FULL_IMAGE);
	flat_init_page(page, 0);
	if (!flat_page_add(page, tup, size))
		elog(ERROR, "could not add a tuple to an empty biotoken_flat page");
	meta->free_pages[0] = BufferGetBlockNumber(buf);
	meta->free_next = 0;
	meta->free_end = 1;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	UnlockReleaseBuffer(metabuf);
}

/*
 * aminsert.  Needs no key (templates are stored as they are), so it works
 * whether or not biotoken was preloaded: DML on the table never fails
 * because of the index.
 */
static bool
flat_insert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid,
			Relation heapRel, IndexUniqueCheck checkUnique,
			bool indexUnchanged, IndexInfo *indexInfo)
{
	BtFlatTuple *tup;
	Size		size;

	tup = flat_form_tuple(index, values[0], isnull[0], ht_ctid, &size);
	flat_add_tuple(index, tup, size);
	pfree(tup);
	return false;
}

/* ----------------------------------------------------------------
 * Vacuum
 * ----------------------------------------------------------------
 */

/*
 * ambulkdelete: delete the tuples callback names, page by page, and
 * rebuild the metapage's list of pages with free space.  A page left empty
 * is marked deleted; amvacuumcleanup gives it to the free space map.
 */
static IndexBulkDeleteResult *
flat_bulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats,
				IndexBulkDeleteCallback callback, void *callback_state)
{
	Relation	index = info->index;
	BlockNumber *free_pages;
	uint32		nfree = 0;
	BlockNumber nblocks;
	BlockNumber blkno;
	GenericXLogState *state;
	BtFlatMetaData *meta;
	Buffer		buf;

	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));
	free_pages = palloc(sizeof(BlockNumber) * BT_FLAT_FREE_PAGES);

	nblocks = RelationGetNumberOfBlocks(index);
	for (blkno = BT_FLAT_FIRST_BLKNO; blkno < nblocks; blkno++)
	{
		OffsetNumber dead[MaxOffsetNumber];
		int			ndead = 0;
		Size		largest = 0;
		OffsetNumber off;
		OffsetNumber maxoff;
		Page		page;

		BT_VACUUM_DELAY_POINT();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 info->strategy);
		LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || FlatPageIsDeleted(page))
		{
			UnlockReleaseBuffer(buf);
			continue;
		}

		maxoff = PageGetMaxOffsetNumber(page);
		for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
		{
			ItemId		lp = PageGetItemId(page, off);
			BtFlatTuple *tup = (BtFlatTuple *) PageGetItem(page, lp);

			if (callback(&tup->heap_tid, callback_state))
				dead[ndead++] = off;
			else
				largest = Max(largest, ItemIdGetLength(lp));
		}

		if (ndead > 0)
		{
			Page		wpage;

			state = GenericXLogStart(index);
			wpage = GenericXLogRegisterBuffer(state, buf, 0);
			PageIndexMultiDelete(wpage, dead, ndead);
			if (PageGetMaxOffsetNumber(wpage) == 0)
				FlatPageGetOpaque(wpage)->flags |= BT_FLAT_DELETED;
			GenericXLogFinish(state);
			stats->tuples_removed += ndead;
		}

		/* list the page if it has room for one more of its largest tuple */
		if (!FlatPageIsDeleted(page) &&
			PageGetFreeSpace(page) >= MAXALIGN(largest) &&
			nfree < BT_FLAT_FREE_PAGES)
			free_pages[nfree++] = blkno;
		UnlockReleaseBuffer(buf);
	}

	buf = ReadBuffer(index, BT_FLAT_METAPAGE_BLKNO);
	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	state = GenericXLogStart(index);
	meta = flat_meta(index, GenericXLogRegisterBuffer(state, buf, 0));
	memcpy(meta->free_pages, free_pages, sizeof(BlockNumber) * nfree);
	meta->free_next = 0;
	meta->free_end = nfree;
	GenericXLogFinish(state);
	UnlockReleaseBuffer(buf);
	pfree(free_pages);

	return stats;
}

/*
 * amvacuumcleanup: give deleted and never-initialised pages to the free
 * space map, and count the pages and tuples left.
 */
static IndexBulkDeleteResult *
flat_vacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	Relation	index = info->index;
	BlockNumber nblocks;
	BlockNumber blkno;

	if (info->analyze_only)
		return stats;
	if (stats == NULL)
		stats = (IndexBulkDeleteResult *) palloc0(sizeof(IndexBulkDeleteResult));

	nblocks = RelationGetNumberOfBlocks(index);
	stats->num_index_tuples = 0;
	stats->pages_free = 0;
	stats->pages_deleted = 0;
	for (blkno = BT_FLAT_FIRST_BLKNO; blkno < nblocks; blkno++)
	{
		Buffer		buf;
		Page		page;

		BT_VACUUM_DELAY_POINT();
		buf = ReadBufferExtended(index, MAIN_FORKNUM, blkno, RBM_NORMAL,
								 info->strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		if (PageIsNew(page) || FlatPageIsDeleted(page))
		{
			RecordFreeIndexPage(index, blkno);
			stats->pages_free++;
			stats->pages_deleted++;
		}
		else
			stats->num_index_tuples += PageGetMaxOffsetNumber(page);
		UnlockReleaseBuffer(buf);
	}
	IndexFreeSpaceMapVacuum(index);
	stats->num_pages = nblocks;
	stats->estimated_count = false;
	return stats;
}

/* ----------------------------------------------------------------
 * Scan
 * ----------------------------------------------------------------
 */

/*
 * ambeginscan.  Scan state, including the pair array (allocated at the
 * first pass) and the two histograms, lives in a context of its own.
 */
static IndexScanDesc
flat_beginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan;
	BtFlatScanOpaque so;

	bt_require_preloaded();
	scan = RelationGetIndexScan(index, nkeys, norderbys);

	so = (BtFlatScanOpaque) palloc0(sizeof(BtFlatScanOpaqueData));
	so->cxt = AllocSetContextCreate(CurrentMemoryContext,
									"biotoken_flat scan",
									ALLOCSET_DEFAULT_SIZES);
	so->probe = bt_template_probe_cache(so->cxt);
	so->hist = MemoryContextAlloc(so->cxt, sizeof(int64) * BT_FLAT_NKEYS);
	so->offsets = MemoryContextAlloc(so->cxt, sizeof(int64) * BT_FLAT_NKEYS);
	scan->opaque = so;

	scan->xs_orderbyvals = (Datum *) palloc0(sizeof(Datum) * Max(norderbys, 1));
	scan->xs_orderbynulls = (bool *) palloc(sizeof(bool) * Max(norderbys, 1));
	return scan;
}

/*
 * amrescan: a new probe.  Only the first ordering key is computed by the
 * index; the others (ORDER BY face <~> a, face <~> b) are rechecked by the
 * executor (see set_orderby).  Projections are kept when the probe is the
 * same value as before.
 */
static void
flat_rescan(IndexScanDesc scan, ScanKey keys, int nkeys,
			ScanKey orderbys, int norderbys)
{
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;
	int			i;

	if (nkeys > 0)
		elog(ERROR, "biotoken_flat has no search operators");
	if (orderbys && scan->numberOfOrderBys > 0)
		memmove(scan->orderByData, orderbys,
				scan->numberOfOrderBys * sizeof(ScanKeyData));

	/*
	 * The index computes scores without calling the ordering operator's
	 * function: check EXECUTE on it here too, so that no plan shape can hand
	 * a score to a role the function refuses.
	 */
	for (i = 0; i < scan->numberOfOrderBys; i++)
	{
		Oid			fn = scan->orderByData[i].sk_func.fn_oid;

		if (BT_PROC_ACLCHECK(fn, GetUserId()) != ACLCHECK_OK)
			aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_FUNCTION, get_func_name(fn));
	}

	so->probe_null = scan->numberOfOrderBys == 0 ||
		(scan->orderByData[0].sk_flags & SK_ISNULL) != 0;
	if (!so->probe_null)
		bt_template_set_probe(so->probe, scan->orderByData[0].sk_argument);

	so->started = false;
	so->nranges = 0;
	so->nitems = 0;
	so->nbatch = 0;
	so->batchpos = 0;
}

/* amendscan: wipe the probe and its projections, free everything */
static void
flat_endscan(IndexScanDesc scan)
{
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;

	bt_template_forget_probe(so->probe);
	MemoryContextDelete(so->cxt);
	pfree(so);
	scan->opaque = NULL;
}

/* note the bit count of a new run of templates */
static void
flat_note_bits(BtFlatScanOpaque so, int bits)
{
	if (so->bits == 0)
	{
		so->bits = bits;
		so->all_pow2 = true;
	}
	else if (bits != so->bits)
		so->mixed_bits = true;
	if ((bits & (bits - 1)) != 0)
		so->all_pow2 = false;

	so->run_bits = bits;
	so->run_shift = (bits & (bits - 1)) == 0 ?
		BT_FLAT_KEY_SHIFT - pg_leftmost_one_pos32((uint32) bits) : -1;
}

/*
 * The pair array is full: raise the limit for one key that fills it, grow
 * the array up to work_mem, or lower cut to the largest key that keeps at
 * most half of the array and drop the pairs above it.
 */
static void
flat_make_room(BtFlatScanOpaque so)
{
	int64		sum = 0;
	int			newcut = -1;
	int			first = -1;
	int			k;

	if (so->capacity < so->limit)
	{
		so->capacity = Min(so->capacity * 2, so->limit);
		so->items = repalloc_huge(so->items, sizeof(uint64) * so->capacity);
		return;
	}

	for (k = so->lo + 1; k <= so->cut; k++)
	{
		if (so->hist[k] == 0)
			continue;
		if (first < 0)
			first = k;
		if (sum + so->hist[k] > so->capacity / 2)
			break;
		sum += so->hist[k];
		newcut = k;
	}
	if (newcut < 0)
		newcut = first;			/* the nearest key alone fills half */

	if (newcut < so->cut)
	{
		int64		i;
		int64		j = 0;

		/* branch-free: about half of the pairs go, in no predictable order */
		for (i = 0; i < so->nitems; i++)
		{
			so->items[j] = so->items[i];
			j += FLAT_ITEM_KEY(so->items[i]) <= newcut;
		}
		so->nitems = j;
		for (k = newcut + 1; k <= so->cut; k++)
		{
			so->nbeyond += so->hist[k];
			so->hist[k] = 0;
		}
		so->cut = newcut;
	}

	/* one key fills the array: its rows stay together, beyond work_mem */
	if (so->nitems == so->capacity)
	{
		so->capacity *= 2;
		so->items = repalloc_huge(so->items, sizeof(uint64) * so->capacity);
	}
}

/* keep the row tid with key in the pass, if its key is in (lo, cut] */
static inline void
flat_keep(BtFlatScanOpaque so, int key, ItemPointer tid)
{
	if (key <= so->lo)
		return;					/* handed out by an earlier pass */
	if (key > so->cut)
	{
		so->nbeyond++;
		return;
	}
	if (unlikely(so->nitems == so->capacity))
	{
		flat_make_room(so);
		if (key > so->cut)
		{
			so->nbeyond++;
			return;
		}
	}
	so->items[so->nitems++] = FLAT_ITEM(key, tid);
	so->hist[key]++;
}

/* distances of n records of the current run, kept as keys */
static void
flat_keep_run(BtFlatScanOpaque so, int n, const uint8 *const *recs,
			  BtFlatTuple *const *tups)
{
	int			diffs[BT_FLAT_BATCH];
	int			i;

	bt_template_diffs(&so->probe->run, n, recs, diffs);
	for (i = 0; i < n; i++)
	{
		int			key;

		if (likely(so->run_shift >= 0))
			key = diffs[i] << so->run_shift;
		else
			key = (int) (((uint32) diffs[i] << BT_FLAT_KEY_SHIFT) /
						 (uint32) so->run_bits);
		flat_keep(so, key, &tups[i]->heap_tid);
	}
}

/*
 * Every row of one page (a private copy: no buffer lock is held): runs of
 * records that share a header go to the kernel BT_FLAT_BATCH at a time.  A record that
 * starts a new run may throw (a key that is not loaded, a probe of other
 * dimensions: the errors of biometric_distance).
 *
 * prefetch is the next page (pinned, not locked), or NULL.  Its cache
 * lines are prefetched a few per row, so that they come from RAM while
 * this page's distances are computed; a burst of prefetches for the whole
 * page at once stalls on the CPU's few outstanding misses instead.  This
 * saved a few percent of a scan of a 1M-row index held in shared buffers.
 * Prefetching reads nothing, so it needs no lock.
 */
static void
flat_scan_page(BtFlatScanOpaque so, Page page, const char *prefetch)
{
	const uint8 *recs[BT_FLAT_BATCH];
	BtFlatTuple *tups[BT_FLAT_BATCH];
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	OffsetNumber off;
	int			n = 0;
	int			line = 0;
	int			lines_per_row = maxoff > 0 ? (BLCKSZ / 64 + maxoff - 1) / maxoff : 0;

	for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
	{
		ItemId		lp = PageGetItemId(page, off);
		BtFlatTuple *tup;
		size_t		len;
		int			i;

		if (prefetch != NULL)
			for (i = 0; i < lines_per_row && line < BLCKSZ / 64; i++)
				__builtin_prefetch(prefetch + 64 * line++);

		if (!ItemIdIsNormal(lp))
			continue;
		tup = (BtFlatTuple *) PageGetItem(page, lp);
		len = ItemIdGetLength(lp) - BT_FLAT_TUPLE_HEADER;

		if (len == 0 || so->probe_null)
		{
			flat_keep(so, BT_FLAT_NULL_KEY, &tup->heap_tid);
			continue;
		}
		if (unlikely(!bt_template_in_run(&so->probe->run, tup->record, len)))
		{
			/* finish the previous run before the cache starts a new one */
			if (n > 0)
				flat_keep_run(so, n, recs, tups);
			n = 0;
			bt_template_start_run(so->probe, tup->record, len);
			flat_note_bits(so, so->probe->run.bits);
		}
		recs[n] = tup->record;
		tups[n] = tup;
		if (++n == BT_FLAT_BATCH)
		{
			flat_keep_run(so, n, recs, tups);
			n = 0;
		}
	}
	if (n > 0)
		flat_keep_run(so, n, recs, tups);
}

/*
 * Read the pages [start, end) of the index for the current pass, each page
 * pinned one page ahead so that flat_scan_page can prefetch it, and
 * share-locked only while it is copied: flat_scan_page computes the
 * distances on the copy.
 */
static void
flat_scan_range(IndexScanDesc scan, BlockNumber start, BlockNumber end,
				BufferAccessStrategy bas)
{
	Relation	index = scan->indexRelation;
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;
	BlockNumber blkno;
	Buffer		next;
	PGAlignedBlock copy;

	if (start >= end)
		return;
	next = ReadBufferExtended(index, MAIN_FORKNUM, start, RBM_NORMAL, bas);
	for (blkno = start; blkno < end; blkno++)
	{
		Buffer		buf = next;
		Page		page;
		bool		usable;

		CHECK_FOR_INTERRUPTS();
		next = InvalidBuffer;
		if (blkno + 1 < end)
			next = ReadBufferExtended(index, MAIN_FORKNUM, blkno + 1,
									  RBM_NORMAL, bas);

		/*
		 * Copy the page and let go of it before looking at a row: a row can
		 * start a run, which projects the probe (allocating megabytes,
		 * reading a model profile, checking a key), and keeping a row can
		 * grow the array.  None of that may happen under a buffer lock,
		 * which blocks writers of the page and cannot be interrupted.
		 */
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		BT_TEST_FOR_OLD_SNAPSHOT(scan->xs_snapshot, index, page);
		usable = !PageIsNew(page) && !FlatPageIsDeleted(page);
		if (usable)
			memcpy(copy.data, page, BLCKSZ);
		UnlockReleaseBuffer(buf);
		if (usable)
			flat_scan_page(so, (Page) copy.data,
						   BufferIsValid(next) ? BufferGetPage(next) : NULL);
	}
}

/*
 * Claim the next range of pages [*start, *end) of a parallel scan; false
 * when every page has been claimed.  nblocks is this participant's idea of
 * the index's size, used only by the first participant to claim.
 */
static bool
flat_parallel_claim(IndexScanDesc scan, BlockNumber nblocks,
					BlockNumber *start, BlockNumber *end)
{
	BtFlatParallelScan ps = (BtFlatParallelScan) BT_PARALLEL_SCAN_AM(scan->parallel_scan);
	BlockNumber chunk;

	SpinLockAcquire(&ps->mutex);
	if (ps->nblocks == InvalidBlockNumber)
	{
		ps->nblocks = nblocks;
		ps->next = BT_FLAT_FIRST_BLKNO;
	}
	chunk = Max(Min(BT_FLAT_PARALLEL_CHUNK, ps->nblocks / 64), 1);
	*start = ps->next;
	*end = ps->next;
	if (ps->next < ps->nblocks)
		*end = ps->next + Min(chunk, ps->nblocks - ps->next);
	ps->next = *end;
	SpinLockRelease(&ps->mutex);

	return *start < *end;
}

/* remember a claimed range, for later passes */
static void
flat_note_range(BtFlatScanOpaque so, BlockNumber start, BlockNumber end)
{
	/* a range that continues the previous one extends it */
	if (so->nranges > 0 && so->ranges[2 * so->nranges - 1] == start)
	{
		so->ranges[2 * so->nranges - 1] = end;
		return;
	}
	if (so->nranges == so->rangecap)
	{
		so->rangecap = Max(so->rangecap * 2, 16);
		if (so->ranges == NULL)
			so->ranges = MemoryContextAlloc(so->cxt,
											sizeof(BlockNumber) * 2 * so->rangecap);
		else
			so->ranges = repalloc(so->ranges, sizeof(BlockNumber) * 2 * so->rangecap);
	}
	so->ranges[2 * so->nranges] = start;
	so->ranges[2 * so->nranges + 1] = end;
	so->nranges++;
}

/*
 * One pass over the index, keeping the rows with keys in (lo, cut] (cut
 * lowered as the array fills) and counting those above cut.  A serial scan
 * reads every page.  A participant of a parallel scan claims ranges of
 * pages in its first pass and reads the same ranges in later ones, so that
 * each row belongs to exactly one participant in every pass.
 */
static void
flat_pass(IndexScanDesc scan)
{
	Relation	index = scan->indexRelation;
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;
	BufferAccessStrategy bas = NULL;
	BlockNumber nblocks;

	so->nitems = 0;
	so->nbeyond = 0;
	memset(so->hist, 0, sizeof(int64) * BT_FLAT_NKEYS);

	/* the first template starts a run, so its bit count is noted */
	bt_template_end_run(so->probe);

	nblocks = RelationGetNumberOfBlocks(index);
	if (so->items == NULL)
	{
		/* the array starts at about the index's size, up to work_mem */
		double		est = Max(index->rd_rel->reltuples, 0) * 1.1 + 1024;

		so->limit = Max((int64) work_mem * 1024 / (int64) sizeof(uint64), 1024);
		so->capacity = (int64) Min(est, (double) so->limit);
		so->items = MemoryContextAllocHuge(so->cxt, sizeof(uint64) * so->capacity);
	}

	/* like a sequential scan, do not flood shared buffers with a big index */
	if (nblocks > (BlockNumber) (NBuffers / 4))
		bas = GetAccessStrategy(BAS_BULKREAD);

	if (scan->parallel_scan == NULL)
		flat_scan_range(scan, BT_FLAT_FIRST_BLKNO, nblocks, bas);
	else if (so->lo < 0)
	{
		BlockNumber start;
		BlockNumber end;

		so->nranges = 0;
		while (flat_parallel_claim(scan, nblocks, &start, &end))
		{
			flat_note_range(so, start, end);
			flat_scan_range(scan, start, end, bas);
		}
	}
	else
	{
		int			i;

		for (i = 0; i < so->nranges; i++)
			flat_scan_range(scan, so->ranges[2 * i], so->ranges[2 * i + 1], bas);
	}
	if (bas)
		FreeAccessStrategy(bas);

	elog(DEBUG2, "biotoken_flat: pass over \"%s\" kept " INT64_FORMAT " rows with keys in (%d, %d], " INT64_FORMAT " farther, array of " INT64_FORMAT,
		 RelationGetRelationName(index), so->nitems, so->lo, so->cut,
		 so->nbeyond, so->capacity);

	so->emitted = so->lo;
	so->batch_target = BT_FLAT_FIRST_BATCH;
	so->nbatch = 0;
	so->batchpos = 0;
}

/*
 * The next batch: the kept rows of the keys after emitted, enough keys for
 * batch_target rows (or to the end of the pass), in key order by one
 * counting-sort pass over the array.
 */
static void
flat_next_batch(BtFlatScanOpaque so)
{
	int64		count = 0;
	int			hi = so->emitted;
	int			k;
	int64		pos = 0;
	int64		i;

	while (hi < so->cut && count < so->batch_target)
		count += so->hist[++hi];

	if (count > so->batchcap)
	{
		if (so->batch)
			pfree(so->batch);
		so->batchcap = Max(count, so->batch_target);
		so->batch = MemoryContextAllocHuge(so->cxt, sizeof(uint64) * so->batchcap);
	}
	for (k = so->emitted + 1; k <= hi; k++)
	{
		so->offsets[k] = pos;
		pos += so->hist[k];
	}
	if (count > 0)
	{
		for (i = 0; i < so->nitems; i++)
		{
			uint64		item = so->items[i];
			int			key = FLAT_ITEM_KEY(item);

			if (key > so->emitted && key <= hi)
				so->batch[so->offsets[key]++] = item;
		}
	}
	so->nbatch = count;
	so->batchpos = 0;
	so->emitted = hi;

	/* later batches double, up to a quarter of the array */
	so->batch_target = Min(so->batch_target * 2, Max(so->capacity / 4, BT_FLAT_FIRST_BATCH));
}

/*
 * Set the returned row's ORDER BY values from its key.  For templates of a
 * single bit count the key gives back the exact distance diff/bits; when
 * all bit counts are powers of two, key/32768 is exactly diff/bits.  Else
 * (mixed bit counts, one not a power of two) two distances may share a key:
 * key/32768 is a lower bound, returned for the executor to recheck.  Second
 * and later ORDER BY keys are not computed here: 0, a lower bound of any
 * distance, is returned for the executor to recheck.
 */
static void
set_orderby(IndexScanDesc scan, int key)
{
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;
	int			i;

	scan->xs_recheckorderby = false;
	if (scan->numberOfOrderBys == 0)
		return;

	if (key == BT_FLAT_NULL_KEY)
	{
		scan->xs_orderbyvals[0] = (Datum) 0;
		scan->xs_orderbynulls[0] = true;
	}
	else
	{
		double		distance;

		if (!so->mixed_bits)
		{
			/* the only diff with floor(diff * 32768 / bits) = key */
			int			diff = (int) (((int64) key * so->bits + BT_FLAT_KEY_SCALE - 1) /
									  BT_FLAT_KEY_SCALE);

			distance = (double) diff / so->bits;
		}
		else
		{
			distance = (double) key / BT_FLAT_KEY_SCALE;
			if (!so->all_pow2)
				scan->xs_recheckorderby = true;
		}
		scan->xs_orderbyvals[0] = Float8GetDatum(distance);
		scan->xs_orderbynulls[0] = false;
	}

	for (i = 1; i < scan->numberOfOrderBys; i++)
	{
		scan->xs_orderbyvals[i] = Float8GetDatum(0.0);
		scan->xs_orderbynulls[i] = false;
		scan->xs_recheckorderby = true;
	}
}

/*
 * amgettuple: the next row in distance order.  The first call reads the
 * whole index; later calls hand out the kept rows batch by batch, and read
 * the index again only once every kept row is out and farther rows exist.
 */
static bool
flat_gettuple(IndexScanDesc scan, ScanDirection dir)
{
	BtFlatScanOpaque so = (BtFlatScanOpaque) scan->opaque;
	uint64		item;

	if (dir != ForwardScanDirection)
		elog(ERROR, "biotoken_flat scans only forward");
	if (!IsMVCCSnapshot(scan->xs_snapshot))
		elog(ERROR, "biotoken_flat scans need an MVCC snapshot");

	if (!so->started)
	{
		pgstat_count_index_scan(scan->indexRelation);
		so->lo = -1;
		so->cut = BT_FLAT_NULL_KEY;
		so->bits = 0;
		so->mixed_bits = false;
		so->all_pow2 = true;
		flat_pass(scan);
		so->started = true;
	}

	for (;;)
	{
		if (so->batchpos < so->nbatch)
			break;
		if (so->emitted < so->cut)
		{
			flat_next_batch(so);
			continue;
		}
		if (so->nbeyond == 0)
			return false;
		/* every kept row is out: read the index again for the farther ones */
		so->lo = so->cut;
		so->cut = BT_FLAT_NULL_KEY;
		flat_pass(scan);
	}

	item = so->batch[so->batchpos++];
	ItemPointerSet(&scan->xs_heaptid, (BlockNumber) ((item >> 16) & 0xFFFFFFFF),
				   (OffsetNumber) (item & 0xFFFF));
	scan->xs_recheck = false;
	set_orderby(scan, FLAT_ITEM_KEY(item));
	return true;
}

/* ----------------------------------------------------------------
 * Parallel scans
 * ----------------------------------------------------------------
 */

/* amestimateparallelscan: the size of the shared state */
static Size
flat_estimateparallelscan(BT_ESTIMATE_PARALLEL_SCAN_ARGS)
{
	return sizeof(BtFlatParallelScanData);
}

/* aminitparallelscan: no page claimed yet */
static void
flat_initparallelscan(void *target)
{
	BtFlatParallelScan ps = (BtFlatParallelScan) target;

	SpinLockInit(&ps->mutex);
	ps->nblocks = InvalidBlockNumber;
	ps->next = BT_FLAT_FIRST_BLKNO;
}

/*
 * amparallelrescan: called by the leader before a rescan starts new
 * workers; every page is to be claimed again (each participant's amrescan
 * forgets the ranges it claimed before).
 */
static void
flat_parallelrescan(IndexScanDesc scan)
{
	BtFlatParallelScan ps;

	Assert(scan->parallel_scan != NULL);
	ps = (BtFlatParallelScan) BT_PARALLEL_SCAN_AM(scan->parallel_scan);
	SpinLockAcquire(&ps->mutex);
	ps->nblocks = InvalidBlockNumber;
	ps->next = BT_FLAT_FIRST_BLKNO;
	SpinLockRelease(&ps->mutex);
}

/* ----------------------------------------------------------------
 * Planner and catalog support
 * ----------------------------------------------------------------
 */

/*
 * amcostestimate.  The index is only useful for ORDER BY <~> (it has no
 * search operators), and its whole cost comes before the first row: every
 * page is read in order and every template compared.  Handing rows out
 * afterwards costs almost nothing, so a LIMIT k scan costs about the
 * startup cost plus k heap fetches, well under a sequential scan and a
 * top-k sort of the same rows, while without ORDER BY <~> the path is never
 * worth it.
 */
static void
flat_costestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				  Cost *indexStartupCost, Cost *indexTotalCost,
				  Selectivity *indexSelectivity, double *indexCorrelation,
				  double *indexPages)
{
	IndexOptInfo *index = path->indexinfo;
	double		tuples = Max(index->tuples, 1.0);
	double		pages = Max((double) index->pages, 1.0);
	double		spc_seq_page_cost;
	QualCost	orderby_cost;

	*indexSelectivity = 1.0;
	*indexCorrelation = 0.0;
	*indexPages = pages;

	if (path->indexorderbys == NIL)
	{
		/* e.g. a partial index whose predicate the query implies */
		*indexStartupCost = disable_cost;
		*indexTotalCost = disable_cost;
		return;
	}

	get_tablespace_page_costs(index->reltablespace, NULL, &spc_seq_page_cost);
	cost_qual_eval(&orderby_cost, path->indexorderbys, root);

	*indexStartupCost = orderby_cost.startup + pages * spc_seq_page_cost +
		tuples * (cpu_index_tuple_cost + orderby_cost.per_tuple);
	*indexTotalCost = *indexStartupCost + tuples * cpu_operator_cost;
}

/*
 * The share of a partial path's work each participant does: the number of
 * workers plus what the leader contributes, as the planner estimates it
 * (costsize.c's get_parallel_divisor).
 */
static double
flat_parallel_divisor(Path *path)
{
	double		divisor = path->parallel_workers;

	if (parallel_leader_participation)
	{
		double		leader = 1.0 - (0.3 * path->parallel_workers);

		if (leader > 0)
			divisor += leader;
	}
	return divisor;
}

static int
flat_compare_total_cost(const ListCell *a, const ListCell *b)
{
	Cost		ca = ((Path *) lfirst(a))->total_cost;
	Cost		cb = ((Path *) lfirst(b))->total_cost;

	return (ca > cb) - (ca < cb);
}

/*
 * set_rel_pathlist_hook: drop the parallel scans of a biotoken_flat index
 * whose probe workers cannot have, and make the others cost their share of
 * the work.
 *
 * The planner checks the parallel safety of an index path's quals, but not
 * that of its ORDER BY expressions, which no core access method that can
 * scan in parallel has.  A probe that comes from an outer query level
 * (ORDER BY face <~> q.probe in a LATERAL subquery) is a PARAM_EXEC that a
 * Gather does not pass to its workers: a worker would read it unset.  Such
 * a path goes; the serial scan remains.
 *
 * The index does all its work before the first row (flat_costestimate puts
 * it in the startup cost), and cost_index divides only the per-row CPU cost
 * of a partial path among the participants, never an index's startup cost:
 * left alone, a parallel scan would cost as much as a serial one plus the
 * Gather Merge, and never be chosen.  amcostestimate cannot do it itself,
 * since it is called before cost_index knows the path is partial.  So once
 * the relation's paths are made, this divides the index's startup cost of
 * each partial biotoken_flat path by its parallel divisor, and restores the
 * order by total cost that add_partial_path keeps.
 */
static void
flat_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
					  RangeTblEntry *rte)
{
	bool		changed = false;
	ListCell   *lc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);

	foreach(lc, rel->partial_pathlist)
	{
		Path	   *path = (Path *) lfirst(lc);
		IndexPath  *ipath;
		Cost		startup;
		Cost		total;
		Selectivity selectivity;
		double		correlation;
		double		pages;
		Cost		saved;

		if (!IsA(path, IndexPath) || path->parallel_workers <= 0)
			continue;
		ipath = (IndexPath *) path;
		if ((void *) ipath->indexinfo->amcostestimate != (void *) flat_costestimate)
			continue;

		if (!is_parallel_safe(root, (Node *) ipath->indexorderbys))
		{
			rel->partial_pathlist = foreach_delete_current(rel->partial_pathlist, lc);
			continue;
		}

		flat_costestimate(root, ipath, 1.0, &startup, &total, &selectivity,
						  &correlation, &pages);
		saved = startup - startup / flat_parallel_divisor(path);
		path->startup_cost -= saved;
		path->total_cost -= saved;
		changed = true;
	}
	if (changed)
		list_sort(rel->partial_pathlist, flat_compare_total_cost);
}

/*
 * bt_flat_init
 *		Install the planner hook of parallel scans.  Called from _PG_init.
 */
void
bt_flat_init(void)
{
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = flat_set_rel_pathlist;
}

/*
 * amoptions: biotoken_flat has no storage parameters; any is refused with
 * core's message.
 */
static bytea *
flat_options(Datum reloptions, bool validate)
{
	List	   *options;

	if (!validate || DatumGetPointer(reloptions) == NULL)
		return NULL;
	options = untransformRelOptions(reloptions);
	if (options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unrecognized parameter \"%s\"",
						((DefElem *) linitial(options))->defname),
				 errdetail("Access method biotoken_flat has no storage parameters.")));
	return NULL;
}

/*
 * amvalidate: an operator class of biotoken_flat has one ordering operator,
 * strategy 1, (opcintype, float4[]) -> float8, sorted by a btree family, and
 * no support functions.  Problems are reported as INFO, as core does.
 */
static bool
flat_validate(Oid opclassoid)
{
	bool		result = true;
	HeapTuple	classtup;
	HeapTuple	familytup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	Oid			opcintype;
	char	   *opclassname;
	char	   *opfamilyname;
	CatCList   *oprlist;
	CatCList   *proclist;
	bool		found = false;
	int			i;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opcintype = classform->opcintype;
	opclassname = NameStr(classform->opcname);
	familytup = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamilyoid));
	if (!HeapTupleIsValid(familytup))
		elog(ERROR, "cache lookup failed for operator family %u", opfamilyoid);
	opfamilyname = NameStr(((Form_pg_opfamily) GETSTRUCT(familytup))->opfname);

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));

	for (i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc procform = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator family \"%s\" of access method %s contains function %s with invalid support number %d",
						opfamilyname, "biotoken_flat",
						format_procedure(procform->amproc),
						procform->amprocnum)));
		result = false;
	}

	for (i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop oprform = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (oprform->amoppurpose != AMOP_ORDER ||
			!OidIsValid(oprform->amopsortfamily))
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains invalid ORDER BY specification for operator %s",
							opfamilyname, "biotoken_flat",
							format_operator(oprform->amopopr))));
			result = false;
		}
		if (oprform->amopstrategy != 1)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with invalid strategy number %d",
							opfamilyname, "biotoken_flat",
							format_operator(oprform->amopopr),
							oprform->amopstrategy)));
			result = false;
		}
		if (!check_amop_signature(oprform->amopopr, FLOAT8OID,
								  oprform->amoplefttype, oprform->amoprighttype) ||
			oprform->amoprighttype != FLOAT4ARRAYOID)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator family \"%s\" of access method %s contains operator %s with wrong signature",
							opfamilyname, "biotoken_flat",
							format_operator(oprform->amopopr))));
			result = false;
		}
		if (oprform->amoplefttype == opcintype)
			found = true;
	}

	if (!found)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method %s is missing operator(s)",
						opclassname, "biotoken_flat")));
		result = false;
	}

	ReleaseCatCacheList(proclist);
	ReleaseCatCacheList(oprlist);
	ReleaseSysCache(familytup);
	ReleaseSysCache(classtup);
	return result;
}

/*
 * SQL: biotoken.flat_handler(internal) -> index_am_handler
 *
 * The access method's callbacks.  Deliberately no bt_require_preloaded()
 * here: the handler runs whenever the index is opened, including by DROP
 * INDEX and DROP EXTENSION, which must work in a server that no longer
 * preloads biotoken.  Building and scanning check it instead.
 */
Datum
biotoken_flat_handler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;	/* the ordering operator is strategy 1 */
	amroutine->amsupport = 0;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = true;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions =
		VACUUM_OPTION_PARALLEL_BULKDEL | VACUUM_OPTION_PARALLEL_CLEANUP;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = flat_build;
	amroutine->ambuildempty = flat_buildempty;
	amroutine->aminsert = flat_insert;
	amroutine->ambulkdelete = flat_bulkdelete;
	amroutine->amvacuumcleanup = flat_vacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = flat_costestimate;
	amroutine->amoptions = flat_options;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = NULL;
	amroutine->amvalidate = flat_validate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = flat_beginscan;
	amroutine->amrescan = flat_rescan;
	amroutine->amgettuple = flat_gettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = flat_endscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = flat_estimateparallelscan;
	amroutine->aminitparallelscan = flat_initparallelscan;
	amroutine->amparallelrescan = flat_parallelrescan;

	PG_RETURN_POINTER(amroutine);
}
