/*-------------------------------------------------------------------------
 *
 * normalize.h
 *	  A statement's text with its literal constants replaced by $n.
 *
 * IDENTIFICATION
 *	  extension/normalize.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_NORMALIZE_H
#define BIOTOKEN_NORMALIZE_H

/*
 * bt_normalize_statement: text[location, location + len) (len <= 0: to the
 * end) with every literal replaced by $n and every comment dropped;
 * palloc'd in the current context.  Never throws for the statement's text.
 */
extern char *bt_normalize_statement(const char *text, int location, int len);

#endif							/* BIOTOKEN_NORMALIZE_H */
