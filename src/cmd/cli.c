/* lxcfs: the command.  Without --restart-on-crash it becomes the one-process daemon (the worker
 * binary in standalone mode), as upstream lxcfs is; with it, it becomes the keeper. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/pidfile.h"
#include "reinit/keeper/keeper.h"
#include "reinit/proto.h"
#include "lib/selfpath.h"
#include "version.h"

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); /* EPERM: it is, and not ours */
}

/* The running keeper of this pidfile and its last report (in *b).  0; or, said on stderr, 3: not
 * running, 4: running, but no report can be read. */
static int find_keeper(const struct options *o, struct buf *b, pid_t *keeper)
{
	char path[PATH_MAX + 16], pidpath[PATH_MAX];
	options_statusfile(o, path, sizeof(path));
	options_pidfile(o, pidpath, sizeof(pidpath));
	pid_t holder = pidfile_holder(pidpath);
	int r = file_read(path, b);
	const char *s = r == 0 ? buf_cstr(b) : NULL;
	const char *k = s ? strstr(s, "keeper_pid: ") : NULL;
	int pid = k ? atoi(k + 12) : 0;
	int rc = 0;
	if (r < 0 && holder > 0)
		log_cmdline_error("running (pid %d holds %s), but its status at %s cannot be read: %s",
			(int)holder, pidpath, path, strerror(-r)), rc = 4;
	else if (r == -EACCES)
		log_cmdline_error("cannot read the status at %s: permission denied (it is root's)", path), rc = 4;
	else if (r < 0)
		log_cmdline_error("no status at %s (not running with --restart-on-crash?)", path), rc = 3;
	else if (pid <= 0 && holder > 0)
		log_cmdline_error("running (pid %d holds %s), but its status at %s is unreadable (damaged)",
			(int)holder, pidpath, path), rc = 4;
	else if (pid <= 0 || !alive(pid) || (holder >= 0 && holder != pid))
		log_cmdline_error("not running (the status at %s is stale)", path), rc = 3;
	*keeper = pid;
	return rc;
}

/* A field of a keeper's report ("" if absent), into dst; not the first line's (keeper_pid). */
static void report_field(struct buf *b, const char *name, char *dst, size_t size)
{
	char key[64];
	snprintf(key, sizeof(key), "\n%s: ", name);
	const char *f = strstr(buf_cstr(b), key);
	size_t n = 0;
	if (f) {
		f += strlen(key);
		n = strcspn(f, "\n");
	}
	snprintf(dst, size, "%.*s", (int)n, f ? f : "");
}

/* Prints what the keeper last wrote, if that keeper still runs.  Exit 0: the report; 3: not
 * running; 4: running, but no report can be read (said why). */
static int print_status(const struct options *o)
{
	char path[PATH_MAX + 16];
	options_statusfile(o, path, sizeof(path));
	struct buf b = BUF_INIT;
	pid_t pid;
	int rc = find_keeper(o, &b, &pid);
	if (rc) {
		buf_free(&b);
		return rc;
	}
	/* The keeper rewrites the file when asked (SIGHUP), so the counts are of this moment; an
	 * older keeper that ignores the request, or a caller who may not signal it, still gets
	 * its last report. */
	struct stat before, now;
	if (stat(path, &before) == 0 && kill(pid, SIGHUP) == 0) {
		for (int i = 0; i < 100; i++) {
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
			if (stat(path, &now) == 0 && now.st_ino != before.st_ino) {
				struct buf fresh = BUF_INIT;
				if (file_read(path, &fresh) == 0) {
					buf_free(&b);
					b = fresh;
				} else {
					buf_free(&fresh);
				}
				break;
			}
		}
	}
	fputs(buf_cstr(&b), stdout);
	buf_free(&b);
	return 0;
}

/* lxcfs --reinit: the reinit tier on the operator's word.  The keeper re-executes the binaries on
 * disk and its next worker resets the connection (FUSE_DEV_IOC_REINIT + BM_REVAL); we wait for
 * its report of the outcome.  0: done; 1: refused or failed (said why); 2: another mountpoint;
 * 3 and 4 as --status. */
