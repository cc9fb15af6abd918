/*-------------------------------------------------------------------------
 *
 * biotoken.c
 *	  Module entry point of biotoken: field-level biometric tokenization.
 *
 * _PG_init defines the settings, then, only when the library is loaded from
 * shared_preload_libraries, loads the keys and installs the hooks, shared
 * memory and background worker of the other modules, in a fixed order.
 * Loaded any other way (a plain LOAD, or CREATE EXTENSION on a server that
 * did not preload it) it installs nothing, and every SQL entry point raises
 * 55000 through bt_require_preloaded(), as pg_stat_statements does.
 *
 * IDENTIFICATION
 *	  extension/biotoken.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "audit.h"
#include "biotoken.h"
#include "flat.h"
#include "guard.h"
#include "catalog.h"
#include "guc.h"
#include "keys.h"
#include "labels.h"
#include "redact.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(biotoken_library_version);

#define BT_LIBRARY_VERSION	"1.1"

bool		bt_preloaded = false;

void		_PG_init(void);

void
_PG_init(void)
{
	/* 1. settings: defined and reserved however the library is loaded */
	bt_guc_init();

	if (!process_shared_preload_libraries_in_progress)
		return;

	/*
	 * pg_upgrade runs no statement that needs the keys or the guard, but it
	 * does restore SECURITY LABEL FOR biotoken, which fails unless the label
	 * provider is registered.
	 */
	if (IsBinaryUpgrade)
	{
		bt_labels_init();
		return;
	}

	/* 2. keys: the server does not start without them */
	bt_keys_load();

	/*
	 * 3. classification: the label provider, the category cache and its
	 * invalidation callbacks; before the guard, which reads the cache.
	 */
	bt_labels_init();

	/* the access log cannot be dropped with its rows (catalog.c) */
	bt_catalog_init();

	/*
	 * 4. the guard: its executor, planner and utility hooks and transaction
	 * callbacks; audit grants need no initialisation of their own.
	 */
	bt_guard_init();

	/* the identification index: the planner hook that costs parallel scans */
	bt_flat_init();

	/*
	 * Error reports: hide the statement of biotoken's errors, redact
	 * constraint details of classified relations (redact.c).
	 */
	bt_redact_init();

	/*
	 * 5. last: the access log.  Its hooks must be the outermost ones
	 * (installed after every other module's), so that they note the
	 * statement and log a changed biotoken.guard before any other hook can
	 * act or write a record.
	 */
	bt_audit_init();

	bt_preloaded = true;
}

/*
 * bt_require_preloaded
 *		Throw 55000 unless the library came from shared_preload_libraries.
 *		Every SQL entry point calls it first.
 */
void
bt_require_preloaded(void)
{
	if (unlikely(!bt_preloaded))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("biotoken must be loaded via \"shared_preload_libraries\""),
				 errhint("Add biotoken to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/*
 * SQL: biotoken.library_version() -> text
 *
 * The version of the loaded library.  The install script calls it first, so
 * CREATE EXTENSION fails with a clear error on a server that did not
 * preload biotoken.
 */
Datum
biotoken_library_version(PG_FUNCTION_ARGS)
{
	bt_require_preloaded();
	PG_RETURN_TEXT_P(cstring_to_text(BT_LIBRARY_VERSION));
}
