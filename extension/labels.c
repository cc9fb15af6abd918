/*-------------------------------------------------------------------------
 *
 * labels.c
 *	  Classification: categories of columns.
 *
 * IDENTIFICATION
 *	  extension/labels.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "labels.h"

/*
 * bt_labels_category_name
 *		The SQL name of a single category bit.
 */
const char *
bt_labels_category_name(int category)
{
	switch (category)
	{
		case BT_CAT_BIOMETRIC:
			return "biometric";
		case BT_CAT_IDENTITY:
			return "identity";
		case BT_CAT_FINANCIAL:
			return "financial";
	}
	return "none";
}
