/*-------------------------------------------------------------------------
 *
 * crypto.h
 *	  OpenSSL wrappers: HKDF, HMAC, random bytes, salt masks and the keyed
 *	  random projection.
 *
 * IDENTIFICATION
 *	  extension/crypto.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_CRYPTO_H
#define BIOTOKEN_CRYPTO_H

#include "compat.h"
#include "keys.h"

typedef enum BtCryptoStatus
{
	BT_CRYPTO_OK = 0,
	BT_CRYPTO_ERR_OPENSSL,		/* an OpenSSL call failed */
	BT_CRYPTO_ERR_RANDOM,		/* no strong random bytes */
	BT_CRYPTO_ERR_NOMEM			/* OpenSSL could not allocate */
} BtCryptoStatus;

#define BT_SALT_BYTES		12
#define BT_HMAC_BYTES		32

/*
 * A keyed random projection for one (key, dims, bits): the input is padded
 * to n = 2^k >= dims, and each of nblocks blocks applies three rounds of
 * random sign flips followed by a Walsh-Hadamard transform.  The signs are
 * secret: they are derived from the key's projection sub-key.
 */
typedef struct BtProjection
{
	int			key_id;
	int			dims;
	int			bits;
	int			n;				/* padded length, a power of two */
	int			nblocks;		/* ceil(bits / n) */
	uint32	   *flips;			/* nblocks * 3 * n sign-bit masks */
	struct BtProjection *next;
} BtProjection;

#define BT_PROJECTION_ROUNDS	3

/*
 * The per-backend projection cache keeps at most this many projections
 * (each at most 3 * 32768 sign masks of 4 bytes): its worst case.
 */
#define BT_PROJECTION_CACHE_SIZE	8
#define BT_PROJECTION_CACHE_MAX_BYTES \
	(BT_PROJECTION_CACHE_SIZE * BT_PROJECTION_ROUNDS * 32768 * sizeof(uint32))

/*
 * The salt-mask cipher of one key, for callers that compare many records
 * masked under the same key (bt_crypto_mask_diff): looking it up once per
 * run of records keeps the per-record cost to the AES rounds themselves.
 * Opaque; valid for the life of the process.
 */
typedef struct BtMaskCipher BtMaskCipher;

extern BtCryptoStatus bt_crypto_hkdf(const uint8 *ikm, size_t ikmlen,
									 const char *info,
									 uint8 *out, size_t outlen);
extern BtCryptoStatus bt_crypto_hmac(const uint8 *key,
									 const uint8 *data, size_t len,
									 uint8 *out);
extern BtCryptoStatus bt_crypto_random(uint8 *buf, size_t len);
extern BtCryptoStatus bt_crypto_mask(const BtKey *key, const uint8 *salt,
									 const uint8 *in, uint8 *out, size_t len);
extern const BtMaskCipher *bt_crypto_mask_cipher(const BtKey *key);
extern BtCryptoStatus bt_crypto_mask_diff(const BtMaskCipher *mc, int n,
										  const uint8 *const *recs,
										  size_t salt_offset,
										  const uint64 *probe, size_t len,
										  int *diffs);
/* valid until the next call: a new projection may evict the oldest */
extern const BtProjection *bt_crypto_projection(const BtKey *key,
												int dims, int bits);
extern void bt_crypto_project(const BtProjection *proj, const float *x,
							  float *work, uint8 *out);
BT_NORETURN extern void bt_crypto_throw(BtCryptoStatus status);

#endif							/* BIOTOKEN_CRYPTO_H */
