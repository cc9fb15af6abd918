/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Definitions of every biotoken.* setting.
 *
 * All settings are defined here, once, from _PG_init.  Check hooks report
 * through GUC_check_errdetail and never throw; whatever they allocate for
 * *extra comes from BT_GUC_MALLOC (compat.h), as guc.c requires.  Assign
 * hooks cannot fail and do no catalog work or I/O: a change of
 * biotoken.guard or biotoken.scope only raises a flag that the guard turns
 * into an access-log record.
 *
 * No setting ever holds key bytes: biotoken.key_file and biotoken.key_command
 * say where the key material is, not what it is.
 *
 * IDENTIFICATION
 *	  extension/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/parallel.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/elog.h"
#include "utils/guc.h"

#include "compat.h"
#include "guc.h"

char	   *bt_key_file = NULL;
char	   *bt_key_command = NULL;
int			bt_key_command_timeout = 30;
bool		bt_guard = true;
int			bt_scope = BT_SCOPE_STATEMENT;
char	   *bt_template_bits = NULL;
char	   *bt_model = NULL;
double		bt_match_threshold = 0.38;
int			bt_max_grant_duration = 24 * 60;
int			bt_audit_timeout = 5000;
bool		bt_log_reads = false;
int			bt_audit_queues = 16;
int			bt_audit_queue_size = 128;
int			bt_audit_writers = 4;
int			bt_audit_checkpoint_rows = 10000;
bool		bt_server_log_reads = true;
static bool bt_allow_drop = false;

/* the local transaction in which biotoken.allow_drop was last turned on */
static LocalTransactionId allow_drop_lxid = InvalidLocalTransactionId;

bool		bt_guc_setting_changed = false;

static const struct config_enum_entry scope_options[] = {
	{"statement", BT_SCOPE_STATEMENT, false},
	{"transaction", BT_SCOPE_TRANSACTION, false},
	{NULL, 0, false}
};

/*
 * The parsed value of biotoken.template_bits: 0 for "auto", else a bit
 * count.  Points into the malloc'd *extra of the current setting.
 */
static int *template_bits_parsed = NULL;

/*
 * Whether a superuser setting may take a value from this source.
 *
 * PostgreSQL lets a role that was granted SET on a PGC_SUSET parameter
 * (GRANT SET ON PARAMETER) change it; for biotoken's superuser settings
 * that would let a non-superuser turn the guard off, widen the scope of
 * what it lets through, or stop reads being logged.  So a value given
 * interactively (SET, SET LOCAL, set_config, a function's SET clause,
 * ALTER ROLE or DATABASE ... SET when it is stored, startup options) must
 * come from a superuser.  Values from the configuration file and those
 * ALTER ROLE or DATABASE ... SET stored (checked when stored) pass, and so
 * does a parallel worker taking over its leader's settings.
 */
static bool
superuser_source_ok(const char *name, GucSource source)
{
	if (source < PGC_S_CLIENT || source == PGC_S_OVERRIDE ||
		IsParallelWorker())
		return true;
	if (superuser())
		return true;
	GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
	GUC_check_errmsg("permission denied to set parameter \"%s\"", name);
	GUC_check_errdetail("Only superusers can change this setting; GRANT SET ON PARAMETER does not apply to it.");
	return false;
}

static bool
check_guard(bool *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.guard", source);
}

static bool
check_scope(int *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.scope", source);
}

static bool
check_max_grant_duration(int *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.max_grant_duration", source);
}

static bool
check_audit_timeout(int *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.audit_timeout", source);
}

static bool
check_log_reads(bool *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.log_reads", source);
}

static bool
check_server_log_reads(bool *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.server_log_reads", source);
}

static bool
check_allow_drop(bool *newval, void **extra, GucSource source)
{
	return superuser_source_ok("biotoken.allow_drop", source);
}

/*
 * check hook for biotoken.template_bits: "auto", or a multiple of 64 between
 * BT_MIN_TEMPLATE_BITS and BT_MAX_TEMPLATE_BITS.
 */
