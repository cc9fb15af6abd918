/*-------------------------------------------------------------------------
 *
 * fuzz_common.h
 *	  Checks shared by the libFuzzer targets for the bt1 codec.
 *
 * The targets link extension/codec.c alone, with no PostgreSQL, so a
 * failed check cannot ereport: it prints the file, line and condition to
 * stderr and calls abort(), which libFuzzer reports as a crash and saves
 * the input as an artifact.  Everything here is static inline and holds
 * no state, so the targets stay free of globals.
 *
 * IDENTIFICATION
 *	  tests/fuzz/fuzz_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_FUZZ_COMMON_H
#define BIOTOKEN_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* check cond; on failure say which check and abort so libFuzzer keeps it */
#define FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: check failed: %s\n", \
					__FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

/*
 * fuzz_check_view
 *		Check that a view bt_codec_parse() accepted for the len bytes at buf
 *		has every field within the ranges codec.h documents, and that its
 *		pointers point where the layout says.
 */
static inline void
fuzz_check_view(const BtTemplateView *view, const uint8_t *buf, size_t len)
{
	FUZZ_CHECK(view->format == BT_FORMAT_V1);
	FUZZ_CHECK(view->flags == 0);
	FUZZ_CHECK(view->key_id != 0);
	FUZZ_CHECK(view->proj_key_id != 0);
	FUZZ_CHECK(view->dims >= 1 && view->dims <= BT_MAX_DIMS);
	FUZZ_CHECK(view->bits >= BT_CODEC_MIN_BITS);
	FUZZ_CHECK(view->bits <= BT_CODEC_MAX_BITS);
	FUZZ_CHECK(view->bits % 64 == 0);
	FUZZ_CHECK(len == bt_codec_record_size(view->bits));
	FUZZ_CHECK(len == (size_t) BT_BITS_OFFSET + view->bits / 8);
	FUZZ_CHECK(len <= BT_MAX_RECORD_BYTES);
	FUZZ_CHECK(view->salt == buf + BT_HEADER_BYTES);
	FUZZ_CHECK(view->data == buf + BT_BITS_OFFSET);
}

/*
 * fuzz_check_same_view
 *		Check that two views of records at a and b carry the same fields,
 *		and point at the same offsets in their own records.
 */
static inline void
fuzz_check_same_view(const BtTemplateView *va, const uint8_t *a,
					 const BtTemplateView *vb, const uint8_t *b)
{
	FUZZ_CHECK(va->format == vb->format);
	FUZZ_CHECK(va->flags == vb->flags);
	FUZZ_CHECK(va->key_id == vb->key_id);
	FUZZ_CHECK(va->proj_key_id == vb->proj_key_id);
	FUZZ_CHECK(va->dims == vb->dims);
	FUZZ_CHECK(va->bits == vb->bits);
	FUZZ_CHECK(va->model_id == vb->model_id);
	FUZZ_CHECK(va->salt - a == vb->salt - b);
	FUZZ_CHECK(va->data - a == vb->data - b);
	FUZZ_CHECK(memcmp(va->salt, vb->salt, BT_RECORD_SALT_BYTES) == 0);
	FUZZ_CHECK(memcmp(va->data, vb->data, va->bits / 8) == 0);
}

#endif							/* BIOTOKEN_FUZZ_COMMON_H */
