/*-------------------------------------------------------------------------
 *
 * fuzz_recv.c
 *	  libFuzzer target: arbitrary bytes as the bt1 binary record.
 *
 * Each input is treated as the message body biometric_recv would receive.
 * A record that bt_codec_parse() accepts must have every field within the
 * ranges codec.h documents, and must survive every conversion the type
 * performs: rebuilding it from its view with bt_codec_write_header() gives
 * the same bytes (as biometric_rekey and enrollment build records), and
 * encoding it to text (biometric_out) then decoding that text into a
 * buffer of BT_MAX_RECORD_BYTES (biometric_in) gives the same bytes and a
 * parse with the same view.  Any difference means a template would change
 * across pg_dump or COPY, which the design forbids.
 *
 * Each call allocates and frees its own buffers; no state survives a call.
 *
 * IDENTIFICATION
 *	  tests/fuzz/fuzz_recv.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	BtTemplateView view;
	BtTemplateView view2;
	BtCodecStatus st;
	uint8_t    *rebuilt;
	uint8_t    *rec;
	size_t		reclen;
	size_t		textlen;
	char	   *text;

	if (bt_codec_parse(data, size, &view) != BT_CODEC_OK)
		return 0;
	fuzz_check_view(&view, data, size);

	/* rebuild the record from its view, as enrollment and rekey do */
	rebuilt = malloc(size);
	FUZZ_CHECK(rebuilt != NULL);
	bt_codec_write_header(rebuilt, &view);
	memcpy(rebuilt + BT_BITS_OFFSET, view.data, view.bits / 8);
	FUZZ_CHECK(memcmp(rebuilt, data, size) == 0);
	free(rebuilt);

	/* binary -> text, as biometric_out does */
	textlen = bt_codec_text_size(size);
	text = malloc(textlen + 1);
	FUZZ_CHECK(text != NULL);
	bt_codec_encode_text(data, size, text);
	FUZZ_CHECK(strlen(text) == textlen);
	FUZZ_CHECK(memcmp(text, BT_TEXT_PREFIX, BT_TEXT_PREFIX_LEN) == 0);
	FUZZ_CHECK(textlen <= bt_codec_text_size(BT_MAX_RECORD_BYTES));

	/* text -> binary, as biometric_in does */
	rec = malloc(BT_MAX_RECORD_BYTES);
	FUZZ_CHECK(rec != NULL);
	st = bt_codec_decode_text(text, textlen, rec, BT_MAX_RECORD_BYTES,
							  &reclen);
	FUZZ_CHECK(st == BT_CODEC_OK);
	FUZZ_CHECK(reclen == size);
	FUZZ_CHECK(memcmp(rec, data, size) == 0);

	st = bt_codec_parse(rec, reclen, &view2);
	FUZZ_CHECK(st == BT_CODEC_OK);
	fuzz_check_view(&view2, rec, reclen);
	fuzz_check_same_view(&view, data, &view2, rec);

	free(rec);
	free(text);
	return 0;
}
