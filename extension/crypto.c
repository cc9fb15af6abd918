/*-------------------------------------------------------------------------
 *
 * crypto.c
 *	  OpenSSL wrappers: HKDF sub-keys, HMAC, strong random bytes, the
 *	  per-record salt mask and the keyed random projection.
 *
 * The salt mask of a template is the AES-256-CTR key stream of the key's
 * mask sub-key, with the 12-byte record salt as nonce and a 32-bit block
 * counter starting at 0.  Masking and unmasking are the same operation (an
 * XOR with that key stream).  Each process keeps one EVP_CIPHER_CTX per key
 * and only resets its IV per record, which makes an unmask cost tens of
 * nanoseconds instead of the microsecond of a fresh context or an HMAC.
 *
 * The projection is a structured random rotation, y = H D3 H D2 H D1 x, per
 * block of n = 2^k outputs, where H is the Walsh-Hadamard transform and the
 * Di are secret random sign diagonals drawn from the key's projection
 * sub-key.  It costs O(n log n) instead of a dense n x n product; sign bits
 * of such a rotation estimate angles like a Gaussian projection does.
 *
 * Matching does not unmask into a buffer: bt_crypto_mask_diff computes the
 * key stream of several records at once, XORs it with the stored bits and
 * the probe's bits and counts the differing bits, all in registers.  AES
 * rounds have a latency of several cycles but a throughput of one or two a
 * cycle, so eight independent blocks in flight (four 256-bit records, or
 * one 1024-bit record) cost little more than one.
 *
 * Memory: cipher contexts are OpenSSL allocations, created on first use and
 * kept for the life of the process (freed at exit), so an error cannot leak
 * them.  Projections are cached in the "biotoken projection cache" context
 * under TopMemoryContext, at most BT_PROJECTION_CACHE_SIZE of them, most
 * recently used first (as sepgsql's uavc.c bounds its cache): the least
 * recently used one is wiped and freed when a new one is needed, and all
 * are wiped at exit, since their signs are secret.  A projection has at
 * most nblocks * n = 32768 outputs (bits <= 32768, a multiple of every
 * power of two n <= 16384), 3 sign masks of 4 bytes each per output: 384
 * kB.  So the cache holds at most BT_PROJECTION_CACHE_MAX_BYTES (3 MB) per
 * backend, whatever dimensions and bit counts its templates and probes use.
 * Nothing here throws except bt_crypto_throw() and the palloc of a new
 * projection; the other functions return a BtCryptoStatus.
 *
 * IDENTIFICATION
 *	  extension/crypto.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "port/pg_bswap.h"
#include "storage/ipc.h"
#include "utils/memutils.h"

#include "crypto.h"

/*
 * On x86-64 the salt mask is computed with AES-NI instructions directly when
 * the CPU has them: OpenSSL 3's EVP layer spends more time resetting the IV
 * (parameter lookups by name) than encrypting the two blocks a 256-bit
 * template needs.  The result is checked against OpenSSL once per key before
 * it is used, so both paths always produce the same mask.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define BT_AESNI 1
#include <wmmintrin.h>
#include <emmintrin.h>
#define BT_AESNI_TARGET __attribute__((target("aes,sse2")))
#define BT_AESNI_POPCNT_TARGET __attribute__((target("aes,sse2,popcnt")))

/*
 * Where the CPU has VAES and AVX-512 (with VPOPCNTDQ), the matching kernel
 * runs four AES blocks per instruction in 512-bit registers, and counts bits
 * 64 at a time.  Chosen at run time, once per key, after the same self-test
 * as the AES-NI kernel; the AES-NI kernel stays for every other CPU and for
 * record sizes the wide kernel does not handle.
 */
#if defined(__GNUC__) && (__GNUC__ >= 8 || defined(__clang__))
#define BT_VAES 1
#include <cpuid.h>
#include <immintrin.h>
#define BT_VAES_TARGET \
	__attribute__((target("aes,popcnt,avx2,vaes,avx512f,avx512bw,avx512vl,avx512vpopcntdq")))
#endif
#endif

/* one cached AES-256-CTR context per mask key (BtMaskCipher in crypto.h) */
struct BtMaskCipher
{
	int			key_id;
	EVP_CIPHER_CTX *ctx;
	bool		use_aesni;		/* round keys below are valid and verified */
	bool		use_aesni_diff; /* so is aesni_ctr_diff, and POPCNT exists */
	bool		use_vaes_diff;	/* so is vaes_ctr_diff, and the CPU has it */
	uint8		round_keys[15 * 16] pg_attribute_aligned(16);
};

/* the largest chunk the OpenSSL path of bt_crypto_mask_diff unmasks at once */
#define BT_DIFF_CHUNK	512

static BtMaskCipher mask_ciphers[BT_MAX_KEYS];
static int	n_mask_ciphers = 0;

static MemoryContext projection_cxt = NULL;
static BtProjection *projections = NULL;	/* most recently used first */
static int	n_projections = 0;
static pid_t cleanup_registered_pid = 0;

/* nonce prefix of the projection sign stream */
static const uint8 projection_nonce_tag[4] = {'b', 'p', 'r', 'j'};

/* the size of a projection's sign masks */
static inline size_t
projection_bytes(const BtProjection *p)
{
	return sizeof(uint32) * p->nblocks * BT_PROJECTION_ROUNDS * p->n;
}

static void
crypto_cleanup(int code, Datum arg)
{
	int			i;
	BtProjection *p;

	for (i = 0; i < n_mask_ciphers; i++)
	{
		EVP_CIPHER_CTX_free(mask_ciphers[i].ctx);
		explicit_bzero(mask_ciphers[i].round_keys,
					   sizeof(mask_ciphers[i].round_keys));
	}
	n_mask_ciphers = 0;

	for (p = projections; p != NULL; p = p->next)
		explicit_bzero(p->flips, projection_bytes(p));
	projections = NULL;
	n_projections = 0;
}

