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

#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "guc.h"

char	   *bt_key_file = NULL;
char	   *bt_key_command = NULL;
bool		bt_guard = true;
int			bt_scope = BT_SCOPE_STATEMENT;
char	   *bt_template_bits = NULL;
char	   *bt_model = NULL;
double		bt_match_threshold = 0.38;
int			bt_max_grant_duration = 24 * 60;
int			bt_audit_timeout = 5000;
bool		bt_log_reads = false;

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
 * check hook for biotoken.template_bits: "auto", or a multiple of 64 between
 * BT_MIN_TEMPLATE_BITS and BT_MAX_TEMPLATE_BITS.
 */
static bool
check_template_bits(char **newval, void **extra, GucSource source)
{
	int		   *parsed;
	long		bits;
	char	   *end;

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
		define_key_settings();

	DefineCustomBoolVariable("biotoken.guard",
							 "Refuses statements that combine biometric data with identity or financial data.",
							 "Every change of this setting is written to the access log.",
							 &bt_guard,
							 true,
							 PGC_SUSET,
							 0,
							 NULL,
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
							 NULL,
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
							 PGC_USERSET,
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
							NULL,
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
							NULL,
							NULL,
							NULL);

	DefineCustomBoolVariable("biotoken.log_reads",
							 "Writes every read of a biometric column to the access log.",
							 NULL,
							 &bt_log_reads,
							 false,
							 PGC_SUSET,
							 0,
							 NULL,
							 NULL,
							 NULL);

	MarkGUCPrefixReserved("biotoken");
}
