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

#include "fileio.h"
#include "log.h"
#include "options.h"
#include "pidfile.h"
#include "reinit/keeper.h"
#include "selfpath.h"
#include "version.h"

static bool alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); /* EPERM: it is, and not ours */
}

/* Prints what the keeper last wrote, if that keeper still runs.  Exit 0: the report; 3: not
 * running; 4: running, but no report can be read (said why). */
static int print_status(const struct options *o)
{
	char path[PATH_MAX + 16], pidpath[PATH_MAX];
	options_statusfile(o, path, sizeof(path));
	options_pidfile(o, pidpath, sizeof(pidpath));
	pid_t holder = pidfile_holder(pidpath);
	struct buf b = BUF_INIT;
	int r = file_read(path, &b);
	const char *s = r == 0 ? buf_cstr(&b) : NULL;
	const char *k = s ? strstr(s, "keeper_pid: ") : NULL;
	int pid = k ? atoi(k + 12) : 0;
	int rc = 0;
	if (r < 0 && holder > 0)
		fprintf(stderr, "lxcfs: running (pid %d holds %s), but its status at %s cannot be read: %s\n",
			(int)holder, pidpath, path, strerror(-r)), rc = 4;
	else if (r == -EACCES)
		fprintf(stderr, "lxcfs: cannot read the status at %s: permission denied (it is root's)\n", path), rc = 4;
	else if (r < 0)
		fprintf(stderr, "lxcfs: no status at %s (not running with --restart-on-crash?)\n", path), rc = 3;
	else if (pid <= 0 && holder > 0)
		fprintf(stderr, "lxcfs: running (pid %d holds %s), but its status at %s is unreadable (damaged)\n",
			(int)holder, pidpath, path), rc = 4;
	else if (pid <= 0 || !alive(pid) || (holder >= 0 && holder != pid))
		fprintf(stderr, "lxcfs: not running (the status at %s is stale)\n", path), rc = 3;
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
	av[1] = "--standalone";
	for (int i = 1; i < argc; i++)
		av[i + 1] = argv[i];
	execv(path, av);
	log_error("cannot run %s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
	const char *resume = NULL;
	if (argc >= 3 && strcmp(argv[1], "--keeper-resume") == 0) {
		/* An upgrading keeper re-executed us: same arguments after the hand-over spec. */
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
		args[0] = "lxcfs-worker";
		args[1] = "--rebind";
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
