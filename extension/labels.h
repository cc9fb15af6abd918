/*-------------------------------------------------------------------------
 *
 * labels.h
 *	  Classification: the biotoken SECURITY LABEL provider and the
 *	  per-backend category cache.
 *
 * IDENTIFICATION
 *	  extension/labels.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_LABELS_H
#define BIOTOKEN_LABELS_H

#include "access/attnum.h"

/* Categories, as bits so that sets of them are plain ints. */
typedef enum BtCategory
{
	BT_CAT_NONE = 0,
	BT_CAT_BIOMETRIC = 1 << 0,
	BT_CAT_IDENTITY = 1 << 1,
	BT_CAT_FINANCIAL = 1 << 2
} BtCategory;

#define BT_CAT_ALL	(BT_CAT_BIOMETRIC | BT_CAT_IDENTITY | BT_CAT_FINANCIAL)

extern const char *bt_labels_category_name(int category);

#endif							/* BIOTOKEN_LABELS_H */