static void
ensure_cleanup_registered(void)
{
	if (cleanup_registered_pid != MyProcPid)
	{
		/* state inherited from the postmaster is not ours to free */
		n_mask_ciphers = 0;
		projections = NULL;
		n_projections = 0;
		projection_cxt = NULL;
		on_proc_exit(crypto_cleanup, (Datum) 0);
		cleanup_registered_pid = MyProcPid;
	}
}

/*
 * bt_crypto_hkdf
 *		HKDF-SHA256 (RFC 5869) of ikm with the fixed salt "biotoken" and the
 *		given info string, into out[outlen].
 */
BtCryptoStatus
bt_crypto_hkdf(const uint8 *ikm, size_t ikmlen, const char *info,
			   uint8 *out, size_t outlen)
{
	static const uint8 salt[] = {'b', 'i', 'o', 't', 'o', 'k', 'e', 'n'};
	EVP_PKEY_CTX *pctx;
	BtCryptoStatus st = BT_CRYPTO_ERR_OPENSSL;
	size_t		len = outlen;

	pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	if (pctx == NULL)
		return BT_CRYPTO_ERR_NOMEM;
	if (EVP_PKEY_derive_init(pctx) > 0 &&
		EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) > 0 &&
		EVP_PKEY_CTX_set1_hkdf_salt(pctx, salt, sizeof(salt)) > 0 &&
		EVP_PKEY_CTX_set1_hkdf_key(pctx, ikm, ikmlen) > 0 &&
		EVP_PKEY_CTX_add1_hkdf_info(pctx, (const unsigned char *) info,
									strlen(info)) > 0 &&
		EVP_PKEY_derive(pctx, out, &len) > 0 &&
		len == outlen)
		st = BT_CRYPTO_OK;
	EVP_PKEY_CTX_free(pctx);
	return st;
}

/*
 * bt_crypto_hmac
 *		HMAC-SHA256 of data under a BT_KEY_BYTES key, into out[BT_HMAC_BYTES].
 */
BtCryptoStatus
bt_crypto_hmac(const uint8 *key, const uint8 *data, size_t len, uint8 *out)
{
	unsigned int outlen = BT_HMAC_BYTES;

	if (HMAC(EVP_sha256(), key, BT_KEY_BYTES, data, len, out, &outlen) == NULL ||
		outlen != BT_HMAC_BYTES)
		return BT_CRYPTO_ERR_OPENSSL;
	return BT_CRYPTO_OK;
}

/*
 * bt_crypto_random
 *		Fill buf with cryptographically strong random bytes.
 */
BtCryptoStatus
bt_crypto_random(uint8 *buf, size_t len)
{
	if (!pg_strong_random(buf, len))
		return BT_CRYPTO_ERR_RANDOM;
	return BT_CRYPTO_OK;
}

#ifdef BT_AESNI

/*
 * One step of the AES-256 key schedule: prev XOR its three left shifts by a
 * word, XOR the (already broadcast) key-generation assist word.
 */
static inline BT_AESNI_TARGET __m128i
aesni_expand(__m128i prev, __m128i assist)
{
	__m128i		t;

	t = _mm_slli_si128(prev, 4);
	prev = _mm_xor_si128(prev, t);
	t = _mm_slli_si128(t, 4);
	prev = _mm_xor_si128(prev, t);
	t = _mm_slli_si128(t, 4);
	prev = _mm_xor_si128(prev, t);
	return _mm_xor_si128(prev, assist);
}

/* the 15 round keys of AES-256 for key[32] */
static BT_AESNI_TARGET void
aesni_key_schedule(const uint8 *key, uint8 *round_keys)
{
	__m128i		rk[15];
	int			i;

	rk[0] = _mm_loadu_si128((const __m128i *) key);
	rk[1] = _mm_loadu_si128((const __m128i *) (key + 16));
	/*
	 * Even round keys use RotWord(SubWord()) of the previous key's last word
	 * with a round constant, odd ones SubWord() alone; the intrinsics need
	 * the constants at compile time, hence the macro.
	 */
#define BT_EXPAND(n, rcon) \
	rk[n] = aesni_expand(rk[n - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[n - 1], rcon), 0xff)); \
	if ((n) + 1 < 15) \
		rk[(n) + 1] = aesni_expand(rk[n - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[n], 0x00), 0xaa))
	BT_EXPAND(2, 0x01);
	BT_EXPAND(4, 0x02);
	BT_EXPAND(6, 0x04);
	BT_EXPAND(8, 0x08);
	BT_EXPAND(10, 0x10);
	BT_EXPAND(12, 0x20);
	BT_EXPAND(14, 0x40);
#undef BT_EXPAND
	for (i = 0; i < 15; i++)
		_mm_store_si128((__m128i *) (round_keys + 16 * i), rk[i]);
	explicit_bzero(rk, sizeof(rk));
}

static inline BT_AESNI_TARGET __m128i
aesni_encrypt_block(const __m128i *rk, __m128i x)
{
	int			r;

	x = _mm_xor_si128(x, rk[0]);
	for (r = 1; r < 14; r++)
		x = _mm_aesenc_si128(x, rk[r]);
	return _mm_aesenclast_si128(x, rk[14]);
}

/* the counter block of (salt, ctr): salt, then ctr big-endian */
static inline BT_AESNI_TARGET __m128i
aesni_counter_block(const uint8 *salt, uint32 ctr)
{
	uint8		block[16];

	memcpy(block, salt, BT_SALT_BYTES);
	block[12] = (uint8) (ctr >> 24);
	block[13] = (uint8) (ctr >> 16);
	block[14] = (uint8) (ctr >> 8);
	block[15] = (uint8) ctr;
	return _mm_loadu_si128((const __m128i *) block);
}

