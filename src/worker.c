/* lxcfs-worker: the FUSE server.
 *   lxcfs-worker --standalone [lxcfs options] MOUNTPOINT
 *       one process mounts and serves, as upstream lxcfs does (what `lxcfs` runs without
 *       --restart-on-crash)
 *   lxcfs-worker --serve FUSEFD,STATEFD,CTLFD,GEN [lxcfs options] MOUNTPOINT
 *       serves the keeper's connection; takes over from a predecessor through the state
 *   lxcfs-worker --serve-reinit FUSEFD,STATEFD,CTLFD,GEN [lxcfs options] MOUNTPOINT
 *       same on a fresh state, resetting the connection through the kernel series
 *       (FUSE_DEV_IOC_REINIT, then FUSE_DEV_IOC_BM_REVAL for the bind mounts)
 *   lxcfs-worker --check-state STATEFD
 *       the upgrade probe: can this binary take over that state?  exit 0 or say why not
 *   lxcfs-worker --rebind [--dead-dev MAJ:MIN]... [--orphans] MOUNTPOINT
 *       the rebind tier: heal dead lxcfs bind mounts in every mount namespace from MOUNTPOINT */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "container.h"
#include "cputree.h"
#include "fault.h"
#include "fdcache.h"
#include "loadavg.h"
#include "log.h"
#include "mount.h"
#include "openfile.h"
#include "ops.h"
#include "options.h"
#include "pidfile.h"
#include "selfpath.h"
#include "reinit/claim.h"
#include "reinit/ctl.h"
#include "reinit/history.h"
#include "reinit/holders.h"
#include "reinit/rebind.h"
#include "reinit/reinit.h"
#include "reinit/state.h"
#include "serve.h"
#include "version.h"
#include "vsize.h"
#include "worker.h"

static const struct hostroot host = { .proc = "/proc", .cpu = "/sys/devices/system/cpu" };
static struct cg_layout layout;
static struct ops_ctx octx;
static struct fuse_session *se;
static struct state st;

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* What the caches may hold open, from the fd limit: the kept cgroup and proc files, and one
 * namespace fd per cached container.  The rest is kept back for what is not a cache (the fuse
 * and state fds, libfuse, BPF maps and links, helper pipes, the opens of uncached reads). */
static void cache_budgets(unsigned *files, unsigned *containers)
{
	struct rlimit rl;
	unsigned long lim = 16384;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim)
		lim = (unsigned long)rl.rlim_cur;
	unsigned long spare = lim > 256 ? lim - 128 : lim / 2;
	*containers = (unsigned)(spare / 4 < 16 ? 16 : spare / 4 > 4096 ? 4096 : spare / 4);
	unsigned long f = spare > *containers ? spare - *containers : 64;
	*files = (unsigned)(f < 64 ? 64 : f > 4096 ? 4096 : f);
	if (lim < 16384)
		log_info("fd limit %lu: at most %u cgroup and proc files and %u containers cached", lim, *files,
			 *containers);
}

static int thread_count(const struct options *o)
{
	if (o->threads > 0)
		return o->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2 : n > 8 ? 8 : (int)n;
}

static enum recovery recovery_mode(void)
{
	const char *m = getenv("LXCFS_RECOVERY"); /* tests choose the path they exercise */
	if (m && strcmp(m, "journal") == 0)
		return RECOVER_JOURNAL;
	if (m && strcmp(m, "resend") == 0)
		return RECOVER_RESEND;
	return RECOVER_BOTH;
}

static int connection_gone;

static void end_of_connection(void)
{
	/* The connection is gone (unmounted, aborted): nothing left to serve. */
	connection_gone = 1;
	kill(getpid(), SIGTERM);
}

/* Everything a serving process needs, in the order the request path uses it. */
static int setup(const struct options *opt, bool quiet_layout, uint64_t gen)
{
	raise_nofile();
	if (cg_layout_discover(&layout) < 0)
		log_warn("cannot read the cgroup layout; every file shows host values");
	for (int c = 0; c < CG_N && !quiet_layout; c++)
		log_info("cgroup %s: %s%s", cg_ctrl_name(c), layout.ctrl[c].mnt ? (layout.ctrl[c].v2 ? "v2 at " : "v1 at ") : "",
			 layout.ctrl[c].mnt ? layout.ctrl[c].mnt : "not available, host values shown");
	if (containers_init(&layout) < 0) {
		log_error("cannot read our own pid namespace");
		return -1;
	}
	cputree_init(host.cpu);
	unsigned files, containers;
	cache_budgets(&files, &containers);
	fdcache_init(files);
	containers_set_max(containers);
	if (opt->loadavg && (loadavg_init(host.proc, history_fd_from_env()) < 0 || loadavg_start() < 0))
		log_warn("cannot start the load average engine; loadavg shows the host's");
	openfile_init(&st, gen);
	vsize_init(&st);
	octx = (struct ops_ctx){ .opt = opt, .host = &host };
	char *fargv[] = { "lxcfs", opt->debug ? "-d" : NULL, NULL };
	struct fuse_args fargs = FUSE_ARGS_INIT(opt->debug ? 2 : 1, fargv);
	se = fuse_session_new(&fargs, &lxcfs_ops, sizeof(lxcfs_ops), &octx);
	fuse_opt_free_args(&fargs);
	if (!se) {
		log_error("cannot create the fuse session");
		return -1;
	}
	octx.se = se;
	vsize_prime(&host, opt);
	snprintf(st.hdr->worker_version, sizeof(st.hdr->worker_version), "%s", LXCFS_VERSION);
	return 0;
}

