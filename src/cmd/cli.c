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

#include "lib/buf.h"
#include "lib/child.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/pidfile.h"
#include "lib/selfpath.h"
#include "reinit/keeper/keeper.h"
#include "reinit/proto.h"
#include "reinit/status.h"
#include "version.h"

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); /* EPERM: it is, and not ours */
}

/* The running keeper of this pidfile and its last report (in *rec).  0; or, said on stderr, 3: not
 * running, 4: running, but no report can be read. */
static int find_keeper(const struct options *o, struct status_rec *rec)
{
	char path[PATH_MAX + 16], pidpath[PATH_MAX];
	options_statusfile(o, path, sizeof(path));
	options_pidfile(o, pidpath, sizeof(pidpath));
	pid_t holder = pidfile_holder(pidpath);
	struct buf b = BUF_INIT;
	int r = file_read(path, &b);
	bool sound = r == 0 && buf_cstr(&b) && status_read(buf_cstr(&b), rec) == 0 && rec->keeper_pid > 0;
	buf_free(&b);
	pid_t pid = sound ? rec->keeper_pid : 0;
	if (r < 0 && holder > 0)
		return log_cmdline_error("running (pid %d holds %s), but its status at %s cannot be read: %s",
			(int)holder, pidpath, path, strerror(-r)), 4;
	if (r == -EACCES)
		return log_cmdline_error("cannot read the status at %s: permission denied (it is root's)", path), 4;
	if (r < 0)
		return log_cmdline_error("no status at %s (not running with --restart-on-crash?)", path), 3;
	if (!sound && holder > 0)
		return log_cmdline_error("running (pid %d holds %s), but its status at %s is unreadable (damaged)",
			(int)holder, pidpath, path), 4;
	if (!sound || !alive(pid) || (holder >= 0 && holder != pid))
		return log_cmdline_error("not running (the status at %s is stale)", path), 3;
	return 0;
}

struct report_wait {
	const char *path;
	struct stat before;
	struct status_rec *rec;
	const char *last_upgrade; /* wait for another last_upgrade than this; NULL: for a new file */
};

/* Whether the keeper wrote a new report (it replaces the file): then it is in *rec. */
static bool new_report(void *arg)
{
	struct report_wait *w = arg;
	struct stat now;
	if (stat(w->path, &now) < 0 || now.st_ino == w->before.st_ino)
		return false;
	struct buf b = BUF_INIT;
	struct status_rec fresh;
	bool ok = file_read(w->path, &b) == 0 && buf_cstr(&b) && status_read(buf_cstr(&b), &fresh) == 0;
	buf_free(&b);
	if (!ok)
		return false;
	w->before = now;
	if (w->last_upgrade && (strcmp(fresh.last_upgrade, w->last_upgrade) == 0 ||
				strcmp(fresh.last_upgrade, "none") == 0))
		return false;
	*w->rec = fresh;
	return true;
}

/* Prints what the keeper last wrote, if that keeper still runs.  Exit 0: the report; 3: not
 * running; 4: running, but no report can be read (said why). */
static int print_status(const struct options *o)
{
	struct status_rec rec;
	int rc = find_keeper(o, &rec);
	if (rc)
		return rc;
	/* The keeper rewrites the file when asked (SIGHUP), so the counts are of this moment; an
	 * older keeper that ignores the request, or a caller who may not signal it, still gets
	 * its last report. */
	char path[PATH_MAX + 16];
	options_statusfile(o, path, sizeof(path));
	struct report_wait w = { .path = path, .rec = &rec };
	if (stat(path, &w.before) == 0 && kill(rec.keeper_pid, SIGHUP) == 0)
		wait_until(new_report, &w, 1000, 10);
	return status_print(stdout, &rec) == 0 ? 0 : 1;
}

/* lxcfs --reinit: the reinit tier on the operator's word.  The keeper re-executes the binaries on
 * disk and its next worker resets the connection (FUSE_DEV_IOC_REINIT + BM_REVAL); we wait for
 * its report of the outcome.  0: done; 1: refused or failed (said why); 2: another mountpoint;
 * 3 and 4 as --status. */
static int request_reinit(const struct options *o)
{
	struct status_rec rec;
	int rc = find_keeper(o, &rec);
	if (rc)
		return rc;
	pid_t pid = rec.keeper_pid;
	char want[PATH_MAX], have[PATH_MAX];
	if (o->mountpoint && (!realpath(o->mountpoint, want) || !realpath(rec.mountpoint, have) || strcmp(want, have) != 0)) {
		log_cmdline_error("the keeper %d serves %s, not %s (give its -p or --runtime-dir)", (int)pid,
			rec.mountpoint, o->mountpoint);
		return 2;
	}
	if (!rec.reinit) {
		log_cmdline_error("this kernel has no FUSE_DEV_IOC_REINIT (the keeper says: resume=yes journal=yes "
			"resend=%s reinit=no); nothing changed. SIGUSR1 to the keeper (%d) upgrades by resuming",
			rec.resend ? "yes" : "no", (int)pid);
		return 1;
	}
	char path[PATH_MAX + 16], before[sizeof(rec.last_upgrade)];
	options_statusfile(o, path, sizeof(path));
	snprintf(before, sizeof(before), "%s", rec.last_upgrade);
	struct report_wait w = { .path = path, .rec = &rec, .last_upgrade = before };
	stat(path, &w.before);
	if (sigqueue(pid, SIGUSR1, (union sigval){ .sival_int = KEEPER_REINIT_REQUEST }) < 0) {
		log_cmdline_error("cannot signal the keeper %d: %s", (int)pid, strerror(errno));
		return 1;
	}
	/* Its report names each upgrade once its worker is ready, or why it was refused. */
	const char *e = getenv("LXCFS_REINIT_WAIT");
	int secs = e && atoi(e) > 0 ? atoi(e) : 60;
	if (!wait_until(new_report, &w, secs * 1000, 20)) {
		log_cmdline_error("no outcome from the keeper %d within %d s (see its log)", (int)pid, secs);
		return 1;
	}
	const char *now = rec.last_upgrade;
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
