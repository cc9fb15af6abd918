/*-------------------------------------------------------------------------
 *
 * keys.c
 *	  Loading the key material, key ids and the HKDF sub-keys.
 *
 * The postmaster loads the keys once, from _PG_init while
 * shared_preload_libraries is processed, from biotoken.key_file, from the
 * output of biotoken.key_command, or from a key file it generates in the
 * data directory on first start.  Backends inherit the derived sub-keys
 * through fork(); nothing is ever written to shared memory, a catalog, a
 * setting or a message.
 *
 * Key source format: one key per line, "<key id> <64 hex digits>", where the
 * key id is an integer from 1 to 65535 and the hex digits are 32 random
 * bytes.  Blank lines and lines starting with '#' are ignored.  The highest
 * key id is the newest key: new templates use it.
 *
 * Memory: the sub-keys live in pages of their own (mmap), excluded from
 * core dumps with MADV_DONTDUMP and locked in memory where the server may;
 * buffers that held the key source live in the "biotoken keys" context
 * under TopMemoryContext and are wiped with explicit_bzero before they are
 * freed.  Every process wipes its copy of the sub-keys when it exits
 * normally (proc_exit, and an atexit() handler the postmaster registers,
 * which every child inherits); a process killed by a signal cannot.
 *
 * Errors: problems with the key source are FATAL; they happen only while
 * the postmaster starts, and a server must not start without its keys.
 *
 * IDENTIFICATION
 *	  extension/keys.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/string.h"
#include "miscadmin.h"
#include "port.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "crypto.h"
#include "guc.h"
#include "keys.h"

/* largest key source we read; a key file is a few hundred bytes */
#define BT_MAX_KEY_SOURCE	65536

static MemoryContext keys_cxt = NULL;
static BtKey *keys = NULL;		/* sorted by key_id, ascending */
static int	nkeys = 0;
static pid_t wipe_registered_pid = 0;

static void
wipe_keys(int code, Datum arg)
{
	if (keys != NULL)
		explicit_bzero(keys, sizeof(BtKey) * BT_MAX_KEYS);
	nkeys = 0;
}

/*
 * atexit() handlers are inherited through fork() and run by exit() in
 * every process (on_proc_exit callbacks are reset in each child), so every
 * server process that inherited the sub-keys wipes them when it exits
 * normally, whether or not it used them.
 */
static void
wipe_keys_atexit(void)
{
	wipe_keys(0, (Datum) 0);
}

/*
 * Memory for the sub-keys: whole pages of their own, excluded from core
 * dumps (MADV_DONTDUMP) and never swapped out where mlock is permitted
 * (best effort: an unprivileged server may not lock).  Inherited by every
 * child through fork().
 */
static BtKey *
alloc_key_memory(void)
{
	size_t		size = TYPEALIGN(sysconf(_SC_PAGESIZE), sizeof(BtKey) * BT_MAX_KEYS);
	void	   *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not allocate memory for the biotoken keys: %m")));
#ifdef MADV_DONTDUMP
	if (madvise(p, size, MADV_DONTDUMP) != 0)
		ereport(WARNING,
				(errmsg("could not exclude the biotoken keys from core dumps: %m")));
#endif
	(void) mlock(p, size);
	return (BtKey *) p;
}

/*
 * Make sure this process wipes its copy of the keys when it exits.  The
 * postmaster's registration does not survive fork(), so each process
 * registers on first use.
 */