static bool
check_template_bits(char **newval, void **extra, GucSource source)
{
	int		   *parsed;
	long		bits;
	char	   *end;

	if (!superuser_source_ok("biotoken.template_bits", source))
		return false;
	if (*newval == NULL || pg_strcasecmp(*newval, "auto") == 0)
		bits = 0;
	else
	{
		errno = 0;
		bits = strtol(*newval, &end, 10);
		if (errno != 0 || end == *newval || *end != '\0')
		{
			GUC_check_errdetail("Valid values are \"auto\" or a number of bits.");
			return false;
		}
		if (bits < BT_MIN_TEMPLATE_BITS || bits > BT_MAX_TEMPLATE_BITS ||
			bits % 64 != 0)
		{
			GUC_check_errdetail("The number of bits must be a multiple of 64 between %d and %d.",
								BT_MIN_TEMPLATE_BITS, BT_MAX_TEMPLATE_BITS);
			return false;
		}
	}

	parsed = (int *) BT_GUC_MALLOC(sizeof(int));
	if (parsed == NULL)
		return false;
	*parsed = (int) bits;
	*extra = parsed;
	return true;
}

static void
assign_template_bits(const char *newval, void *extra)
{
	template_bits_parsed = (int *) extra;
}

/* assign hooks of the logged settings: note the change, do nothing else */
static void
assign_guard(bool newval, void *extra)
{
	if (newval != bt_guard)
		bt_guc_setting_changed = true;
}

static void
assign_scope(int newval, void *extra)
{
	if (newval != bt_scope)
		bt_guc_setting_changed = true;
}

/*
 * biotoken.allow_drop counts only in the transaction that turned it on:
 * note which one (no I/O, cannot fail).  Outside a transaction (a reload,
 * session start) lxid is invalid, so the configuration file, ALTER ROLE
 * and the like can never turn it on for a later transaction.
 */
static void
assign_allow_drop(bool newval, void *extra)
{
	allow_drop_lxid = (newval && MyProc != NULL) ? BT_MY_LXID :
		InvalidLocalTransactionId;
}

/*
 * bt_guc_allow_drop_in_force
 *		Whether biotoken.allow_drop is on and was turned on in the current
 *		transaction.
 */
bool
bt_guc_allow_drop_in_force(void)
{
	return bt_allow_drop && MyProc != NULL &&
		allow_drop_lxid != InvalidLocalTransactionId &&
		allow_drop_lxid == BT_MY_LXID;
}

static void
assign_log_reads(bool newval, void *extra)
{
	if (newval != bt_log_reads)
		bt_guc_setting_changed = true;
}

static void
assign_audit_timeout(int newval, void *extra)
{
	if (newval != bt_audit_timeout)
		bt_guc_setting_changed = true;
}

/*
 * bt_guc_template_bits
 *		Bits for a new template of an embedding with "dims" dimensions.
 *
 * "auto" is twice the dimensions, rounded up to a multiple of 64 and
 * clamped to the allowed range.
 */
int
bt_guc_template_bits(int dims)
{
	int			bits;

	if (template_bits_parsed != NULL && *template_bits_parsed > 0)
		return *template_bits_parsed;

	bits = ((2 * dims + 63) / 64) * 64;
	if (bits < BT_MIN_TEMPLATE_BITS)
		bits = BT_MIN_TEMPLATE_BITS;
	if (bits > BT_MAX_TEMPLATE_BITS)
		bits = BT_MAX_TEMPLATE_BITS;
	return bits;
}

/*
 * The key sources: postmaster settings, superuser-only to read.
 */
