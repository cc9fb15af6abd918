/*-------------------------------------------------------------------------
 *
 * guard_reads.h
 *	  Reads the executor makes that no permission check sees: triggers,
 *	  CHECK constraints, index expressions, generated columns, row-level
 *	  security policies, and the utility commands that evaluate them.
 *
 * IDENTIFICATION
 *	  extension/guard_reads.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_GUARD_READS_H
#define BIOTOKEN_GUARD_READS_H

#include "nodes/bitmapset.h"
#include "nodes/parsenodes.h"

/* Column sets below are offset by FirstLowInvalidHeapAttributeNumber. */

/* What a target relation makes the executor read (bt_guard_reads_target). */
typedef struct BtTargetReads
{
	Bitmapset  *cols;			/* read by the statement itself */
	Bitmapset  *deferred;		/* read by deferred triggers, later */
} BtTargetReads;

/* One relation whose columns a utility command reads. */
typedef struct BtUtilityRead
{
	Oid			relid;
	Bitmapset  *cols;
} BtUtilityRead;

/* A column a utility command fills from other columns of its relation. */
typedef struct BtUtilityCopy
{
	Oid			relid;
	char	   *target;			/* the column filled, by name */
	Bitmapset  *cols;			/* the columns it is computed from */
} BtUtilityCopy;

/*
 * bt_guard_reads_target: the columns of relid (locked by the caller) that
 * the executor reads when the relation is the target of an UPDATE
 * (is_update) or DELETE: row and transition-table triggers (the whole
 * row), CHECK constraints, index expressions and predicates, generated
 * columns recomputed because a column in updated changes.  relflags (BT_LABELS_REL_*) say
 * which to look at.  Allocates in the current context.
 *
 * bt_guard_reads_policies: the columns the row-level security policies of
 * relid read, if they apply to the current user.
 *
 * bt_guard_reads_utility: the relations and columns a utility command
 * evaluates expressions over (ALTER TABLE ... ADD CHECK, VALIDATE,
 * ALTER COLUMN TYPE ... USING, ADD COLUMN ... GENERATED, CREATE INDEX
 * with expressions, CREATE STATISTICS): a List of BtUtilityRead *, NIL
 * for anything else.  Cheap for other commands: one node tag test.
 */
extern void bt_guard_reads_target(Oid relid, int relflags, bool is_update,
								  const Bitmapset *updated,
								  BtTargetReads *reads);
extern Bitmapset *bt_guard_reads_policies(Oid relid);
extern List *bt_guard_reads_utility(Node *parsetree);

/*
 * bt_guard_copies_utility: the columns a utility command fills from other
 * columns (ALTER COLUMN ... TYPE ... USING, ADD COLUMN ... GENERATED), for
 * lineage: a List of BtUtilityCopy *, NIL for anything else.
 */
extern List *bt_guard_copies_utility(Node *parsetree);

#endif							/* BIOTOKEN_GUARD_READS_H */