static inline void
ensure_wipe_on_exit(void)
{
	if (wipe_registered_pid != MyProcPid)
	{
		on_proc_exit(wipe_keys, (Datum) 0);
		wipe_registered_pid = MyProcPid;
	}
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Derive the sub-keys of one master key into *key.
 */
static void
derive_subkeys(const uint8 *master, int key_id, BtKey *key)
{
	BtCryptoStatus st;

	key->key_id = key_id;
	st = bt_crypto_hkdf(master, BT_KEY_BYTES, "biotoken v1 projection",
						key->proj, BT_KEY_BYTES);
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_hkdf(master, BT_KEY_BYTES, "biotoken v1 mask",
							key->mask, BT_KEY_BYTES);
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_hkdf(master, BT_KEY_BYTES, "biotoken v1 log mac",
							key->logmac, BT_KEY_BYTES);
	if (st == BT_CRYPTO_OK)
		st = bt_crypto_hkdf(master, BT_KEY_BYTES, "biotoken v1 key check",
							key->check, BT_KEY_BYTES);
	if (st != BT_CRYPTO_OK)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not derive biotoken sub-keys")));
}

/*
 * Parse a key source held in buf (len bytes, not NUL-terminated) and derive
 * the sub-keys of every key in it.  "source" names the source in messages;
 * no message ever contains the content.  The caller wipes buf.
 */
static void
parse_keys(const char *buf, size_t len, const char *source)
{
	uint8		master[BT_KEY_BYTES];
	size_t		pos = 0;
	int			lineno = 0;

	while (pos < len)
	{
		size_t		eol = pos;
		size_t		p;
		long		key_id = 0;
		int			ndigits = 0;
		int			nhex = 0;
		int			i;

		while (eol < len && buf[eol] != '\n')
			eol++;
		lineno++;

		p = pos;
		while (p < eol && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\r'))
			p++;
		if (p == eol || buf[p] == '#')
		{
			pos = eol + 1;
			continue;
		}

		/* key id */
		while (p < eol && buf[p] >= '0' && buf[p] <= '9' && ndigits < 6)
		{
			key_id = key_id * 10 + (buf[p] - '0');
			ndigits++;
			p++;
		}
		if (ndigits == 0 || key_id < 1 || key_id > BT_MAX_KEY_ID ||
			p == eol || (buf[p] != ' ' && buf[p] != '\t'))
			ereport(FATAL,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("invalid key id on line %d of %s", lineno, source),
					 errdetail("Each line must be a key id from 1 to %d, a space and 64 hexadecimal digits.",
							   BT_MAX_KEY_ID)));
		while (p < eol && (buf[p] == ' ' || buf[p] == '\t'))
			p++;

		/* 32 bytes in hex */
		while (p + 1 < eol && nhex < BT_KEY_BYTES)
		{
			int			hi = hexval(buf[p]);
			int			lo = hexval(buf[p + 1]);

			if (hi < 0 || lo < 0)
				break;
			master[nhex++] = (uint8) ((hi << 4) | lo);
			p += 2;
		}
		while (p < eol && (buf[p] == ' ' || buf[p] == '\t' || buf[p] == '\r'))
			p++;
		if (nhex != BT_KEY_BYTES || p != eol)
		{
			explicit_bzero(master, sizeof(master));
			ereport(FATAL,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("invalid key on line %d of %s", lineno, source),
					 errdetail("A key must be exactly 64 hexadecimal digits (32 bytes).")));
		}

		for (i = 0; i < nkeys; i++)
			if (keys[i].key_id == key_id)
			{
				explicit_bzero(master, sizeof(master));
				ereport(FATAL,
						(errcode(ERRCODE_CONFIG_FILE_ERROR),
						 errmsg("duplicate key id %ld on line %d of %s",
								key_id, lineno, source)));
			}
		if (nkeys >= BT_MAX_KEYS)
		{
			explicit_bzero(master, sizeof(master));
			ereport(FATAL,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many keys in %s", source),
					 errdetail("At most %d keys are supported.", BT_MAX_KEYS)));
		}

		/* insert sorted by key id */
		i = nkeys;
		while (i > 0 && keys[i - 1].key_id > key_id)
		{
			keys[i] = keys[i - 1];
			i--;
		}
		derive_subkeys(master, (int) key_id, &keys[i]);
		explicit_bzero(master, sizeof(master));
		nkeys++;

		pos = eol + 1;
	}

	if (nkeys == 0)
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("no keys found in %s", source),
				 errhint("Each line must be a key id, a space and 64 hexadecimal digits.")));
}

/*
 * Read a key file.  The file must not be accessible by group or others.
 * Returns a palloc'd buffer in keys_cxt; the caller wipes and frees it.
 */