/*
 * AES-256-CTR over len bytes (a multiple of 8), nonce = salt, 32-bit
 * big-endian block counter from 0: the same stream as OpenSSL's CTR mode
 * for fewer than 2^32 blocks.  Four blocks are kept in flight at a time:
 * AESENC has a latency of several cycles but a throughput of one or two
 * per cycle, so independent blocks interleaved run nearly four times as
 * fast as one after the other (a 1024-bit template is eight blocks).
 */
static BT_AESNI_TARGET void
aesni_ctr_xor(const uint8 *round_keys, const uint8 *salt,
			  const uint8 *in, uint8 *out, size_t len)
{
	const __m128i *rk = (const __m128i *) round_keys;
	size_t		off = 0;
	uint32		ctr = 0;
	int			r;

	while (len - off >= 64)
	{
		__m128i		x0 = _mm_xor_si128(aesni_counter_block(salt, ctr), rk[0]);
		__m128i		x1 = _mm_xor_si128(aesni_counter_block(salt, ctr + 1), rk[0]);
		__m128i		x2 = _mm_xor_si128(aesni_counter_block(salt, ctr + 2), rk[0]);
		__m128i		x3 = _mm_xor_si128(aesni_counter_block(salt, ctr + 3), rk[0]);

		for (r = 1; r < 14; r++)
		{
			x0 = _mm_aesenc_si128(x0, rk[r]);
			x1 = _mm_aesenc_si128(x1, rk[r]);
			x2 = _mm_aesenc_si128(x2, rk[r]);
			x3 = _mm_aesenc_si128(x3, rk[r]);
		}
		x0 = _mm_aesenclast_si128(x0, rk[14]);
		x1 = _mm_aesenclast_si128(x1, rk[14]);
		x2 = _mm_aesenclast_si128(x2, rk[14]);
		x3 = _mm_aesenclast_si128(x3, rk[14]);
		_mm_storeu_si128((__m128i *) (out + off),
						 _mm_xor_si128(x0, _mm_loadu_si128((const __m128i *) (in + off))));
		_mm_storeu_si128((__m128i *) (out + off + 16),
						 _mm_xor_si128(x1, _mm_loadu_si128((const __m128i *) (in + off + 16))));
		_mm_storeu_si128((__m128i *) (out + off + 32),
						 _mm_xor_si128(x2, _mm_loadu_si128((const __m128i *) (in + off + 32))));
		_mm_storeu_si128((__m128i *) (out + off + 48),
						 _mm_xor_si128(x3, _mm_loadu_si128((const __m128i *) (in + off + 48))));
		off += 64;
		ctr += 4;
	}
	while (len - off >= 32)
	{
		__m128i		x0 = _mm_xor_si128(aesni_counter_block(salt, ctr), rk[0]);
		__m128i		x1 = _mm_xor_si128(aesni_counter_block(salt, ctr + 1), rk[0]);

		for (r = 1; r < 14; r++)
		{
			x0 = _mm_aesenc_si128(x0, rk[r]);
			x1 = _mm_aesenc_si128(x1, rk[r]);
		}
		x0 = _mm_aesenclast_si128(x0, rk[14]);
		x1 = _mm_aesenclast_si128(x1, rk[14]);
		_mm_storeu_si128((__m128i *) (out + off),
						 _mm_xor_si128(x0, _mm_loadu_si128((const __m128i *) (in + off))));
		_mm_storeu_si128((__m128i *) (out + off + 16),
						 _mm_xor_si128(x1, _mm_loadu_si128((const __m128i *) (in + off + 16))));
		off += 32;
		ctr += 2;
	}
	while (off < len)
	{
		__m128i		ks = aesni_encrypt_block(rk, aesni_counter_block(salt, ctr++));
		size_t		n = len - off < 16 ? len - off : 16;

		if (n == 16)
			_mm_storeu_si128((__m128i *) (out + off),
							 _mm_xor_si128(ks, _mm_loadu_si128((const __m128i *) (in + off))));
		else
		{
			uint8		tmp[16];
			size_t		k;

			_mm_storeu_si128((__m128i *) tmp, ks);
			for (k = 0; k < n; k++)
				out[off + k] = in[off + k] ^ tmp[k];
			explicit_bzero(tmp, sizeof(tmp));
		}
		off += n;
	}
}

/* number of set bits in a 128-bit value */
static inline BT_AESNI_POPCNT_TARGET int
aesni_popcount128(__m128i x)
{
	return __builtin_popcountll((uint64) _mm_cvtsi128_si64(x)) +
		__builtin_popcountll((uint64) _mm_cvtsi128_si64(_mm_unpackhi_epi64(x, x)));
}

/*
 * The eight lanes of aesni_ctr_diff, written out so that the compiler keeps
 * every block in a register whatever its unrolling heuristics decide.
 */
#define BT_LANES(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7)
#define BT_NLANES 8

/*
 * diffs[i] = number of bits in which (masked bits of record i XOR its salt
 * mask) and probe differ, for n records of len bytes (a multiple of 8).  The
 * salt of record i is at recs[i] + salt_offset, its masked bits right after
 * it.  The (record, block) pairs of the whole batch are walked in order,
 * eight blocks at a time, so short records share a round of AES with their
 * neighbours.  Reads 16 bytes from each salt (12 bytes of salt and 4 of the
 * bits that follow it); writes nothing but diffs.
 */