static void teardown(void)
{
	if (se)
		fuse_session_destroy(se); /* closes our copy of the fuse fd */
	se = NULL;
	loadavg_fini();
	openfile_fini();
	fdcache_fini();
	cputree_fini();
	containers_fini();
	cg_layout_free(&layout);
}

static sigset_t blocked_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGPIPE);
	sigaddset(&s, SIGCHLD);
	return s;
}

static int standalone(struct options *opt)
{
	char pidpath[PATH_MAX];
	options_pidfile(opt, pidpath, sizeof(pidpath));
	int pidfd = pidfile_acquire(pidpath);
	if (pidfd < 0)
		return 1;
	warn_request_timeout(NULL);
	sigset_t sigs = blocked_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	int rc = 1, fd = -1;
	if (state_create(&st) < 0 || state_attach(&st, st.fd, &(const char *){ NULL }) < 0) {
		log_error("cannot create the state");
		goto out;
	}
	st.hdr->generation = 1; /* the only one */
	if (setup(opt, false, 1) < 0)
		goto out;
	dev_t replaced;
	if (take_over_mountpoint(opt->mountpoint, &replaced, false) < 0)
		goto out;
	fd = fuse_mount_fd(opt->mountpoint, opt->fuse_opts, opt->mount_flags);
	if (fd < 0)
		goto out;
	claim_record(CLAIM_DIR, opt->mountpoint);
	if (serve_attach(se, fd, &st, 1) < 0 || serve_start(thread_count(opt), end_of_connection) < 0) {
		log_error("cannot serve the fuse connection");
		close(fd);
		fuse_unmount(opt->mountpoint);
		goto out;
	}
	log_info("lxcfs %s serving %s with %d request threads (pid %d)", LXCFS_VERSION, opt->mountpoint,
		 thread_count(opt), (int)getpid());
	char self[PATH_MAX];
	self_path(self, sizeof(self));
	pid_t rebinder = rebind_start(self, opt->mountpoint, replaced);
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGCHLD) {
			int status;
			if (rebinder > 0 && waitpid(rebinder, &status, WNOHANG) == rebinder) {
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					log_warn("the rebind tier did not heal everything (status %d); see above", status);
				rebinder = 0;
			}
		}
		if (sig == SIGUSR1)
			log_warn("reload (SIGUSR1) needs --restart-on-crash; ignored");
	}
	log_info("shutting down");
	if (rebinder > 0) {
		kill(rebinder, SIGKILL);
		waitpid(rebinder, NULL, 0);
	}
	fuse_unmount(opt->mountpoint);
	serve_stop();
	rc = 0;
out:
	teardown();
	state_detach(&st);
	if (st.fd >= 0)
		close(st.fd);
	pidfile_release(pidpath, pidfd);
	return rc;
}

static int parse_fds(const char *s, long *v, int n)
{
	for (int i = 0; i < n; i++) {
		char *end;
		v[i] = strtol(s, &end, 10);
		if (end == s || v[i] < 0 || (i < n - 1 && *end != ',') || (i == n - 1 && *end))
			return -1;
		s = end + 1;
	}
	return 0;
}

