/*-------------------------------------------------------------------------
 *
 * categories.c
 *	  The one table of classification categories (biometric, identity,
 *	  financial) that labels, the guard, lineage and discovery read: each
 *	  category's bit, SQL name, rank and what it may not meet.
 *
 * The guard's rule ("a statement that reads biometric data may not also
 * read or write identity or financial data") and lineage's rule ("one
 * column may not receive biometric and identity or financial data") are
 * both the may_not_meet column read from the reading side: reading identity
 * and writing biometric (enrollment by ID number) meets nothing.  A new
 * category is one row here and one bit in categories.h.
 *
 * No state, no allocation except in the caller's StringInfo.
 *
 * IDENTIFICATION
 *	  extension/categories.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "categories.h"

/* In order of decreasing rank: the order of names in messages. */
const BtCategoryInfo bt_categories[] = {
	{BT_CAT_BIOMETRIC, "biometric", 3, BT_CAT_IDENTITY | BT_CAT_FINANCIAL},
	{BT_CAT_IDENTITY, "identity", 2, 0},
	{BT_CAT_FINANCIAL, "financial", 1, 0},
};

const int	bt_ncategories = lengthof(bt_categories);

/* the table row of one category bit, or NULL */
static const BtCategoryInfo *
category_info(int category)
{
	int			i;

	for (i = 0; i < bt_ncategories; i++)
		if (bt_categories[i].bit == category)
			return &bt_categories[i];
	return NULL;
}

/*
 * bt_categories_name
 *		The SQL name of a single category bit; "none" for anything else.
 */
const char *
bt_categories_name(int category)
{
	const BtCategoryInfo *info = category_info(category);

	return info != NULL ? info->name : "none";
}

/*
 * bt_categories_from_name
 *		The category a label value stands for: 0 for NULL, -1 for anything
 *		that is not exactly one of the names.
 */
int
bt_categories_from_name(const char *name)
{
	int			i;

	if (name == NULL)
		return 0;
	for (i = 0; i < bt_ncategories; i++)
		if (strcmp(name, bt_categories[i].name) == 0)
			return bt_categories[i].bit;
	return -1;
}

/*
 * bt_categories_rank
 *		The order in which one category beats another for the same column;
 *		0 for none (or an invalid value).
 */
int
bt_categories_rank(int category)
{
	const BtCategoryInfo *info = category_info(category);

	return info != NULL ? info->rank : 0;
}

/*
 * bt_categories_strongest
 *		The highest-ranked single category in a set of them (0 for none).
 */
int
bt_categories_strongest(int categories)
{
	int			best = 0;
	int			i;

	for (i = 0; i < bt_ncategories; i++)
		if ((categories & bt_categories[i].bit) &&
			bt_categories[i].rank > bt_categories_rank(best))
			best = bt_categories[i].bit;
	return best;
}

/*
 * bt_categories_append_names
 *		Append the SQL names of the categories in cats to buf, in table
 *		order, joined with sep, and with last before the last one.
 */
void
bt_categories_append_names(StringInfo buf, int cats, const char *sep,
						   const char *last)
{
	int			i;
	int			n = 0;
	int			total = 0;

	for (i = 0; i < bt_ncategories; i++)
		if (cats & bt_categories[i].bit)
			total++;
	for (i = 0; i < bt_ncategories; i++)
	{
		if ((cats & bt_categories[i].bit) == 0)
			continue;
		if (n > 0)
			appendStringInfoString(buf, n == total - 1 ? last : sep);
		appendStringInfoString(buf, bt_categories[i].name);
		n++;
	}
}