static void
define_key_settings(void)
{
	DefineCustomStringVariable("biotoken.key_file",
							   "Sets the file that holds the biotoken keys.",
							   "The file must not be readable by group or others. "
							   "If neither this nor biotoken.key_command is set, "
							   "a key file is generated in the data directory.",
							   &bt_key_file,
							   NULL,
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomStringVariable("biotoken.key_command",
							   "Sets a command whose standard output is the biotoken key material.",
							   "Use it to fetch keys from a key management service.",
							   &bt_key_command,
							   NULL,
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomIntVariable("biotoken.key_command_timeout",
							"Sets how long the server waits for biotoken.key_command.",
							"A command that does not finish in time stops the start.",
							&bt_key_command_timeout,
							30,
							1,
							3600,
							PGC_POSTMASTER,
							GUC_UNIT_S | GUC_SUPERUSER_ONLY,
							NULL,
							NULL,
							NULL);
}

/* the access log's shared memory and worker slots (postmaster) */
static void
define_audit_capacity_settings(void)
{
	DefineCustomIntVariable("biotoken.audit_queues",
							"Sets how many databases can write to their access logs at the same time.",
							"Each database with records waiting to be written takes one queue.",
							&bt_audit_queues,
							16,
							1,
							1024,
							PGC_POSTMASTER,
							0,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("biotoken.audit_queue_size",
							"Sets the shared memory of each access-log queue.",
							"Records waiting for the writer of their database are held here.",
							&bt_audit_queue_size,
							128,
							64,
							64 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL,
							NULL,
							NULL);

	DefineCustomIntVariable("biotoken.audit_writers",
							"Sets how many access-log writers may run at the same time.",
							"Each writer is a background worker serving one database; databases share them in turn.",
							&bt_audit_writers,
							4,
							1,
							1024,
							PGC_POSTMASTER,
							0,
							NULL,
							NULL,
							NULL);
}

/*
 * bt_guc_init
 *		Define every biotoken.* setting.  Called first from _PG_init, also
 *		when the library is loaded without shared_preload_libraries, so that
 *		the settings are known and reserved either way.
 */
void
bt_guc_init(void)
{
	/*
	 * Postmaster settings can only be defined while the postmaster loads the
	 * library; a backend that loads it later (CREATE EXTENSION on a server
	 * that did not preload it) must skip them, or it dies with FATAL.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		define_key_settings();
		define_audit_capacity_settings();
	}

	DefineCustomBoolVariable("biotoken.guard",
							 "Refuses statements that combine biometric data with identity or financial data.",
							 "Every change of this setting is written to the access log.",
							 &bt_guard,
							 true,
							 PGC_SUSET,
							 0,
							 check_guard,
							 assign_guard,
							 NULL);

	DefineCustomEnumVariable("biotoken.scope",
							 "Sets whether the guard judges each statement or the whole transaction.",
							 NULL,
							 &bt_scope,
							 BT_SCOPE_STATEMENT,
							 scope_options,
							 PGC_SUSET,
							 0,
							 check_scope,
							 assign_scope,
							 NULL);

	DefineCustomStringVariable("biotoken.template_bits",
							   "Sets the number of bits of a new biometric template.",
							   "\"auto\" uses twice the embedding's dimensions.",
							   &bt_template_bits,
							   "auto",
							   PGC_SUSET,
							   0,
							   check_template_bits,
							   assign_template_bits,
							   NULL);

	DefineCustomStringVariable("biotoken.model",
							   "Sets the model profile used to enroll embeddings.",
							   "The profile's mean is subtracted from every embedding before it is projected; \"none\" uses no profile.",
							   &bt_model,
							   "none",
							   PGC_USERSET,
							   0,
							   NULL,
							   NULL,
							   NULL);

	DefineCustomRealVariable("biotoken.match_threshold",
							 "Sets the largest template distance that biometric_verify accepts as a match.",
							 NULL,
							 &bt_match_threshold,
							 0.38,
							 0.0,
							 1.0,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

	DefineCustomIntVariable("biotoken.max_grant_duration",
							"Sets the longest validity an audit grant may be given.",
							NULL,
							&bt_max_grant_duration,
							24 * 60,
							1,
							INT_MAX / 60,
							PGC_SUSET,
							GUC_UNIT_MIN,
							check_max_grant_duration,
							NULL,
							NULL);

	DefineCustomIntVariable("biotoken.audit_timeout",
							"Sets how long to wait for an access-log record to commit.",
							"A statement whose record is not committed in time is refused.",
							&bt_audit_timeout,
							5000,
							1,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							check_audit_timeout,
							assign_audit_timeout,
							NULL);

	DefineCustomBoolVariable("biotoken.log_reads",
							 "Writes every read of a biometric column to the access log.",
							 NULL,
							 &bt_log_reads,
							 false,
							 PGC_SUSET,
							 0,
							 check_log_reads,
							 assign_log_reads,
							 NULL);

	DefineCustomBoolVariable("biotoken.allow_drop",
							 "Allows DROP EXTENSION biotoken to drop an access log that holds rows.",
							 "Counts only in the transaction that set it; use SET LOCAL. The drop is written to the server log.",
							 &bt_allow_drop,
							 false,
							 PGC_SUSET,
							 GUC_NO_RESET_ALL | GUC_NOT_IN_SAMPLE,
							 check_allow_drop,
							 assign_allow_drop,
							 NULL);

	DefineCustomBoolVariable("biotoken.server_log_reads",
							 "Writes a server-log line for every access-log read record.",
							 "Off keeps the line for every other event and leaves read records in the access log only.",
							 &bt_server_log_reads,
							 true,
							 PGC_SUSET,
							 0,
							 check_server_log_reads,
							 NULL,
							 NULL);

	DefineCustomIntVariable("biotoken.audit_checkpoint_rows",
							"Sets how many access-log rows lie between two signed checkpoints.",
							"verify_access_log(from_id) starts at the last checkpoint before from_id; 0 writes none.",
							&bt_audit_checkpoint_rows,
							10000,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL,
							NULL,
							NULL);

	MarkGUCPrefixReserved("biotoken");
}