/* The reinit tier: reset the connection, answer the new INIT, revalidate the bind mounts. */
static int reinit_now(int fd, uint64_t gen)
{
	pid_t keep[] = { getppid() }; /* our keeper holds it, and reads nothing */
	int ended = holders_end_readers(fd, keep, 1);
	if (ended < 0)
		log_warn("cannot tell who else reads the connection (%s): resetting it all the same",
			 strerror(-ended));
	int r = reinit_connection(fd);
	if (r < 0) {
		log_error("FUSE_DEV_IOC_REINIT failed: %s", strerror(-r));
		return -1;
	}
	for (int i = 0; i < 10000 && !initrec_complete(&st.hdr->init); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	if (!initrec_complete(&st.hdr->init)) {
		log_error("no new FUSE_INIT after FUSE_DEV_IOC_REINIT");
		return -1;
	}
	fault_point("reinit");
	r = reinit_revalidate_binds(fd);
	if (r < 0)
		log_warn("reinit: some bind mounts could not be revalidated (%s); they fail with EIO", strerror(-r));
	log_info("generation %llu reinitialized the connection%s", (unsigned long long)gen,
		 r < 0 ? "" : " and revalidated every bind mount");
	return 0;
}

static void wait_for_init(void)
{
	for (int i = 0; i < 5000 && !initrec_complete(&st.hdr->init); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	if (!initrec_complete(&st.hdr->init))
		log_warn("no FUSE_INIT from the kernel within 5 s of the mount; ready anyway");
}

/* Whether the connection of fd is still mounted in our namespace: a worker whose keeper died
 * serves on for the next start only while it is.  Incus stops an instance by killing the pid it
 * started (the keeper) and detaching the mount: a copy kept in another namespace (one made with
 * private propagation) would keep us serving for nobody's start.  Where the kernel cannot name
 * the connection, any lxcfs at our mountpoint will do. */
static bool still_mounted(int fd, const char *mountpoint)
{
	dev_t dev;
	char path[PATH_MAX];
	if (fuse_fd_device(0, fd, &dev) == 0)
		return lxcfs_dev_mounted(dev);
	return mount_canonical(mountpoint, path, sizeof(path)) < 0 || lxcfs_mount_at(path, &dev) == 0;
}

static int serve_for_keeper(const char *spec, struct options *opt, bool reinit)
{
	long v[4];
	if (parse_fds(spec, v, 4) < 0) {
		log_error("bad --serve argument '%s'", spec);
		return WORKER_EXIT_CANNOT;
	}
	int fd = (int)v[0], ctl = (int)v[2];
	uint64_t gen = (uint64_t)v[3];
	log_set_prefix("lxcfs-worker");
	const char *why;
	if (state_attach(&st, (int)v[1], &why) < 0) {
		log_error("cannot take over: %s", why);
		return WORKER_EXIT_UNRESUMABLE;
	}
	sigset_t sigs = blocked_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (setup(opt, true, gen) < 0 || serve_attach(se, fd, &st, gen) < 0)
		return WORKER_EXIT_CANNOT;
	unsigned lost = reinit ? 0 : serve_check_journal();
	int r = reinit ? 0 : serve_replay_init();
	if (r < 0) {
		log_error("cannot take over: this binary would negotiate another connection than the kernel has");
		return WORKER_EXIT_UNRESUMABLE;
	}
	if (lost && !(st.hdr->features & STATE_FEAT_RESEND)) {
		log_error("cannot take over: %u request(s) were lost with a damaged journal, and this kernel "
			  "cannot resend them", lost);
		return WORKER_EXIT_LOST;
	}
	if (serve_start(thread_count(opt), end_of_connection) < 0)
		return WORKER_EXIT_CANNOT;
	if (reinit && reinit_now(fd, gen) < 0)
		return WORKER_EXIT_CANNOT;
	if (!reinit && r == 0)
		wait_for_init(); /* a new connection: ready once its INIT is on record for a successor */
	log_info("lxcfs %s generation %llu serving %s (%s)", LXCFS_VERSION, (unsigned long long)gen, opt->mountpoint,
		 reinit ? "reinitialized connection" : r ? "took over the connection" : "new connection");
	ctl_send(ctl, CTL_READY, st.hdr->features);

	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	/* p[2]: our namespace's mount table, watched once the keeper is gone */
	struct pollfd p[3] = { { .fd = ctl, .events = POLLIN }, { .fd = sfd, .events = POLLIN }, { .fd = -1 } };
	enum recovery how = recovery_mode();
	bool handed_over = false;
	for (;;) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT))
				break;
		}
		if ((p[2].revents & (POLLPRI | POLLERR)) && !still_mounted(fd, opt->mountpoint)) {
			log_info("the keeper is gone and our mount is not in its namespace any more (a stop: "
				 "the keeper killed, the mount detached): stopping");
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			struct ctl_msg m;
			int cr = ctl_recv(ctl, &m);
			if (cr == -EPIPE) {
				/* Our keeper is gone; we hold the connection now: keep serving, for the
				 * next start to take over, as long as it is mounted in our namespace. */
				p[0].fd = -1;
				if (handed_over) {
					log_info("the keeper left us to the next start; serving on meanwhile");
					continue;
				}
				log_error("the keeper is gone; serving on without it");
				p[2].fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
				p[2].events = POLLPRI; /* a change of the table (POLLIN is always set) */
				if (!still_mounted(fd, opt->mountpoint)) {
					log_info("... but our mount is not in its namespace any more: stopping");
					break;
				}
				continue;
			}
			if (cr < 0)
				continue;
			if (m.type == CTL_HANDOVER)
				handed_over = true;
			else if (m.type == CTL_RECOVER)
				serve_recover(m.arg, how);
			else if (m.type == CTL_STOP)
				break;
		}
	}
	if (p[2].fd >= 0)
		close(p[2].fd);
	serve_stop();
	log_info("generation %llu stops", (unsigned long long)gen);
	teardown();
	close(sfd);
	return connection_gone ? WORKER_EXIT_GONE : 0;
}