static char *
read_key_file(const char *path, size_t *len)
{
	struct stat st;
	char	   *buf;
	int			fd;
	ssize_t		n;
	size_t		total = 0;

	fd = open(path, O_RDONLY | PG_BINARY, 0);
	if (fd < 0)
	{
		int			save_errno = errno;

		errno = save_errno;
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not open biotoken key file \"%s\": %m", path),
				 save_errno == EACCES ?
				 errhint("The key file must belong to the operating-system user the server runs as (for example: chown postgres: \"%s\"; chmod 600 \"%s\"), and every directory above it must let that user in.",
						 path, path) : 0));
	}
	if (fstat(fd, &st) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not stat biotoken key file \"%s\": %m", path)));
	if (!S_ISREG(st.st_mode))
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("biotoken key file \"%s\" is not a regular file", path)));
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("biotoken key file \"%s\" has group or world access", path),
				 errdetail("The key file must have permissions u=rw (0600) or less."),
				 errhint("Run chmod 600 on the file, then start the server again.")));

	buf = MemoryContextAlloc(keys_cxt, BT_MAX_KEY_SOURCE);
	while ((n = read(fd, buf + total, BT_MAX_KEY_SOURCE - total)) > 0)
	{
		total += n;
		if (total >= BT_MAX_KEY_SOURCE)
			ereport(FATAL,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("biotoken key file \"%s\" is too large", path)));
	}
	if (n < 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not read biotoken key file \"%s\": %m", path)));
	close(fd);
	*len = total;
	return buf;
}

/*
 * Run biotoken.key_command and collect its standard output, waiting at most
 * biotoken.key_command_timeout: a command that hangs (a vault that does not
 * answer) must stop the start with a clear error, not hang the postmaster.
 * On timeout the command's process group is killed.  Its standard error
 * goes to the server log as usual; its output is never logged.
 */
static char *
run_key_command(const char *command, size_t *len)
{
	int			fds[2];
	pid_t		pid;
	char	   *buf;
	size_t		total = 0;
	int			status;
	bool		timed_out = false;
	TimestampTz deadline;

	fflush(NULL);
	if (pipe(fds) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not execute biotoken.key_command: %m")));
	pid = fork();
	if (pid < 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not execute biotoken.key_command: %m")));
	if (pid == 0)
	{
		/* the child: its own process group, so a timeout kills it all */
		setpgid(0, 0);
		close(fds[0]);
		if (fds[1] != STDOUT_FILENO)
		{
			dup2(fds[1], STDOUT_FILENO);
			close(fds[1]);
		}
		execl("/bin/sh", "sh", "-c", command, (char *) NULL);
		_exit(127);
	}
	close(fds[1]);

	buf = MemoryContextAlloc(keys_cxt, BT_MAX_KEY_SOURCE);
	deadline = GetCurrentTimestamp() + (TimestampTz) bt_key_command_timeout * USECS_PER_SEC;
	for (;;)
	{
		struct pollfd pfd;
		long		wait_ms;
		ssize_t		n;
		int			rc;

		wait_ms = (long) ((deadline - GetCurrentTimestamp()) / 1000);
		if (wait_ms <= 0)
		{
			timed_out = true;
			break;
		}
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int) Min(wait_ms, 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			break;
		if (rc == 0)
			continue;
		n = read(fds[0], buf + total, BT_MAX_KEY_SOURCE - total);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		total += n;
		if (total >= BT_MAX_KEY_SOURCE)
			break;
	}
	close(fds[0]);
	if (timed_out || total >= BT_MAX_KEY_SOURCE)
		kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	if (timed_out)
	{
		explicit_bzero(buf, BT_MAX_KEY_SOURCE);
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("biotoken.key_command did not finish within %d s",
						bt_key_command_timeout),
				 errhint("Check the command and the service it asks, or raise biotoken.key_command_timeout.")));
	}
	if (total >= BT_MAX_KEY_SOURCE)
	{
		explicit_bzero(buf, BT_MAX_KEY_SOURCE);
		ereport(FATAL,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("output of biotoken.key_command is too large")));
	}
	if (status != 0)
	{
		explicit_bzero(buf, BT_MAX_KEY_SOURCE);
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("biotoken.key_command failed"),
				 errdetail("The command %s.", wait_result_to_str(status))));
	}
	*len = total;
	return buf;
}

/*
 * Create a key file with one fresh random key in the data directory.
 * Returns false if the file already exists.
 */
