/*-------------------------------------------------------------------------
 *
 * categories.h
 *	  The classification categories, described once: their bit, SQL name,
 *	  rank and the categories they may not meet.
 *
 * IDENTIFICATION
 *	  extension/categories.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_CATEGORIES_H
#define BIOTOKEN_CATEGORIES_H

#include "lib/stringinfo.h"

/* Categories, as bits so that sets of them are plain ints. */
typedef enum BtCategory
{
	BT_CAT_NONE = 0,
	BT_CAT_BIOMETRIC = 1 << 0,
	BT_CAT_IDENTITY = 1 << 1,
	BT_CAT_FINANCIAL = 1 << 2
} BtCategory;

#define BT_CAT_ALL	(BT_CAT_BIOMETRIC | BT_CAT_IDENTITY | BT_CAT_FINANCIAL)

/*
 * One category.  rank orders categories for a column that several sources
 * classify (the highest wins).  may_not_meet is what a statement that
 * reads this category may not also read or write, and what may not share
 * one column with it.  A new category is one row of bt_categories (see
 * categories.c) and one bit above.
 */
typedef struct BtCategoryInfo
{
	int			bit;
	const char *name;
	int			rank;
	int			may_not_meet;
} BtCategoryInfo;

/* the table, in order of decreasing rank, and its length */
extern const BtCategoryInfo bt_categories[];
extern const int bt_ncategories;

/*
 * bt_categories_name: the SQL name of one category bit ("none" otherwise).
 * bt_categories_from_name: the bit a label names, 0 for NULL, -1 for
 * anything that is not exactly a category name.
 * bt_categories_rank: the rank of one category bit, 0 for none.
 * bt_categories_strongest: the highest-ranked bit of a set, or 0.
 * bt_categories_conflicts: the union of what the members of a set may not
 * meet.
 * bt_categories_combine: whether a statement reading read_cats and writing
 * write_cats brings categories together that may not meet.
 * bt_categories_mixed: whether one column receiving cats would hold two
 * categories that may not meet.
 * bt_categories_append_names: the names of a set, in table order, joined
 * with sep and, before the last, with last.
 */
extern const char *bt_categories_name(int category);
extern int	bt_categories_from_name(const char *name);
extern int	bt_categories_rank(int category);
extern int	bt_categories_strongest(int categories);
extern void bt_categories_append_names(StringInfo buf, int cats,
									   const char *sep, const char *last);

static inline int
bt_categories_conflicts(int categories)
{
	int			result = 0;
	int			i;

	if (categories == 0)
		return 0;
	for (i = 0; i < bt_ncategories; i++)
		if (categories & bt_categories[i].bit)
			result |= bt_categories[i].may_not_meet;
	return result;
}

static inline bool
bt_categories_combine(int read_cats, int write_cats)
{
	return ((read_cats | write_cats) & bt_categories_conflicts(read_cats)) != 0;
}

static inline bool
bt_categories_mixed(int cats)
{
	return (cats & bt_categories_conflicts(cats)) != 0;
}

#endif							/* BIOTOKEN_CATEGORIES_H */
