/*-------------------------------------------------------------------------
 *
 * keys.h
 *	  Key material: loading, key ids and HKDF sub-keys.
 *
 * IDENTIFICATION
 *	  extension/keys.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_KEYS_H
#define BIOTOKEN_KEYS_H

#define BT_KEY_BYTES		32	/* master keys and every sub-key */
#define BT_MAX_KEYS			64	/* keys in one key file */
#define BT_MAX_KEY_ID		65535
#define BT_GENERATED_KEY_FILE	"biotoken.keys"

/*
 * The sub-keys of one master key.  The master key itself is wiped as soon
 * as these are derived; only sub-keys stay in memory.
 */
typedef struct BtKey
{
	int			key_id;
	uint8		proj[BT_KEY_BYTES];		/* projection signs */
	uint8		mask[BT_KEY_BYTES];		/* per-record salt masks (AES-256) */
	uint8		logmac[BT_KEY_BYTES];	/* access-log hash chain (HMAC) */
	uint8		check[BT_KEY_BYTES];	/* key check value: HKDF output under
										 * its own label, not secret; a
										 * database records it per key id */
} BtKey;

extern void bt_keys_load(void);
extern const BtKey *bt_keys_get(int key_id);
extern const BtKey *bt_keys_newest(void);
extern int	bt_keys_count(void);

#endif							/* BIOTOKEN_KEYS_H */
