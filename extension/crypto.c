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
 * Memory: cipher contexts are OpenSSL allocations, created on first use and
 * kept for the life of the process (freed at exit), so an error cannot leak
 * them.  Projections are cached in the "biotoken projection cache" context
 * under TopMemoryContext and wiped at exit, since their signs are secret.
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
#endif

/* one cached AES-256-CTR context per mask key */
typedef struct BtMaskCipher
{
	int			key_id;
	EVP_CIPHER_CTX *ctx;
	bool		use_aesni;		/* round keys below are valid and verified */
	uint8		round_keys[15 * 16] pg_attribute_aligned(16);
} BtMaskCipher;

static BtMaskCipher mask_ciphers[BT_MAX_KEYS];
static int	n_mask_ciphers = 0;

static MemoryContext projection_cxt = NULL;
static BtProjection *projections = NULL;
static pid_t cleanup_registered_pid = 0;

/* nonce prefix of the projection sign stream */
static const uint8 projection_nonce_tag[4] = {'b', 'p', 'r', 'j'};

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
		explicit_bzero(p->flips,
					   sizeof(uint32) * p->nblocks * BT_PROJECTION_ROUNDS * p->n);
	projections = NULL;
}

static void
ensure_cleanup_registered(void)
{
	if (cleanup_registered_pid != MyProcPid)
	{
		/* state inherited from the postmaster is not ours to free */
		n_mask_ciphers = 0;
		projections = NULL;
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
 * bt_crypto_projection
 *		The projection of (key, dims, bits), built on first use and cached
 *		for the life of the process.  Throws on OpenSSL failure.
 */
const BtProjection *
bt_crypto_projection(const BtKey *key, int dims, int bits)
{
	BtProjection *p;
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
	for (p = projections; p != NULL; p = p->next)
		if (p->key_id == key->key_id && p->dims == dims && p->bits == bits)
			return p;

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
