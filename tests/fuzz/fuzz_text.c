/*-------------------------------------------------------------------------
 *
 * fuzz_text.c
 *	  libFuzzer target: arbitrary bytes as the bt1 text form.
 *
 * Each input is treated as the string biometric_in would receive (its
 * length is the input size, so embedded NULs reach the decoder too).  It
 * is decoded into a heap buffer of exactly BT_MAX_RECORD_BYTES, as
 * biometric_in does, so AddressSanitizer sees any write past it.  Inputs
 * that decode are also decoded into a buffer of exactly the decoded
 * length, which must succeed, and one byte shorter, which must fail
 * without writing past it.  Every decoded input is re-encoded, and the
 * text must equal the input byte for byte: codec.c promises one canonical
 * text form per template, so any other accepted spelling is a bug.  Records
 * that then parse must have every field within codec.h's ranges.
 *
 * Each call allocates and frees its own buffers; no state survives a call.
 *
 * IDENTIFICATION
 *	  tests/fuzz/fuzz_text.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * check_exact_capacity
 *		Decode text again into buffers of exactly reclen and reclen - 1
 *		bytes: the first must give the same record, the second must be
 *		refused.  Both buffers are heap blocks of exactly that size, so an
 *		overrun is an ASan report rather than a silent success.
 */
static void
check_exact_capacity(const char *text, size_t size,
					 const uint8_t *rec, size_t reclen)
{
	uint8_t    *exact;
	size_t		outlen;
	BtCodecStatus st;

	/* malloc(0) may return NULL; use one byte so the test is uniform */
	exact = malloc(reclen > 0 ? reclen : 1);
	FUZZ_CHECK(exact != NULL);
	st = bt_codec_decode_text(text, size, exact, reclen, &outlen);
	FUZZ_CHECK(st == BT_CODEC_OK);
	FUZZ_CHECK(outlen == reclen);
	FUZZ_CHECK(memcmp(exact, rec, reclen) == 0);
	free(exact);

	if (reclen == 0)
		return;
	exact = malloc(reclen > 1 ? reclen - 1 : 1);
	FUZZ_CHECK(exact != NULL);
	st = bt_codec_decode_text(text, size, exact, reclen - 1, &outlen);
	FUZZ_CHECK(st != BT_CODEC_OK);
	free(exact);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	uint8_t    *rec;
	size_t		reclen;
	char	   *out;
	BtTemplateView view;
	BtCodecStatus st;

	rec = malloc(BT_MAX_RECORD_BYTES);
	FUZZ_CHECK(rec != NULL);

	st = bt_codec_decode_text(text, size, rec, BT_MAX_RECORD_BYTES, &reclen);
	if (st != BT_CODEC_OK)
	{
		free(rec);
		return 0;
	}
	FUZZ_CHECK(reclen <= BT_MAX_RECORD_BYTES);
	check_exact_capacity(text, size, rec, reclen);

	/*
	 * The canonical form: re-encoding must reproduce the input exactly.  The
	 * decoder alone promises this (no padding, unused bits zero), so it is
	 * checked for every decoded input, not only for records that parse.
	 */
	FUZZ_CHECK(bt_codec_text_size(reclen) == size);
	out = malloc(bt_codec_text_size(reclen) + 1);
	FUZZ_CHECK(out != NULL);
	bt_codec_encode_text(rec, reclen, out);
	FUZZ_CHECK(strlen(out) == size);
	FUZZ_CHECK(memcmp(out, text, size) == 0);
	free(out);

	st = bt_codec_parse(rec, reclen, &view);
	if (st == BT_CODEC_OK)
		fuzz_check_view(&view, rec, reclen);

	free(rec);
	return 0;
}