static BT_AESNI_POPCNT_TARGET void
aesni_ctr_diff(const uint8 *round_keys, int n, const uint8 *const *recs,
			   size_t salt_offset, const uint64 *probe, size_t len, int *diffs)
{
	const __m128i *rk = (const __m128i *) round_keys;
	const __m128i salt_lanes = _mm_set_epi32(0, -1, -1, -1);
	int			per_rec = (int) ((len + 15) / 16);
	int			total = n * per_rec;
	int			r = 0;			/* record of the next block to start */
	int			b = 0;			/* and its block number */
	int			start;
	int			i;

	for (i = 0; i < n; i++)
		diffs[i] = 0;

	for (start = 0; start < total; start += BT_NLANES)
	{
		int			lanes = Min(BT_NLANES, total - start);
		int			fr = r;			/* record and block of the next lane */
		int			fb = b;			/* to finish */
		int			round;
		__m128i		x0,
					x1,
					x2,
					x3,
					x4,
					x5,
					x6,
					x7;

		/* counter block: the salt, then the block number big-endian */
#define BT_LANE_START(j) \
		if ((j) < lanes) \
		{ \
			__m128i		salt = _mm_loadu_si128((const __m128i *) (recs[r] + salt_offset)); \
			\
			x##j = _mm_xor_si128(_mm_or_si128(_mm_and_si128(salt, salt_lanes), \
											  _mm_set_epi32((int) pg_bswap32((uint32) b), 0, 0, 0)), \
								 rk[0]); \
			if (++b == per_rec) \
			{ \
				b = 0; \
				r++; \
			} \
		} \
		else \
			x##j = rk[0];
		BT_LANES(BT_LANE_START)
#undef BT_LANE_START

		for (round = 1; round < 14; round++)
		{
			__m128i		k = rk[round];

#define BT_LANE_ROUND(j) x##j = _mm_aesenc_si128(x##j, k);
			BT_LANES(BT_LANE_ROUND)
#undef BT_LANE_ROUND
		}

		/*
		 * Last round, then (key stream XOR masked bits) XOR probe: a record
		 * of 8 (mod 16) bytes ends in half a block, of which only the low 8
		 * bytes count.
		 */
#define BT_LANE_FINISH(j) \
		if ((j) < lanes) \
		{ \
			const uint8 *in = recs[fr] + salt_offset + BT_SALT_BYTES + 16 * fb; \
			const uint8 *pb = (const uint8 *) probe + 16 * fb; \
			__m128i		ks = _mm_aesenclast_si128(x##j, rk[14]); \
			__m128i		d; \
			\
			if (16 * fb + 16 <= (int) len) \
				d = _mm_xor_si128(_mm_xor_si128(ks, _mm_loadu_si128((const __m128i *) in)), \
								  _mm_loadu_si128((const __m128i *) pb)); \
			else \
				d = _mm_xor_si128(_mm_xor_si128(_mm_move_epi64(ks), \
												_mm_loadl_epi64((const __m128i *) in)), \
								  _mm_loadl_epi64((const __m128i *) pb)); \
			diffs[fr] += aesni_popcount128(d); \
			if (++fb == per_rec) \
			{ \
				fb = 0; \
				fr++; \
			} \
		}
		BT_LANES(BT_LANE_FINISH)
#undef BT_LANE_FINISH
	}
}

#ifdef BT_VAES
/*
 * The counter blocks of four consecutive AES blocks of one record: the salt
 * (from a 16-byte load at the salt) in each 128-bit lane, the block numbers
 * first, first + 1, ... big-endian in the last four bytes, then XORed with
 * the first round key.
 */
static inline BT_VAES_TARGET __m512i
vaes_counters(const uint8 *salt, const __m512i ctr, const __m512i rk0)
{
	const __m512i salt_lanes = _mm512_set_epi32(0, -1, -1, -1, 0, -1, -1, -1,
												0, -1, -1, -1, 0, -1, -1, -1);
	__m512i		x = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *) salt));

	return _mm512_xor_si512(_mm512_or_si512(_mm512_and_si512(x, salt_lanes), ctr), rk0);
}

/* the 14 AES-256 rounds after the first XOR, on four registers at once */
#define BT_VAES_ROUNDS(rkz, x0, x1, x2, x3) \
	do { \
		int			round_; \
		for (round_ = 1; round_ < 14; round_++) \
		{ \
			x0 = _mm512_aesenc_epi128(x0, rkz[round_]); \
			x1 = _mm512_aesenc_epi128(x1, rkz[round_]); \
			x2 = _mm512_aesenc_epi128(x2, rkz[round_]); \
			x3 = _mm512_aesenc_epi128(x3, rkz[round_]); \
		} \
		x0 = _mm512_aesenclast_epi128(x0, rkz[14]); \
		x1 = _mm512_aesenclast_epi128(x1, rkz[14]); \
		x2 = _mm512_aesenclast_epi128(x2, rkz[14]); \
		x3 = _mm512_aesenclast_epi128(x3, rkz[14]); \
	} while (0)

/* sum of the four 64-bit counts of a 256-bit half */
static inline BT_VAES_TARGET int
vaes_sum256(__m256i c)
{
	__m128i		h = _mm_add_epi64(_mm256_castsi256_si128(c),
								  _mm256_extracti128_si256(c, 1));

	return (int) (_mm_cvtsi128_si64(h) + _mm_extract_epi64(h, 1));
}

/*
 * aesni_ctr_diff with VAES and AVX-512, for the record sizes most templates
 * have: 32 bytes (256 bits: two records of two blocks per register, eight
 * records a round) and multiples of 64 bytes (a register of four blocks per
 * 64 bytes, four registers a round).  Returns the number of records done
 * (a multiple of eight for 32 bytes, all of them otherwise); the caller does
 * the rest with aesni_ctr_diff.  Writes nothing but diffs.
 */
