# biotoken: PGXS build, plus `make test`, `make demo` and `make fuzz`.

EXTENSION = biotoken
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" extension/$(EXTENSION).control)

MODULE_big = biotoken
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard extension/*.c)))
# The install script of the current version is generated: the 1.0 script
# followed by every update script up to it (as pgvector generates its
# versioned script), so a fresh install and an update run the same SQL.
EXT_UPDATES = $(sort $(wildcard extension/$(EXTENSION)--*--*.sql))
EXT_SCRIPT = extension/$(EXTENSION)--$(EXTVERSION).sql
DATA_built = $(EXT_SCRIPT)
DATA = extension/$(EXTENSION)--1.0.sql $(EXT_UPDATES)
PGFILEDESC = "biotoken - field-level biometric tokenization"

PG_CPPFLAGS = -I$(srcdir)/extension
PG_CFLAGS = -Wall -Wmissing-prototypes -Wpointer-arith -Wendif-labels -Wformat-security -Wclobbered
SHLIB_LINK = -lcrypto

# pg_regress tests, in order (sql/NAME.sql, expected/NAME.out)
REGRESS = setup gucs template_io template_match
# a newcomer's first week (issue #15)
REGRESS += template_typmod grant_history
# (other modules append their tests here)
REGRESS += labels
REGRESS += guard_paths grants
REGRESS += audit_log
REGRESS += discover
REGRESS += template_index
# One line per concern, each between comments, so that parallel work
# merges without conflicts: add your tests to your own line.
# guard (issue 9): one boundary per file
REGRESS_GUARD = guard_cursors guard_executor_reads guard_lineage guard_policy
#
# secrets (issue 16): bounded per-backend memory, no secret in logs or plans
REGRESS_SECRETS = projection_cache secrets_checks
#
# hardening (issue 10): what each role can and cannot do, as non-superusers
REGRESS_HARDEN = roles_owner roles_app roles_matcher roles_auditor roles_nobody
#
# access log (issue 11)
REGRESS_AUDITLOG =
#
# identification at scale (issue 14)
REGRESS_SCALE = flat_parallel
#
# versions (issue 13): what differs between PostgreSQL majors (compat.h)
REGRESS_VERSIONS = compat
#
REGRESS += $(REGRESS_GUARD) $(REGRESS_SECRETS) $(REGRESS_HARDEN) \
	$(REGRESS_AUDITLOG) $(REGRESS_SCALE) $(REGRESS_VERSIONS)
REGRESS_OPTS = --inputdir=.

# own databases: what DROP EXTENSION leaves; keep upgrade last
REGRESS += uninstall
REGRESS += upgrade

EXTRA_CLEAN = $(EXTENSION)-*.zip $(EXTENSION).control $(EXT_SCRIPT) results/ regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# `make test` and `make demo` install PostgreSQL first; nothing else
# works without it.
ifeq ($(filter test demo,$(MAKECMDGOALS)),)
$(error pg_config not found: install postgresql-server-dev-15, or run `make test`)
endif
else
include $(PGXS)
endif

# redact.c recognises biotoken's own error reports by their source file
# (ErrorData.filename, a base name, which also crosses from parallel
# workers to the leader): every file of extension/ but guc.c, which
# raises nothing and shares its name with PostgreSQL's.
BT_REPORTING_FILES = $(filter-out guc.c,$(notdir $(wildcard extension/*.c)))
extension/redact.o extension/redact.bc: override CPPFLAGS += -DBT_SOURCE_FILES='$(foreach f,$(BT_REPORTING_FILES),"$(f)",)'

# PGXS tracks no header dependencies without --enable-depend: rebuild
# every object when any header changes (there are few, and they are small).
$(OBJS): $(wildcard extension/*.h)

# PGXS installs $(EXTENSION).control from the top level.
$(EXTENSION).control: extension/$(EXTENSION).control
	cp $< $@

all: $(EXTENSION).control

$(EXT_SCRIPT): extension/$(EXTENSION)--1.0.sql $(EXT_UPDATES)
	cat $^ > $@

.PHONY: test demo fuzz dist print-regress print-version

# Install what is needed, build, install, run every test on a throwaway
# server with biotoken preloaded; ends with "N passed, N failed".
# PG_MAJOR=17 or 18 runs the same suites against that major inside a
# Debian chroot that tests/harness/chroot.sh makes once and caches
# outside the checkout; without it (or with 15) they run on the host.
PG_MAJOR ?=
test:
ifeq ($(filter-out 15,$(PG_MAJOR)),)
	bash tests/harness/run_tests.sh
else
	bash tests/harness/chroot.sh $(PG_MAJOR)
endif

# The same set-up, then a narrated walk through the product.
demo:
	bash tests/harness/demo.sh

# libFuzzer targets for the text and binary parsers.
fuzz:
	bash tests/fuzz/run.sh

# The PGXN archive of the committed tree (META.json at its top), named
# after META.json's version: biotoken-1.1.0.zip.
DISTVERSION = $(shell sed -n 's/^   "version" *: *"\(.*\)",*$$/\1/p' META.json)
dist:
	git archive --format zip --prefix=$(EXTENSION)-$(DISTVERSION)/ \
		-o $(EXTENSION)-$(DISTVERSION).zip HEAD

print-regress:
	@echo $(REGRESS)

print-version:
	@echo $(EXTVERSION)
