/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  The biotoken.* settings: C variables and accessors.
 *
 * IDENTIFICATION
 *	  extension/guc.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef BIOTOKEN_GUC_H
#define BIOTOKEN_GUC_H

typedef enum BtScope
{
	BT_SCOPE_STATEMENT,
	BT_SCOPE_TRANSACTION
} BtScope;

/* Key sources (postmaster); never hold key bytes, only where to find them. */
extern char *bt_key_file;
extern char *bt_key_command;
extern int	bt_key_command_timeout;	/* seconds */

/* The guard. */
extern bool bt_guard;
extern int	bt_scope;

/* Templates and matching. */
extern char *bt_template_bits;
extern char *bt_model;
extern double bt_match_threshold;

/* Grants and the access log. */
extern int	bt_max_grant_duration;	/* minutes */
extern int	bt_audit_timeout;	/* milliseconds */
extern bool bt_log_reads;
extern int	bt_audit_queues;	/* postmaster */
extern int	bt_audit_queue_size;	/* kB, postmaster */
extern int	bt_audit_writers;	/* postmaster */
extern int	bt_audit_checkpoint_rows;	/* sighup */
extern bool bt_server_log_reads;

/* Smallest and largest template size, in bits; sizes are multiples of 64. */
#define BT_MIN_TEMPLATE_BITS	64
#define BT_MAX_TEMPLATE_BITS	32768

extern void bt_guc_init(void);
extern int	bt_guc_template_bits(int dims);
extern bool bt_guc_allow_drop_in_force(void);

/*
 * Set by an assign hook when a logged setting (guard, scope, log_reads,
 * audit_timeout) changes, so
 * the change is written to the access log at the next safe point (assign
 * hooks must not do I/O).
 */
extern bool bt_guc_setting_changed;

#endif							/* BIOTOKEN_GUC_H */