static BT_VAES_TARGET int
vaes_ctr_diff(const uint8 *round_keys, int n, const uint8 *const *recs,
			  size_t salt_offset, const uint64 *probe, size_t len, int *diffs)
{
	const __m128i *rk = (const __m128i *) round_keys;
	__m512i		rkz[15];
	int			i;

	for (i = 0; i < 15; i++)
		rkz[i] = _mm512_broadcast_i32x4(_mm_load_si128(rk + i));

	if (len == 32)
	{
		/* lanes: record a block 0, block 1, record b block 0, block 1 */
		const __m512i ctr = _mm512_set_epi32((int) pg_bswap32(1), 0, 0, 0, 0, 0, 0, 0,
											 (int) pg_bswap32(1), 0, 0, 0, 0, 0, 0, 0);
		const __m512i pz = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *) probe));
		const size_t bits_offset = salt_offset + BT_SALT_BYTES;
		int			done = n - n % 8;

		for (i = 0; i < done; i += 8)
		{
			__m512i		x0,
						x1,
						x2,
						x3;

			/* two salts per register: the upper 256 bits take the second */
#define BT_VAES_PAIR(j) \
			x##j = _mm512_mask_blend_epi64(0xF0, \
										   vaes_counters(recs[i + 2 * (j)] + salt_offset, ctr, rkz[0]), \
										   vaes_counters(recs[i + 2 * (j) + 1] + salt_offset, ctr, rkz[0]));
			BT_VAES_PAIR(0) BT_VAES_PAIR(1) BT_VAES_PAIR(2) BT_VAES_PAIR(3)
#undef BT_VAES_PAIR

			BT_VAES_ROUNDS(rkz, x0, x1, x2, x3);

			/* key stream XOR masked bits XOR probe, then count */
#define BT_VAES_PAIR_COUNT(j) \
			{ \
				__m512i		d = _mm512_inserti64x4(_mm512_castsi256_si512( \
							_mm256_loadu_si256((const __m256i *) (recs[i + 2 * (j)] + bits_offset))), \
							_mm256_loadu_si256((const __m256i *) (recs[i + 2 * (j) + 1] + bits_offset)), 1); \
				__m512i		c = _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(x##j, d, pz, 0x96)); \
				\
				diffs[i + 2 * (j)] = vaes_sum256(_mm512_castsi512_si256(c)); \
				diffs[i + 2 * (j) + 1] = vaes_sum256(_mm512_extracti64x4_epi64(c, 1)); \
			}
			BT_VAES_PAIR_COUNT(0) BT_VAES_PAIR_COUNT(1) BT_VAES_PAIR_COUNT(2) BT_VAES_PAIR_COUNT(3)
#undef BT_VAES_PAIR_COUNT
		}
		return done;
	}
	else
	{
		/* units of 64 bytes, (record, unit) pairs walked in order, four a round */
		int			per_rec = (int) (len / 64);
		int			total = n * per_rec;
		int			r = 0;
		int			u = 0;
		int			start;

		Assert(len % 64 == 0 && len > 0);
		for (i = 0; i < n; i++)
			diffs[i] = 0;

		for (start = 0; start < total; start += 4)
		{
			int			lanes = Min(4, total - start);
			int			fr = r;
			int			fu = u;
			__m512i		x0 = rkz[0],
						x1 = rkz[0],
						x2 = rkz[0],
						x3 = rkz[0];

#define BT_VAES_UNIT_START(j) \
			if ((j) < lanes) \
			{ \
				const __m512i ctr = _mm512_set_epi32((int) pg_bswap32((uint32) (4 * u + 3)), 0, 0, 0, \
													 (int) pg_bswap32((uint32) (4 * u + 2)), 0, 0, 0, \
													 (int) pg_bswap32((uint32) (4 * u + 1)), 0, 0, 0, \
													 (int) pg_bswap32((uint32) (4 * u)), 0, 0, 0); \
				\
				x##j = vaes_counters(recs[r] + salt_offset, ctr, rkz[0]); \
				if (++u == per_rec) \
				{ \
					u = 0; \
					r++; \
				} \
			}
			BT_VAES_UNIT_START(0) BT_VAES_UNIT_START(1) BT_VAES_UNIT_START(2) BT_VAES_UNIT_START(3)
#undef BT_VAES_UNIT_START

			BT_VAES_ROUNDS(rkz, x0, x1, x2, x3);

#define BT_VAES_UNIT_COUNT(j) \
			if ((j) < lanes) \
			{ \
				__m512i		d = _mm512_loadu_si512(recs[fr] + salt_offset + BT_SALT_BYTES + 64 * fu); \
				__m512i		p = _mm512_loadu_si512((const uint8 *) probe + 64 * fu); \
				\
				diffs[fr] += (int) _mm512_reduce_add_epi64( \
					_mm512_popcnt_epi64(_mm512_ternarylogic_epi64(x##j, d, p, 0x96))); \
				if (++fu == per_rec) \
				{ \
					fu = 0; \
					fr++; \
				} \
			}
			BT_VAES_UNIT_COUNT(0) BT_VAES_UNIT_COUNT(1) BT_VAES_UNIT_COUNT(2) BT_VAES_UNIT_COUNT(3)
#undef BT_VAES_UNIT_COUNT
		}
		return n;
	}
}
#endif							/* BT_VAES */
#endif							/* BT_AESNI */

/* mask with OpenSSL's EVP interface */
static BtCryptoStatus
evp_mask(EVP_CIPHER_CTX *ctx, const uint8 *salt,
		 const uint8 *in, uint8 *out, size_t len)
{
	uint8		iv[16];
	int			outl;

	memcpy(iv, salt, BT_SALT_BYTES);
	memset(iv + BT_SALT_BYTES, 0, 16 - BT_SALT_BYTES);
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
		EVP_EncryptUpdate(ctx, out, &outl, in, (int) len) != 1 ||
		outl != (int) len)
		return BT_CRYPTO_ERR_OPENSSL;
	return BT_CRYPTO_OK;
}

/*
 * bt_crypto_mask_diff through OpenSSL's EVP interface, for CPUs without
 * AES-NI: unmask a chunk at a time into a stack buffer, wiped afterwards.
 */
static BtCryptoStatus
evp_diff(EVP_CIPHER_CTX *ctx, int n, const uint8 *const *recs,
		 size_t salt_offset, const uint64 *probe, size_t len, int *diffs)
{
	uint64		buf[BT_DIFF_CHUNK / 8];
	BtCryptoStatus st = BT_CRYPTO_OK;
	int			i;

	for (i = 0; i < n && st == BT_CRYPTO_OK; i++)
	{
		const uint8 *salt = recs[i] + salt_offset;
		const uint8 *in = salt + BT_SALT_BYTES;
		uint8		iv[16];
		size_t		off;

		memcpy(iv, salt, BT_SALT_BYTES);
		memset(iv + BT_SALT_BYTES, 0, 16 - BT_SALT_BYTES);
		if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1)
		{
			st = BT_CRYPTO_ERR_OPENSSL;
			break;
		}
		diffs[i] = 0;
		for (off = 0; off < len; off += BT_DIFF_CHUNK)
		{
			size_t		chunk = Min(BT_DIFF_CHUNK, len - off);
			int			outl;
			size_t		w;

			/* successive updates continue the same CTR stream */
			if (EVP_EncryptUpdate(ctx, (uint8 *) buf, &outl, in + off,
								  (int) chunk) != 1 || outl != (int) chunk)
			{
				st = BT_CRYPTO_ERR_OPENSSL;
				break;
			}
			for (w = 0; w < chunk / 8; w++)
				buf[w] ^= probe[off / 8 + w];
			diffs[i] += (int) pg_popcount((const char *) buf, chunk);
		}
	}
	explicit_bzero(buf, sizeof(buf));
	return st;
}