static int request_reinit(const struct options *o)
{
	struct buf b = BUF_INIT;
	pid_t pid;
	int rc = find_keeper(o, &b, &pid);
	char mnt[PATH_MAX], recovery[128], before[256];
	report_field(&b, "mountpoint", mnt, sizeof(mnt));
	report_field(&b, "recovery", recovery, sizeof(recovery));
	report_field(&b, "last_upgrade", before, sizeof(before));
	buf_free(&b);
	if (rc)
		return rc;
	char want[PATH_MAX], have[PATH_MAX];
	if (o->mountpoint && (!realpath(o->mountpoint, want) || !realpath(mnt, have) || strcmp(want, have) != 0)) {
		log_cmdline_error("the keeper %d serves %s, not %s (give its -p or --runtime-dir)", (int)pid,
			mnt, o->mountpoint);
		return 2;
	}
	if (!strstr(recovery, "reinit=yes")) {
		log_cmdline_error("this kernel has no FUSE_DEV_IOC_REINIT (the keeper says: %s); nothing "
			"changed. SIGUSR1 to the keeper (%d) upgrades by resuming", recovery, (int)pid);
		return 1;
	}
	if (sigqueue(pid, SIGUSR1, (union sigval){ .sival_int = KEEPER_REINIT_REQUEST }) < 0) {
		log_cmdline_error("cannot signal the keeper %d: %s", (int)pid, strerror(errno));
		return 1;
	}
	/* Its report names each upgrade once its worker is ready, or why it was refused. */
	const char *w = getenv("LXCFS_REINIT_WAIT");
	int secs = w && atoi(w) > 0 ? atoi(w) : 60;
	char path[PATH_MAX + 16], now[256] = "";
	options_statusfile(o, path, sizeof(path));
	for (int i = 0; i < secs * 50; i++) {
		nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
		struct buf fresh = BUF_INIT;
		if (file_read(path, &fresh) == 0)
			report_field(&fresh, "last_upgrade", now, sizeof(now));
		buf_free(&fresh);
		if (now[0] && strcmp(now, before) != 0 && strcmp(now, "none") != 0)
			break;
		now[0] = '\0';
	}
	if (!now[0]) {
		log_cmdline_error("no outcome from the keeper %d within %d s (see its log)", (int)pid, secs);
		return 1;
	}
	size_t n = strlen(now), t = strlen(" through reinit");
	bool done = n > t && strcmp(now + n - t, " through reinit") == 0;
	fprintf(done ? stdout : stderr, "%s%s\n", done ? "" : "lxcfs: ", now);
	return done ? 0 : 1;
}

static void exec_standalone(char **argv)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	self_path(self, sizeof(self));
	worker_binary(self, path, sizeof(path));
	int argc = 0;
	while (argv[argc])
		argc++;
	char **av = calloc((size_t)argc + 2, sizeof(char *));
	av[0] = argv[0];
	av[1] = MODE_STANDALONE;
	for (int i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	execv(path, av);
	log_error("cannot run %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *resume = NULL;
	if (argc >= 3 && strcmp(argv[1], MODE_KEEPER_RESUME) == 0) {
		/* An upgrading keeper re-executed us: same arguments after the hand-over socket. */
		resume = argv[2];
		argv[2] = argv[0];
		argv += 2;
		argc -= 2;
	}
	struct options opt;
	int pr = options_parse(&opt, argc, argv);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	if (opt.status)
		return print_status(&opt);
	if (opt.reinit)
		return request_reinit(&opt);
	if (geteuid() != 0) {
		log_error("lxcfs must run as root (it mounts a filesystem and reads every container's cgroups)");
		return 1;
	}
	if (opt.rebind || opt.release) {
		char self[PATH_MAX], path[PATH_MAX + 32];
		self_path(self, sizeof(self));
		worker_binary(self, path, sizeof(path));
		/* the worker parses the same command line; --rebind first, which is how it knows */
		char **args = calloc((size_t)argc + 2, sizeof(*args));
		if (!args)
			return 1;
		args[0] = WORKER_NAME;
		args[1] = MODE_REBIND;
		memcpy(args + 2, argv + 1, (size_t)(argc - 1) * sizeof(*args));
		execv(path, args);
		log_error("cannot run %s: %s", path, strerror(errno));
		free(args);
		return 1;
	}
	if (!opt.restart_on_crash && !opt.replace) {
		exec_standalone(argv);
		return 1;
	}
	return keeper_main(&opt, argc, argv, resume);
}
