/*-------------------------------------------------------------------------
 *
 * gen_seeds.c
 *	  Write the committed seed corpora of the bt1 codec fuzz targets.
 *
 * Builds a few valid records with the codec itself (bt_codec_write_header,
 * bt_codec_encode_text), covering the smallest and largest bit counts and
 * all three base64 tail lengths, plus edge cases each one step from valid
 * (bad prefix, padding, non-canonical tail, out-of-range fields, one byte
 * too many or too few).  Salt and bits come from a fixed LCG so the output
 * is the same on every run; the files in seeds/ are its output.  Usage,
 * from the repository root:
 *
 *	  clang -I extension -o /tmp/gen_seeds tests/fuzz/gen_seeds.c \
 *		  extension/codec.c && /tmp/gen_seeds tests/fuzz/seeds
 *
 * which writes seeds/text/ and seeds/recv/ (the directories must exist).
 * Not part of the fuzz build; run.sh only copies the committed files.
 *
 * IDENTIFICATION
 *	  tests/fuzz/gen_seeds.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static const char *outdir;
static uint32_t lcg_state = 12345;

static uint8_t
lcg_byte(void)
{
	lcg_state = lcg_state * 1103515245u + 12345u;
	return (uint8_t) (lcg_state >> 16);
}

/* write len bytes to outdir/sub/name, or exit */
static void
write_seed(const char *sub, const char *name, const void *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

/*
 * make_record
 *		Build a record with the given header fields and pseudo-random salt
 *		and bits into buf (BT_MAX_RECORD_BYTES + 1 bytes); return its length.
 *		bits need not be valid: the length follows bt_codec_record_size()
 *		but is capped to the buffer.
 */
static size_t
make_record(uint8_t *buf, uint16_t key_id, uint16_t dims, uint16_t bits,
			uint32_t model_id)
{
	BtTemplateView v;
	uint8_t		salt[BT_RECORD_SALT_BYTES];
	size_t		len;
	size_t		i;

	for (i = 0; i < sizeof(salt); i++)
		salt[i] = lcg_byte();
	v.format = BT_FORMAT_V1;
	v.flags = 0;
	v.key_id = key_id;
	v.proj_key_id = key_id;
	v.dims = dims;
	v.bits = bits;
	v.model_id = model_id;
	v.salt = salt;
	v.data = NULL;
	bt_codec_write_header(buf, &v);

	len = bt_codec_record_size(bits);
	if (len > BT_MAX_RECORD_BYTES)
		len = BT_MAX_RECORD_BYTES;
	for (i = BT_BITS_OFFSET; i < len; i++)
		buf[i] = lcg_byte();
	return len;
}

/* write a record under recv/ and its text form under text/ */
static void
write_both(const char *name, const uint8_t *rec, size_t len)
{
	char	   *text = malloc(bt_codec_text_size(len) + 1);

	if (text == NULL)
		exit(1);
	bt_codec_encode_text(rec, len, text);
	write_seed("recv", name, rec, len);
	write_seed("text", name, text, strlen(text));
	free(text);
}

int
main(int argc, char **argv)
{
	static uint8_t rec[BT_MAX_RECORD_BYTES + 1];
	static char text[BT_MAX_RECORD_BYTES * 2];
	size_t		len;
	size_t		tlen;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s SEEDDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* valid records; lengths 34, 42 and 50 give all three base64 tails */
	len = make_record(rec, 1, 1, 64, 0);
	write_both("valid-bits64-dims1", rec, len);
	len = make_record(rec, 2, 64, 128, 7);
	write_both("valid-bits128-dims64", rec, len);
	len = make_record(rec, 65535, 96, 192, 0xFFFFFFFFu);
	write_both("valid-bits192-maxkey", rec, len);
	len = make_record(rec, 3, 512, 1024, 1);
	write_both("valid-bits1024-dims512", rec, len);
	len = make_record(rec, 4, BT_MAX_DIMS, BT_CODEC_MAX_BITS, 2);
	write_both("valid-bits32768-maxdims", rec, len);

	/* invalid records, each one step from valid-bits128 */
	len = make_record(rec, 2, 64, 128, 7);
	write_both("bad-short-header", rec, BT_BITS_OFFSET - 1);
	write_both("bad-length-minus1", rec, len - 1);
	rec[len] = 0;
	write_both("bad-length-plus1", rec, len + 1);
	rec[0] = 2;
	write_both("bad-version", rec, len);
	rec[0] = BT_FORMAT_V1;
	rec[1] = 1;
	write_both("bad-flags", rec, len);
	rec[1] = 0;
	len = make_record(rec, 0, 64, 128, 7);
	write_both("bad-key-id-zero", rec, len);
	len = make_record(rec, 2, 0, 128, 7);
	write_both("bad-dims-zero", rec, len);
	len = make_record(rec, 2, BT_MAX_DIMS + 1, 128, 7);
	write_both("bad-dims-over", rec, len);
	len = make_record(rec, 2, 64, 72, 7);
	write_both("bad-bits-not-64", rec, len);
	/* bits over the maximum: keep the seed small, the length is moot */
	make_record(rec, 2, 64, BT_CODEC_MAX_BITS + 64, 7);
	write_both("bad-bits-over", rec, bt_codec_record_size(128));

	/* text-only edge cases around the valid bits64 text ("xx" tail) */
	len = make_record(rec, 1, 1, 64, 0);
	bt_codec_encode_text(rec, len, text);
	tlen = strlen(text);
	write_seed("text", "bad-empty-body", BT_TEXT_PREFIX, BT_TEXT_PREFIX_LEN);
	write_seed("text", "bad-prefix-only-bt1", "bt1", 3);
	text[2] = '2';
	write_seed("text", "bad-prefix-bt2", text, tlen);
	text[2] = '1';
	text[0] = 'B';
	write_seed("text", "bad-prefix-upper", text, tlen);
	text[0] = 'b';
	memcpy(text + tlen, "==", 3);
	write_seed("text", "bad-padding", text, tlen + 2);
	memcpy(text + tlen, "\n", 2);
	write_seed("text", "bad-trailing-newline", text, tlen + 1);
	text[tlen] = '\0';
	write_seed("text", "bad-length-mod4-1", text, tlen - 1);
	text[tlen - 1] ^= 1;		/* sets or clears an unused low bit */
	write_seed("text", "bad-noncanonical-tail", text, tlen);
	text[tlen - 1] ^= 1;
	text[BT_TEXT_PREFIX_LEN] = '+';
	write_seed("text", "bad-standard-alphabet", text, tlen);

	return 0;
}