#ifdef BT_VAES
/*
 * Whether the CPU has VAES, AVX512F/BW/VL and AVX512_VPOPCNTDQ (CPUID leaf
 * 7) and the OS saves the AVX-512 registers (XCR0: SSE, AVX, opmask and
 * both halves of the ZMM state), so that vaes_ctr_diff can run.  CPUID
 * directly: not every compiler's __builtin_cpu_supports knows "vaes".
 */
static bool
vaes_supported(void)
{
	unsigned int eax,
				ebx,
				ecx,
				edx;
	uint32		xcr0_lo,
				xcr0_hi;

	if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & (1U << 27)))
		return false;			/* no OSXSAVE: XGETBV is not available */
	if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
		return false;
	if (!(ecx & (1U << 9)) ||	/* VAES */
		!(ecx & (1U << 14)) ||	/* AVX512_VPOPCNTDQ */
		!(ebx & (1U << 16)) ||	/* AVX512F */
		!(ebx & (1U << 30)) ||	/* AVX512BW */
		!(ebx & (1U << 31)))	/* AVX512VL */
		return false;
	__asm__ __volatile__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	return (xcr0_lo & 0xE6) == 0xE6;
}

/*
 * Whether vaes_ctr_diff agrees with aesni_ctr_diff (itself checked against
 * OpenSSL) under round_keys: eleven records of 32 bytes (eight in the wide
 * kernel, three left over) and three each of 64 and 192 bytes, with
 * different salts and contents.
 */
static bool
vaes_self_test(const uint8 *round_keys)
{
	uint8		buf[11][BT_SALT_BYTES + 192];
	const uint8 *recs[11];
	uint64		probe[24];
	static const size_t lens[3] = {32, 64, 192};
	bool		ok = true;
	int			l;
	int			i;
	int			k;

	for (i = 0; i < 11; i++)
	{
		for (k = 0; k < (int) sizeof(buf[i]); k++)
			buf[i][k] = (uint8) (k * 29 + i * 101 + 7);
		recs[i] = buf[i];
	}
	for (k = 0; k < 24; k++)
		probe[k] = UINT64CONST(0x9e3779b97f4a7c15) * (uint64) (k + 3);

	for (l = 0; l < 3 && ok; l++)
	{
		int			n = lens[l] == 32 ? 11 : 3;
		int			want[11];
		int			got[11];
		int			done;

		aesni_ctr_diff(round_keys, n, recs, 0, probe, lens[l], want);
		done = vaes_ctr_diff(round_keys, n, recs, 0, probe, lens[l], got);
		if (done < n)
			aesni_ctr_diff(round_keys, n - done, recs + done, 0, probe, lens[l],
						   got + done);
		ok = memcmp(want, got, sizeof(int) * n) == 0;
	}
	if (!ok)
		ereport(WARNING,
				(errmsg("biotoken VAES matching self-test failed; using AES-NI for matching")));
	return ok;
}
#endif

