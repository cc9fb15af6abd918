/*-------------------------------------------------------------------------
 *
 * codec.h
 *	  The bt1 layout of a biometric template: binary record and text form.
 *
 * Pure C with no PostgreSQL dependency, so that the fuzz targets link it
 * alone.  Functions return a BtCodecStatus; template.c maps statuses to
 * errors.
 *
 * IDENTIFICATION
 *	  extension/codec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_CODEC_H
#define BIOTOKEN_CODEC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Record layout, format 1 (all integers big-endian):
 *
 *	offset	size	field
 *	0		1		format (1)
 *	1		1		flags (0; reserved)
 *	2		2		key_id: key of the salt mask
 *	4		2		proj_key_id: key of the projection
 *	6		2		dims: dimensions of the enrolled embedding
 *	8		2		bits: template bits, a multiple of 64
 *	10		4		model_id: model profile (0 = none)
 *	14		12		salt
 *	26		bits/8	masked sign bits
 *
 * The binary send/recv form is the record; the text form is "bt1:"
 * followed by the record in unpadded base64url.
 */
#define BT_FORMAT_V1			1
#define BT_HEADER_BYTES			14
#define BT_RECORD_SALT_BYTES	12
#define BT_BITS_OFFSET			(BT_HEADER_BYTES + BT_RECORD_SALT_BYTES)
#define BT_MAX_DIMS				16000
#define BT_CODEC_MIN_BITS		64
#define BT_CODEC_MAX_BITS		32768
#define BT_MAX_RECORD_BYTES		(BT_BITS_OFFSET + BT_CODEC_MAX_BITS / 8)
#define BT_TEXT_PREFIX			"bt1:"
#define BT_TEXT_PREFIX_LEN		4

typedef enum BtCodecStatus
{
	BT_CODEC_OK = 0,
	BT_CODEC_BAD_PREFIX,		/* text does not start with "bt1:" */
	BT_CODEC_BAD_ENCODING,		/* not canonical unpadded base64url */
	BT_CODEC_TOO_SHORT,			/* shorter than a header */
	BT_CODEC_BAD_VERSION,		/* format byte is not 1 */
	BT_CODEC_BAD_FLAGS,			/* reserved flags set */
	BT_CODEC_BAD_KEY_ID,		/* key id 0 */
	BT_CODEC_BAD_DIMS,			/* dims out of range */
	BT_CODEC_BAD_BITS,			/* bits out of range or not a multiple of 64 */
	BT_CODEC_BAD_LENGTH			/* length does not match bits */
} BtCodecStatus;

typedef struct BtTemplateView
{
	uint8_t		format;
	uint8_t		flags;
	uint16_t	key_id;
	uint16_t	proj_key_id;
	uint16_t	dims;
	uint16_t	bits;
	uint32_t	model_id;
	const uint8_t *salt;		/* BT_RECORD_SALT_BYTES bytes */
	const uint8_t *data;		/* bits / 8 bytes */
} BtTemplateView;

extern BtCodecStatus bt_codec_parse(const uint8_t *buf, size_t len,
									BtTemplateView *view);
extern void bt_codec_write_header(uint8_t *buf, const BtTemplateView *view);
extern size_t bt_codec_record_size(int bits);
extern size_t bt_codec_text_size(size_t record_len);
extern void bt_codec_encode_text(const uint8_t *record, size_t len, char *out);
extern BtCodecStatus bt_codec_decode_text(const char *text, size_t textlen,
										  uint8_t *out, size_t outcap,
										  size_t *outlen);

#endif							/* BIOTOKEN_CODEC_H */
