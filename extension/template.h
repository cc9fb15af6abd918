/*-------------------------------------------------------------------------
 *
 * template.h
 *	  Comparing stored biometric templates with a probe, shared by the SQL
 *	  functions of template.c and the identification index of flat.c.
 *
 * A probe (a raw float4[] embedding) is projected once per (projection key,
 * dimensions, bits, model profile) of the templates it meets, and the
 * projected bits are kept in a BtProbeCache.  Templates come in runs that
 * share one 14-byte header (same keys, shape and model): the BtTemplateRun
 * of the cache holds what the current run needs (the probe's bits and the
 * mask key's cipher), so comparing one more record of the run costs a
 * header comparison and the AES rounds of its salt mask, nothing else.
 *
 * Memory: a BtProbeCache and everything it points to live in the context
 * given to bt_template_probe_cache (fn_mcxt for the SQL functions, the scan
 * context for the index).  Projected probe bits are as sensitive as a
 * template without its salt: they are wiped before they are freed.
 *
 * IDENTIFICATION
 *	  extension/template.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_TEMPLATE_H
#define BIOTOKEN_TEMPLATE_H

#include "codec.h"
#include "crypto.h"

/* the largest template, in bytes of bits */
#define BT_MAX_TEMPLATE_BYTES	(BT_CODEC_MAX_BITS / 8)

/* probes with different (key, dims, bits, model) cached per cache */
#define BT_PROBE_SLOTS	4

/*
 * What comparing the probe with records that share one header needs.  Valid
 * until the next call of bt_template_start_run or bt_template_set_probe on
 * the same cache.
 */
typedef struct BtTemplateRun
{
	uint8		header[BT_HEADER_BYTES];	/* the header of the run's records */
	size_t		reclen;			/* their record length */
	int			bits;			/* their bit count */
	const uint64 *probe;		/* the probe's bits for them; NULL: no run */
	const BtMaskCipher *cipher; /* their mask key's cipher */
} BtTemplateRun;

/* one projection of the probe; private to template.c */
typedef struct BtProbeSlot
{
	int			proj_key_id;
	int			dims;
	int			bits;
	int32		model_id;
	uint64	   *bits_data;		/* bits / 64 words */
} BtProbeSlot;

/*
 * A probe and its projections.  The fields are template.c's, here so that
 * bt_template_run() can be inlined into scan loops; callers only read run
 * (the current run, which bt_template_run and bt_template_start_run
 * return).
 */
typedef struct BtProbeCache
{
	MemoryContext mcxt;			/* owns the cache and everything below */
	Size		probe_len;		/* bytes of the probe array (header incl.) */
	char	   *probe;			/* copy of the probe array, for comparison */
	int			nslots;
	BtProbeSlot slots[BT_PROBE_SLOTS];
	BtTemplateRun run;			/* the current run */
} BtProbeCache;

extern BtProbeCache *bt_template_probe_cache(MemoryContext mcxt);
extern void bt_template_set_probe(BtProbeCache *cache, Datum probe);
extern void bt_template_forget_probe(BtProbeCache *cache);
extern const BtTemplateRun *bt_template_start_run(BtProbeCache *cache,
												  const uint8 *rec,
												  size_t len);
extern void bt_template_check_record(const uint8 *rec, size_t len);

/*
 * bt_template_in_run
 *		Whether the stored record rec[len] (the bt1 record, without a varlena
 *		header) belongs to run: it has the run's header, so the run's probe
 *		bits and cipher apply, and the run's length, so it is as well formed
 *		as the record that started the run.
 */
static inline bool
bt_template_in_run(const BtTemplateRun *run, const uint8 *rec, size_t len)
{
	return run->probe != NULL && len == run->reclen &&
		memcmp(rec, run->header, BT_HEADER_BYTES) == 0;
}

/*
 * bt_template_end_run
 *		Forget the current run, so that the next record starts one; the
 *		probe's projections are kept.
 */
static inline void
bt_template_end_run(BtProbeCache *cache)
{
	cache->run.probe = NULL;
}

/*
 * bt_template_run
 *		The run of the stored record rec[len]: the cache's current run if
 *		rec belongs to it, else a new one (which may project the probe again
 *		and throws what bt_template_start_run throws).
 */
static inline const BtTemplateRun *
bt_template_run(BtProbeCache *cache, const uint8 *rec, size_t len)
{
	if (likely(bt_template_in_run(&cache->run, rec, len)))
		return &cache->run;
	return bt_template_start_run(cache, rec, len);
}

/*
 * bt_template_diffs
 *		diffs[i] = the number of bits in which record recs[i] of run differs
 *		from the probe, for n records of that run.  Allocates nothing.
 */
static inline void
bt_template_diffs(const BtTemplateRun *run, int n, const uint8 *const *recs,
				  int *diffs)
{
	BtCryptoStatus st;

	st = bt_crypto_mask_diff(run->cipher, n, recs, BT_HEADER_BYTES,
							 run->probe, run->bits / 8, diffs);
	if (unlikely(st != BT_CRYPTO_OK))
		bt_crypto_throw(st);
}

#endif							/* BIOTOKEN_TEMPLATE_H */