/* the cached cipher of a mask key, created on first use; NULL on failure */
static BtMaskCipher *
mask_cipher(const BtKey *key)
{
	BtMaskCipher *mc;
	EVP_CIPHER_CTX *ctx;
	int			i;

	ensure_cleanup_registered();
	for (i = 0; i < n_mask_ciphers; i++)
		if (mask_ciphers[i].key_id == key->key_id)
			return &mask_ciphers[i];

	if (n_mask_ciphers >= BT_MAX_KEYS)
		return NULL;
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL)
		return NULL;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key->mask, NULL) != 1)
	{
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	mc = &mask_ciphers[n_mask_ciphers];
	mc->key_id = key->key_id;
	mc->ctx = ctx;
	mc->use_aesni = false;
	mc->use_aesni_diff = false;
	mc->use_vaes_diff = false;

#ifdef BT_AESNI
	if (__builtin_cpu_supports("aes"))
	{
		/* use AES-NI only if it agrees with OpenSSL on a test stream */
		static const uint8 test_salt[BT_SALT_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
		uint8		zeros[120] = {0};	/* 4-block, 2-block and tail paths */
		uint8		a[120];
		uint8		b[120];

		aesni_key_schedule(key->mask, mc->round_keys);
		aesni_ctr_xor(mc->round_keys, test_salt, zeros, a, sizeof(a));
		if (evp_mask(ctx, test_salt, zeros, b, sizeof(b)) == BT_CRYPTO_OK &&
			memcmp(a, b, sizeof(a)) == 0)
			mc->use_aesni = true;
		else
		{
			explicit_bzero(mc->round_keys, sizeof(mc->round_keys));
			/* a bug, not a user error: say so, and stay correct */
			ereport(WARNING,
					(errmsg("biotoken AES-NI self-test failed; using OpenSSL for salt masks")));
		}

		/*
		 * The same for the matching kernel, against the stream b: three
		 * records of 40 bytes (two and a half blocks each, so the eight lanes
		 * wrap into a second round and the half-block path runs) and one of
		 * 64 bytes.
		 */
		if (mc->use_aesni && __builtin_cpu_supports("popcnt"))
		{
			uint8		rec[BT_SALT_BYTES + 64];
			uint64		probe[8];
			const uint8 *recs[3] = {rec, rec, rec};
			int			got[3];
			int			want40 = 0;
			int			want64 = 0;
			int			k;

			memcpy(rec, test_salt, BT_SALT_BYTES);
			for (k = 0; k < 64; k++)
				rec[BT_SALT_BYTES + k] = (uint8) (k * 37 + 11);
			for (k = 0; k < 8; k++)
				probe[k] = UINT64CONST(0x0123456789abcdef) * (uint64) (k + 1);
			for (k = 0; k < 64; k++)
			{
				int			bitsdiff = pg_popcount32((uint32) (rec[BT_SALT_BYTES + k] ^ b[k] ^
															  ((const uint8 *) probe)[k]));

				if (k < 40)
					want40 += bitsdiff;
				want64 += bitsdiff;
			}
			aesni_ctr_diff(mc->round_keys, 3, recs, 0, probe, 40, got);
			if (got[0] == want40 && got[1] == want40 && got[2] == want40)
			{
				aesni_ctr_diff(mc->round_keys, 1, recs, 0, probe, 64, got);
				mc->use_aesni_diff = (got[0] == want64);
			}
			if (!mc->use_aesni_diff)
				ereport(WARNING,
						(errmsg("biotoken AES-NI matching self-test failed; using OpenSSL for matching")));
		}
#ifdef BT_VAES
		if (mc->use_aesni_diff && vaes_supported())
			mc->use_vaes_diff = vaes_self_test(mc->round_keys);
#endif
		explicit_bzero(a, sizeof(a));
		explicit_bzero(b, sizeof(b));
	}
#endif

	n_mask_ciphers++;
	return mc;
}

/*
 * bt_crypto_mask
 *		out = in XOR the salt mask of (key, salt), len bytes (a multiple of
 *		8).  Applying it twice gives back the input.  in and out may be the
 *		same buffer.  Allocates nothing once the key's cipher is cached.
 */
BtCryptoStatus
bt_crypto_mask(const BtKey *key, const uint8 *salt,
			   const uint8 *in, uint8 *out, size_t len)
{
	BtMaskCipher *mc = mask_cipher(key);

	if (mc == NULL)
		return BT_CRYPTO_ERR_OPENSSL;
#ifdef BT_AESNI
	if (mc->use_aesni)
	{
		aesni_ctr_xor(mc->round_keys, salt, in, out, len);
		return BT_CRYPTO_OK;
	}
#endif
	return evp_mask(mc->ctx, salt, in, out, len);
}

/*
 * bt_crypto_mask_cipher
 *		The cipher of a mask key, created on first use and kept for the life
 *		of the process; NULL if OpenSSL fails.
 */
const BtMaskCipher *
bt_crypto_mask_cipher(const BtKey *key)
{
	return mask_cipher(key);
}

/*
 * bt_crypto_mask_diff
 *		For n records masked under mc's key: diffs[i] = the number of bits in
 *		which the unmasked bits of record i differ from probe.  The 12-byte
 *		salt of record i is at recs[i] + salt_offset and its len masked bytes
 *		(len a multiple of 8) follow the salt directly, as in a stored
 *		template.  Nothing unmasked is written to memory on the AES-NI path;
 *		allocates nothing.
 */
BtCryptoStatus
bt_crypto_mask_diff(const BtMaskCipher *mc, int n, const uint8 *const *recs,
					size_t salt_offset, const uint64 *probe, size_t len,
					int *diffs)
{
#ifdef BT_VAES
	if (likely(mc->use_vaes_diff) && (len == 32 || len % 64 == 0))
	{
		int			done = vaes_ctr_diff(mc->round_keys, n, recs, salt_offset,
										 probe, len, diffs);

		if (done < n)
			aesni_ctr_diff(mc->round_keys, n - done, recs + done, salt_offset,
						   probe, len, diffs + done);
		return BT_CRYPTO_OK;
	}
#endif
#ifdef BT_AESNI
	if (likely(mc->use_aesni_diff))
	{
		aesni_ctr_diff(mc->round_keys, n, recs, salt_offset, probe, len, diffs);
		return BT_CRYPTO_OK;
	}
#endif
	return evp_diff(mc->ctx, n, recs, salt_offset, probe, len, diffs);
}

/* in-place unnormalized fast Walsh-Hadamard transform of x[n], n = 2^k */
static inline void
fwht(float *x, int n)
{
	int			h;
	int			i;
	int			j;

	for (h = 1; h < n; h <<= 1)
		for (i = 0; i < n; i += 2 * h)
			for (j = i; j < i + h; j++)
			{
				float		a = x[j];
				float		b = x[j + h];

				x[j] = a + b;
				x[j + h] = a - b;
			}
}

/*
 * Wipe and free the least recently used projection (the last of the list).
 */
static void
evict_projection(void)
{
	BtProjection **link = &projections;
	BtProjection *p;

	if (projections == NULL)
		return;
	while ((*link)->next != NULL)
		link = &(*link)->next;
	p = *link;
	*link = NULL;
	explicit_bzero(p->flips, projection_bytes(p));
	pfree(p->flips);
	pfree(p);
	n_projections--;
}

/*
 * bt_crypto_projection
 *		The projection of (key, dims, bits), built on first use and kept in
 *		the bounded cache (see the file header).  The result is valid until
 *		the next call, which may evict it.  Throws on OpenSSL failure.
 */
const BtProjection *
bt_crypto_projection(const BtKey *key, int dims, int bits)
{
	BtProjection *p;
	BtProjection **link;
	EVP_CIPHER_CTX *ctx;
	uint8		iv[16];
	uint8	   *stream;
	size_t		nflips;
	size_t		nbytes;
	size_t		i;
	int			outl;
	int			n;
	bool		ok;

	ensure_cleanup_registered();
	for (link = &projections; *link != NULL; link = &(*link)->next)
	{
		p = *link;
		if (p->key_id == key->key_id && p->dims == dims && p->bits == bits)
		{
			/* move to the front: most recently used */
			if (p != projections)
			{
				*link = p->next;
				p->next = projections;
				projections = p;
			}
			return p;
		}
	}
	while (n_projections >= BT_PROJECTION_CACHE_SIZE)
		evict_projection();

	if (projection_cxt == NULL)
		projection_cxt = AllocSetContextCreate(TopMemoryContext,
											   "biotoken projection cache",
											   ALLOCSET_SMALL_SIZES);

	n = 16;
	while (n < dims)
		n <<= 1;

	p = MemoryContextAllocZero(projection_cxt, sizeof(BtProjection));
	p->key_id = key->key_id;
	p->dims = dims;
	p->bits = bits;
	p->n = n;
	p->nblocks = (bits + n - 1) / n;
	nflips = (size_t) p->nblocks * BT_PROJECTION_ROUNDS * n;
	p->flips = MemoryContextAlloc(projection_cxt, sizeof(uint32) * nflips);

	/* one sign bit per flip, from the AES-CTR stream of the projection key */
	nbytes = nflips / 8;
	stream = MemoryContextAllocZero(projection_cxt, nbytes);
	memcpy(iv, projection_nonce_tag, 4);
	iv[4] = (uint8) (dims >> 8);
	iv[5] = (uint8) dims;
	iv[6] = (uint8) (bits >> 8);
	iv[7] = (uint8) bits;
	memset(iv + 8, 0, 8);

	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key->proj, iv) == 1 &&
		EVP_EncryptUpdate(ctx, stream, &outl, stream, (int) nbytes) == 1 &&
		outl == (int) nbytes;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
	{
		explicit_bzero(stream, nbytes);
		pfree(stream);
		pfree(p->flips);
		pfree(p);
		bt_crypto_throw(BT_CRYPTO_ERR_OPENSSL);
	}

	for (i = 0; i < nflips; i++)
		p->flips[i] = ((stream[i / 8] >> (i % 8)) & 1) ? 0x80000000U : 0;
	explicit_bzero(stream, nbytes);
	pfree(stream);

	p->next = projections;
	projections = p;
	n_projections++;
	return p;
}