static int check_state(const char *arg)
{
	char *end;
	long fd = strtol(arg, &end, 10);
	const char *why = NULL;
	if (*end || fd < 0) {
		fprintf(stderr, "bad state fd '%s'\n", arg);
		return 1;
	}
	if (state_attach(&st, (int)fd, &why) < 0) {
		fprintf(stderr, "%s (this binary: lxcfs %s, state format %d)\n", why, LXCFS_VERSION,
			LXCFS_STATE_VERSION);
		return 1;
	}
	/* Replay the recorded INIT into a session of ours: our answer must be the one the kernel
	 * got, or we would serve a connection negotiated differently. */
	struct state_hdr *h = st.hdr;
	struct state scratch = { .fd = -1 };
	static struct state_hdr copy;
	copy = *h;
	scratch.hdr = &copy;
	static struct options o;
	char *fargv[] = { "lxcfs", NULL };
	struct fuse_args fargs = FUSE_ARGS_INIT(1, fargv);
	struct ops_ctx c = { .opt = &o, .host = &host };
	struct fuse_session *s = fuse_session_new(&fargs, &lxcfs_ops, sizeof(lxcfs_ops), &c);
	fuse_opt_free_args(&fargs);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int r = s && devnull >= 0 && serve_attach(s, devnull, &scratch, 0) == 0 ? serve_replay_init() : -EIO;
	if (s)
		fuse_session_destroy(s);
	state_detach(&st);
	if (r < 0) {
		fprintf(stderr, "lxcfs %s would negotiate another fuse connection than the running one\n",
			LXCFS_VERSION);
		return 1;
	}
	return 0;
}

static int rebind_main(int argc, char **argv)
{
	log_set_prefix("lxcfs-rebind");
	struct options opt;
	int pr = options_parse(&opt, argc, argv);
	if (pr != 0 || !opt.rebind) {
		fprintf(stderr, "usage: lxcfs --rebind [--dead-dev MAJ:MIN]... [--live-dev MAJ:MIN] [--orphans] MOUNTPOINT\n"
				"       lxcfs --release MOUNTPOINT\n");
		return 2;
	}
	options_free(&opt);
	struct rebind_req req = { .devs = opt.dead_devs, .ndevs = opt.ndead_devs, .orphans = opt.orphans,
				  .claim_dir = CLAIM_DIR, .live = opt.live_dev, .release = opt.release };
	/* what the pass did to each mount it took, for the summary */
	const char *done = opt.release ? "released" : opt.live_dev ? "moved or healed" : "healed";
	const char *what = opt.release ? "" : opt.live_dev ? "" : "dead ";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct rebind_stats s;
	if (rebind_all(opt.mountpoint, &req, &s) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	char unvisited[96] = "";
	if (s.unvisited)
		snprintf(unvisited, sizeof(unvisited), "; %u namespace(s) with only other live instances' mounts not "
			 "entered", s.unvisited);
	if (s.healed || s.failed || s.left)
		log_info("rebind: %u %smount(s) %s in %u namespace(s), %u failed, %u left alone (%.1f ms%s)", s.healed,
			 what, done, s.namespaces, s.failed, s.left, ms, unvisited);
	else
		log_info("rebind: no %slxcfs mount to %s (%.1f ms%s)", what, opt.release ? "release" : "heal", ms,
			 unvisited);
	return s.failed ? REBIND_EXIT_PARTIAL : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "--check-state") == 0)
		return check_state(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "--rebind") == 0)
		return rebind_main(argc, argv);
	bool reinit = argc >= 3 && strcmp(argv[1], "--serve-reinit") == 0;
	bool keeper = reinit || (argc >= 3 && strcmp(argv[1], "--serve") == 0);
	if (!keeper && (argc < 2 || strcmp(argv[1], "--standalone") != 0)) {
		fprintf(stderr, "lxcfs-worker is started by lxcfs; run lxcfs instead\n");
		return 2;
	}
	const char *spec = keeper ? argv[2] : NULL;
	int skip = keeper ? 2 : 1;
	argv[skip] = argv[0];
	struct options opt;
	int pr = options_parse(&opt, argc - skip, argv + skip);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	log_set_debug(opt.debug);
	int rc = keeper ? serve_for_keeper(spec, &opt, reinit) : standalone(&opt);
	options_free(&opt);
	return rc;
}
