/*-------------------------------------------------------------------------
 *
 * redact.h
 *	  Keep secrets out of error reports (see redact.c).
 *
 * IDENTIFICATION
 *	  extension/redact.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_REDACT_H
#define BIOTOKEN_REDACT_H

/* install the emit_log_hook and the PL/pgSQL plugin; from _PG_init */
extern void bt_redact_init(void);

#endif							/* BIOTOKEN_REDACT_H */
