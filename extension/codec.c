/*-------------------------------------------------------------------------
 *
 * codec.c
 *	  Parsing and writing the bt1 record and its text form.
 *
 * Every function is pure: no allocation, no globals, no PostgreSQL calls,
 * so that the libFuzzer targets in tests/fuzz/ link this file alone.  The
 * parsers are strict: a record must have exactly the length its bit count
 * implies, reserved fields must be zero and the text form must be
 * canonical base64url (no padding, no whitespace, unused bits zero), so
 * every template has exactly one text form and one binary form.
 *
 * IDENTIFICATION
 *	  extension/codec.c
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "codec.h"

static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static inline uint16_t
get16(const uint8_t *p)
{
	return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
get32(const uint8_t *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
		((uint32_t) p[2] << 8) | (uint32_t) p[3];
}

static inline void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t) (v >> 8);
	p[1] = (uint8_t) v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t) (v >> 24);
	p[1] = (uint8_t) (v >> 16);
	p[2] = (uint8_t) (v >> 8);
	p[3] = (uint8_t) v;
}

/*
 * bt_codec_parse
 *		Check a record of len bytes and fill *view with pointers into buf.
 */
BtCodecStatus
bt_codec_parse(const uint8_t *buf, size_t len, BtTemplateView *view)
{
	if (len < BT_BITS_OFFSET)
		return BT_CODEC_TOO_SHORT;

	view->format = buf[0];
	view->flags = buf[1];
	view->key_id = get16(buf + 2);
	view->proj_key_id = get16(buf + 4);
	view->dims = get16(buf + 6);
	view->bits = get16(buf + 8);
	view->model_id = get32(buf + 10);
	view->salt = buf + BT_HEADER_BYTES;
	view->data = buf + BT_BITS_OFFSET;

	if (view->format != BT_FORMAT_V1)
		return BT_CODEC_BAD_VERSION;
	if (view->flags != 0)
		return BT_CODEC_BAD_FLAGS;
	if (view->key_id == 0 || view->proj_key_id == 0)
		return BT_CODEC_BAD_KEY_ID;
	if (view->dims == 0 || view->dims > BT_MAX_DIMS)
		return BT_CODEC_BAD_DIMS;
	if (view->bits < BT_CODEC_MIN_BITS || view->bits > BT_CODEC_MAX_BITS ||
		view->bits % 64 != 0)
		return BT_CODEC_BAD_BITS;
	if (len != bt_codec_record_size(view->bits))
		return BT_CODEC_BAD_LENGTH;
	return BT_CODEC_OK;
}

/*
 * bt_codec_write_header
 *		Write the header and salt of *view to buf; the caller writes the bits.
 */
void
bt_codec_write_header(uint8_t *buf, const BtTemplateView *view)
{
	buf[0] = view->format;
	buf[1] = view->flags;
	put16(buf + 2, view->key_id);
	put16(buf + 4, view->proj_key_id);
	put16(buf + 6, view->dims);
	put16(buf + 8, view->bits);
	put32(buf + 10, view->model_id);
	memcpy(buf + BT_HEADER_BYTES, view->salt, BT_RECORD_SALT_BYTES);
}

size_t
bt_codec_record_size(int bits)
{
	return BT_BITS_OFFSET + (size_t) bits / 8;
}

/* length of the text form of a record of record_len bytes, without NUL */
size_t
bt_codec_text_size(size_t record_len)
{
	return BT_TEXT_PREFIX_LEN + (record_len / 3) * 4 +
		(record_len % 3 == 0 ? 0 : record_len % 3 + 1);
}

/*
 * bt_codec_encode_text
 *		Write the NUL-terminated text form of a record to out, which must
 *		hold bt_codec_text_size(len) + 1 bytes.
 */
void
bt_codec_encode_text(const uint8_t *record, size_t len, char *out)
{
	size_t		i;
	char	   *p = out;

	memcpy(p, BT_TEXT_PREFIX, BT_TEXT_PREFIX_LEN);
	p += BT_TEXT_PREFIX_LEN;
	for (i = 0; i + 2 < len; i += 3)
	{
		uint32_t	v = ((uint32_t) record[i] << 16) |
			((uint32_t) record[i + 1] << 8) | record[i + 2];

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
		*p++ = b64url[(v >> 6) & 63];
		*p++ = b64url[v & 63];
	}
	if (len - i == 1)
	{
		uint32_t	v = (uint32_t) record[i] << 16;

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
	}
	else if (len - i == 2)
	{
		uint32_t	v = ((uint32_t) record[i] << 16) |
			((uint32_t) record[i + 1] << 8);

		*p++ = b64url[(v >> 18) & 63];
		*p++ = b64url[(v >> 12) & 63];
		*p++ = b64url[(v >> 6) & 63];
	}
	*p = '\0';
}

static inline int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/*
 * bt_codec_decode_text
 *		Decode the text form text[textlen] into out[outcap]; *outlen gets the
 *		record length.  The record itself is not checked: call
 *		bt_codec_parse() on the result.
 */
BtCodecStatus
bt_codec_decode_text(const char *text, size_t textlen,
					 uint8_t *out, size_t outcap, size_t *outlen)
{
	size_t		nchars;
	size_t		i;
	size_t		o = 0;
	uint32_t	acc = 0;
	int			nacc = 0;

	*outlen = 0;
	if (textlen < BT_TEXT_PREFIX_LEN ||
		memcmp(text, BT_TEXT_PREFIX, BT_TEXT_PREFIX_LEN) != 0)
		return BT_CODEC_BAD_PREFIX;

	text += BT_TEXT_PREFIX_LEN;
	nchars = textlen - BT_TEXT_PREFIX_LEN;
	if (nchars % 4 == 1)
		return BT_CODEC_BAD_ENCODING;
	if ((nchars / 4) * 3 + (nchars % 4 == 0 ? 0 : nchars % 4 - 1) > outcap)
		return BT_CODEC_BAD_LENGTH;

	for (i = 0; i < nchars; i++)
	{
		int			v = b64url_value((unsigned char) text[i]);

		if (v < 0)
			return BT_CODEC_BAD_ENCODING;
		acc = (acc << 6) | (uint32_t) v;
		if (++nacc == 4)
		{
			out[o++] = (uint8_t) (acc >> 16);
			out[o++] = (uint8_t) (acc >> 8);
			out[o++] = (uint8_t) acc;
			acc = 0;
			nacc = 0;
		}
	}
	if (nacc == 2)
	{
		if (acc & 0xF)
			return BT_CODEC_BAD_ENCODING;	/* non-canonical */
		out[o++] = (uint8_t) (acc >> 4);
	}
	else if (nacc == 3)
	{
		if (acc & 0x3)
			return BT_CODEC_BAD_ENCODING;	/* non-canonical */
		out[o++] = (uint8_t) (acc >> 10);
		out[o++] = (uint8_t) (acc >> 2);
	}
	*outlen = o;
	return BT_CODEC_OK;
}
