/* lxcfs: start-up, signals and shutdown of the one-process daemon. */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "cputree.h"
#include "fdcache.h"
#include "log.h"
#include "mount.h"
#include "openfile.h"
#include "ops.h"
#include "options.h"
#include "pidfile.h"
#include "serve.h"
#include "version.h"
#include "vsize.h"

static void end_of_connection(void)
{
	/* The mount went away under us (umount, abort): shut down like on SIGTERM. */
	kill(getpid(), SIGTERM);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int thread_count(const struct options *o)
{
	if (o->threads > 0)
		return o->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 2)
		n = 2;
	if (n > 8)
		n = 8;
	return (int)n;
}

static void log_layout(const struct cg_layout *l)
{
	for (int c = 0; c < CG_N; c++) {
		if (l->ctrl[c].mnt)
			log_info("cgroup %s: %s at %s", cg_ctrl_name(c), l->ctrl[c].v2 ? "v2" : "v1", l->ctrl[c].mnt);
		else
			log_info("cgroup %s: not available, its files show host values", cg_ctrl_name(c));
	}
}

int main(int argc, char **argv)
{
	struct options opt;
	int pr = options_parse(&opt, argc, argv);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	log_set_debug(opt.debug);
	if (opt.restart_on_crash) {
		log_error("--restart-on-crash is not implemented yet");
		options_free(&opt);
		return 1;
	}

	if (geteuid() != 0) {
		log_error("lxcfs must run as root (it mounts a filesystem and reads every container's cgroups)");
		return 1;
	}

	char pidpath[PATH_MAX];
	if (opt.pidfile)
		snprintf(pidpath, sizeof(pidpath), "%s", opt.pidfile);
	else
		snprintf(pidpath, sizeof(pidpath), "%s/lxcfs.pid", opt.runtime_dir);
	int pidfd = pidfile_acquire(pidpath);
	if (pidfd < 0)
		return 1;

	int rc = 1;
	raise_nofile();
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGUSR2);
	sigaddset(&sigs, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	struct cg_layout layout;
	if (cg_layout_discover(&layout) < 0)
		log_warn("cannot read the cgroup layout; every file shows host values");
	log_layout(&layout);
	static const struct hostroot host = { .proc = "/proc", .cpu = "/sys/devices/system/cpu" };
	struct ops_ctx octx = { .opt = &opt, .host = &host };
	if (containers_init(&layout) < 0) {
		log_error("cannot read our own pid namespace");
		goto out_layout;
	}
	cputree_init(host.cpu);
	fdcache_init(4096);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* Handle serials start from the clock: a later process never reissues an earlier one's. */
	openfile_init((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u);

	char *fargv[] = { argv[0], opt.debug ? "-d" : NULL, NULL };
	struct fuse_args fargs = FUSE_ARGS_INIT(opt.debug ? 2 : 1, fargv);
	struct fuse_session *se = fuse_session_new(&fargs, &lxcfs_ops, sizeof(lxcfs_ops), &octx);
	fuse_opt_free_args(&fargs);
	if (!se) {
		log_error("cannot create the fuse session");
		goto out_tables;
	}
	octx.se = se;
	vsize_prime(&host, &opt);
	int fd = fuse_mount_fd(opt.mountpoint, opt.fuse_opts, opt.mount_flags);
	if (fd < 0) {
		fuse_session_destroy(se);
		goto out_tables;
	}
	static struct initrec init;
	if (serve_attach(se, fd, &init) < 0) {
		log_error("cannot attach the fuse connection");
		close(fd);
		fuse_unmount(opt.mountpoint);
		fuse_session_destroy(se);
		goto out_tables;
	}
	int nthreads = thread_count(&opt);
	if (serve_start(nthreads, end_of_connection) < 0) {
		fuse_unmount(opt.mountpoint);
		fuse_session_destroy(se);
		goto out_tables;
	}
	log_info("lxcfs %s serving %s with %d request threads (pid %d)", LXCFS_VERSION, opt.mountpoint, nthreads,
		 (int)getpid());

	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGUSR1)
			log_warn("reload (SIGUSR1) needs --restart-on-crash; ignored");
	}
	log_info("shutting down");
	fuse_unmount(opt.mountpoint);
	serve_stop();
	fuse_session_destroy(se); /* closes fd: the connection ends with it */
	rc = 0;
out_tables:
	openfile_fini();
	fdcache_fini();
	cputree_fini();
	containers_fini();
out_layout:
	cg_layout_free(&layout);
	pidfile_release(pidpath, pidfd);
	options_free(&opt);
	return rc;
}