static bool
generate_key_file(const char *path)
{
	uint8		key[BT_KEY_BYTES];
	uint16		rid;
	char		line[128];
	const char *header =
		"# biotoken keys: one per line, \"<key id> <64 hex digits>\".\n"
		"# Generated by the server on first start.  Back this file up and\n"
		"# move it out of the data directory (see biotoken.key_file).\n";
	int			fd;
	int			len;
	int			i;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		if (errno == EEXIST)
			return false;
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not create biotoken key file \"%s\": %m", path)));
	}

	if (bt_crypto_random(key, sizeof(key)) != BT_CRYPTO_OK)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random biotoken key")));
	/*
	 * A random key id (1024..32767), so that two servers that each
	 * generated a key do not both call theirs 1: templates or a log moved
	 * between them then fail with "key id N is not loaded" instead of
	 * silently not matching.  Ids above are left for rotated keys.
	 */
	if (bt_crypto_random((uint8 *) &rid, sizeof(rid)) != BT_CRYPTO_OK)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random biotoken key")));
	len = snprintf(line, sizeof(line), "%d ", 1024 + (int) (rid % (32768 - 1024)));
	for (i = 0; i < BT_KEY_BYTES; i++)
		len += snprintf(line + len, sizeof(line) - len, "%02x", key[i]);
	line[len++] = '\n';
	explicit_bzero(key, sizeof(key));

	if (write(fd, header, strlen(header)) != (ssize_t) strlen(header) ||
		write(fd, line, len) != len ||
		pg_fsync(fd) != 0)
	{
		explicit_bzero(line, sizeof(line));
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("could not write biotoken key file \"%s\": %m", path)));
	}
	explicit_bzero(line, sizeof(line));
	close(fd);
	return true;
}

/*
 * bt_keys_load
 *		Load the keys from the configured source.  Called by the postmaster
 *		from _PG_init; throws FATAL on any problem, so a server with a bad
 *		key source does not start.
 */
void
bt_keys_load(void)
{
	char	   *buf;
	size_t		len;
	char		source[MAXPGPATH + 32];

	keys_cxt = AllocSetContextCreate(TopMemoryContext,
									 "biotoken keys",
									 ALLOCSET_SMALL_SIZES);
	keys = alloc_key_memory();
	nkeys = 0;
	/* wiped by every process at exit(), also one that never used them */
	atexit(wipe_keys_atexit);

	if (bt_key_file && bt_key_file[0] && bt_key_command && bt_key_command[0])
		ereport(FATAL,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("biotoken.key_file and biotoken.key_command cannot both be set"),
				 errhint("Set only one of them.")));

	if (bt_key_command && bt_key_command[0])
	{
		buf = run_key_command(bt_key_command, &len);
		snprintf(source, sizeof(source), "the output of biotoken.key_command");
	}
	else if (bt_key_file && bt_key_file[0])
	{
		buf = read_key_file(bt_key_file, &len);
		snprintf(source, sizeof(source), "biotoken key file \"%s\"", bt_key_file);
	}
	else
	{
		/* the postmaster's working directory is the data directory */
		if (generate_key_file(BT_GENERATED_KEY_FILE))
			ereport(WARNING,
					(errmsg("biotoken generated a new key file \"%s/%s\"",
							DataDir, BT_GENERATED_KEY_FILE),
					 errdetail("Templates and the access log can only be used with this key."),
					 errhint("Back the file up now, move it out of the data directory and set biotoken.key_file to its new place.")));
		else
			ereport(WARNING,
					(errmsg("biotoken is using the key file \"%s/%s\" in the data directory",
							DataDir, BT_GENERATED_KEY_FILE),
					 errhint("Move the key file out of the data directory and set biotoken.key_file to its new place.")));
		buf = read_key_file(BT_GENERATED_KEY_FILE, &len);
		snprintf(source, sizeof(source), "biotoken key file \"%s\"",
				 BT_GENERATED_KEY_FILE);
	}

	parse_keys(buf, len, source);
	explicit_bzero(buf, BT_MAX_KEY_SOURCE);
	pfree(buf);

	ereport(LOG,
			(errmsg("biotoken loaded %d key%s, newest key id %d",
					nkeys, nkeys == 1 ? "" : "s", keys[nkeys - 1].key_id)));
}

/*
 * bt_keys_get
 *		The sub-keys of key_id, or NULL if no such key is loaded.
 */
const BtKey *
bt_keys_get(int key_id)
{
	int			lo = 0;
	int			hi = nkeys - 1;

	ensure_wipe_on_exit();
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (keys[mid].key_id == key_id)
			return &keys[mid];
		if (keys[mid].key_id < key_id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/*
 * bt_keys_newest
 *		The key new templates use: the highest key id.  NULL if none loaded.
 */
const BtKey *
bt_keys_newest(void)
{
	ensure_wipe_on_exit();
	return nkeys > 0 ? &keys[nkeys - 1] : NULL;
}

int
bt_keys_count(void)
{
	return nkeys;
}