/*
 * bt_crypto_project
 *		Project x[proj->dims] and write proj->bits sign bits to out
 *		(bit k in byte k / 8, least significant bit first).  work must hold
 *		proj->n floats.  Allocates nothing.
 */
void
bt_crypto_project(const BtProjection *proj, const float *x,
				  float *work, uint8 *out)
{
	int			n = proj->n;
	int			b;
	int			r;
	int			i;

	memset(out, 0, proj->bits / 8);
	for (b = 0; b < proj->nblocks; b++)
	{
		union
		{
			float		f;
			uint32		u;
		}			v;
		int			base = b * n;

		memcpy(work, x, sizeof(float) * proj->dims);
		memset(work + proj->dims, 0, sizeof(float) * (n - proj->dims));

		for (r = 0; r < BT_PROJECTION_ROUNDS; r++)
		{
			const uint32 *flips = proj->flips + ((size_t) b * BT_PROJECTION_ROUNDS + r) * n;

			for (i = 0; i < n; i++)
			{
				v.f = work[i];
				v.u ^= flips[i];
				work[i] = v.f;
			}
			fwht(work, n);
		}

		for (i = 0; i < n && base + i < proj->bits; i++)
			if (work[i] > 0)
				out[(base + i) / 8] |= (uint8) (1 << ((base + i) % 8));
	}
}

/*
 * bt_crypto_throw
 *		Report a crypto status as an error.
 */
void
bt_crypto_throw(BtCryptoStatus status)
{
	switch (status)
	{
		case BT_CRYPTO_ERR_RANDOM:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION),
					 errmsg("could not generate random bytes for a biometric template")));
			break;
		case BT_CRYPTO_ERR_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory in OpenSSL")));
			break;
		case BT_CRYPTO_ERR_OPENSSL:
		case BT_CRYPTO_OK:
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_EXTERNAL_ROUTINE_INVOCATION_EXCEPTION),
			 errmsg("an OpenSSL operation of biotoken failed")));
}
