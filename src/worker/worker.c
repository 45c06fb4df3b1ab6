/* lxcfs-worker: the FUSE server.
 *   lxcfs-worker --standalone [lxcfs options] MOUNTPOINT
 *       one process mounts and serves, as upstream lxcfs does (what `lxcfs` runs without
 *       --restart-on-crash); SIGUSR1 re-executes the binary on disk in place
 *   lxcfs-worker --standalone-resume FUSEFD,STATEFD,PIDFILEFD,HISTORYFD,GEN,REBINDER,STOPPED_MS,PSIFD
 *                [options] MOUNTPOINT
 *       that re-executed image: takes the connection over from its previous self, same pid
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
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/ctx.h"
#include "fs/fault.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/options.h"
#include "lib/pidfile.h"
#include "lib/selfpath.h"
#include "reinit/claim.h"
#include "reinit/ctl.h"
#include "reinit/history.h"
#include "reinit/holders.h"
#include "reinit/keeper/keeper.h"
#include "reinit/probe.h"
#include "reinit/psistore.h"
#include "reinit/heal/rebind.h"
#include "reinit/reinit.h"
#include "reinit/state.h"
#include "version.h"
#include "fs/virt.h"
#include "worker/worker.h"

/* The serving context (fs/ctx.h), and the state it serves from: attached or created by the
 * mode before the context is built, detached after it is closed. */
static struct lxcfs lx;
static struct state st;

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

static void keep_fd(int fd, bool keep)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFD) : -1;
	if (fl >= 0)
		fcntl(fd, F_SETFD, keep ? fl & ~FD_CLOEXEC : fl | FD_CLOEXEC);
}

/* What a standalone daemon holds and hands to its re-executed self (SIGUSR1).  The spec on the
 * command line is a protocol between versions: fields are only ever appended. */
struct standalone {
	int fuse, state, pidfile, history;
	int psi; /* the trigger store (--enable-psi-poll), else -1 */
	uint64_t gen;
	pid_t rebinder;
	char self[PATH_MAX]; /* the worker binary on disk, taken at start */
};

static int start_fresh(struct options *opt, const char *pidpath, struct standalone *h)
{
	h->pidfile = pidfile_acquire(pidpath);
	if (h->pidfile < 0)
		return -1;
	warn_request_timeout(NULL);
	if (state_create(&st) < 0 || state_attach(&st, st.fd, &(const char *){ NULL }) < 0) {
		log_error("cannot create the state");
		return -1;
	}
	h->state = st.fd;
	h->gen = st.hdr->generation = 1;
	h->history = history_create(); /* the load averages outlive a re-exec too */
	h->psi = opt->psi_poll ? psistore_create() : -1; /* and so do PSI triggers */
	virt_set(virt_from_env(), "as started");
	if (lxcfs_open(&lx, opt, &st, 1, h->history, h->psi, false) < 0)
		return -1;
	dev_t replaced;
	if (take_over_mountpoint(opt->mountpoint, &replaced, false) < 0)
		return -1;
	h->fuse = fuse_mount_fd(opt->mountpoint, opt->fuse_opts, opt->mount_flags);
	if (h->fuse < 0)
		return -1;
	claim_record(CLAIM_DIR, opt->mountpoint);
	if (serve_attach(&lx, h->fuse) < 0 || serve_start(&lx.serve, thread_count(opt), end_of_connection) < 0) {
		log_error("cannot serve the fuse connection");
		close(h->fuse);
		h->fuse = -1;
		fuse_unmount(opt->mountpoint);
		return -1;
	}
	log_info("lxcfs %s serving %s with %d request threads (pid %d)", LXCFS_VERSION, opt->mountpoint,
		 thread_count(opt), (int)getpid());
	h->rebinder = rebind_start(h->self, opt->mountpoint, replaced);
	return 0;
}

/* The re-executed image: the connection, state, pidfile lock and history of our previous self.
 * It stopped its request threads before the exec, so nothing it read is left unanswered; what
 * came since waits in the kernel for us.  -1: cannot serve it (the connection ends with us). */
static int resume_in_place(struct options *opt, const char *spec, struct standalone *h)
{
	long v[8] = { 0, 0, 0, 0, 0, 0, 0, -1 };
	const char *s = spec;
	for (int i = 0; i < 8; i++, s++) {
		char *end;
		v[i] = strtol(s, &end, 10);
		if (end == s || (v[i] < 0 && i != 7) || (*end != ',' && *end != '\0') || (*end == '\0' && i < 5)) {
			log_error("bad --standalone-resume argument '%s'", spec);
			return -1;
		}
		s = end;
		if (!*end)
			break;
	}
	h->fuse = (int)v[0], h->state = (int)v[1], h->pidfile = (int)v[2], h->history = (int)v[3];
	h->gen = (uint64_t)v[4] + 1;
	h->rebinder = (pid_t)v[5];
	h->psi = (int)v[7]; /* field 8 */
	int fds[] = { h->fuse, h->state, h->pidfile, h->history, h->psi };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		keep_fd(fds[i], false);
	const char *why;
	if (state_attach(&st, h->state, &why) < 0) {
		log_error("the re-executed lxcfs cannot read the state (%s): the connection ends", why);
		return -1;
	}
	st.hdr->generation = h->gen;
	virt_set(virt_from_env(), "as before the upgrade");
	if (lxcfs_open(&lx, opt, &st, h->gen, h->history, h->psi, true) < 0 || serve_attach(&lx, h->fuse) < 0)
		return -1;
	unsigned lost = serve_check_journal(&lx.serve);
	if (lost)
		log_warn("%u request(s) in the journal were in no state a stopped process leaves", lost);
	if (serve_replay_init(&lx.serve) < 0) {
		log_error("the re-executed lxcfs would negotiate another connection than the kernel has: "
			  "the connection ends");
		return -1;
	}
	if (serve_start(&lx.serve, thread_count(opt), end_of_connection) < 0)
		return -1;
	serve_recover(&lx.serve, 0, RECOVER_JOURNAL); /* nothing, after a clean stop: a safety net */
	if (opt->psi_poll)
		psi_wake_waiters(&lx.psi);
	long waited = v[6] ? (long)mono_ms() - v[6] : -1; /* field 7: when the previous image stopped reading */
	log_info("lxcfs %s upgraded in place (pid %d): generation %llu serving %s with %d request threads "
		 "(new requests waited %ld ms)",
		 LXCFS_VERSION, (int)getpid(), (unsigned long long)h->gen, opt->mountpoint, thread_count(opt), waited);
	return 0;
}

/* SIGUSR1 without a keeper: the live upgrade in place.  The binary on disk is asked first
 * whether it can take the state over (an exec cannot be undone); then the request threads answer
 * what they hold and stop, and the process re-executes that binary with its fds: same pid, same
 * connection, no read fails.  Returns only if the upgrade did not happen (logged). */
static void upgrade_in_place(const struct options *opt, struct standalone *h, int nargs, char **args)
{
	char why[512];
	if (!probe_state(h->self, h->state, why, sizeof(why))) {
		log_error("upgrade refused by the binary on disk (%s): %s; lxcfs %s keeps serving", h->self, why,
			  LXCFS_VERSION);
		return;
	}
	char spec[192];
	snprintf(spec, sizeof(spec), "%d,%d,%d,%d,%llu,%d,%ld,%d", h->fuse, h->state, h->pidfile, h->history,
		 (unsigned long long)h->gen, (int)(h->rebinder > 0 ? h->rebinder : 0), (long)mono_ms(), h->psi);
	char **av = calloc((size_t)nargs + 3, sizeof(*av));
	if (!av) {
		log_error("upgrade failed: out of memory; lxcfs %s keeps serving", LXCFS_VERSION);
		return;
	}
	av[0] = "lxcfs-worker";
	av[1] = "--standalone-resume";
	av[2] = spec;
	for (int i = 1; i < nargs; i++)
		av[i + 2] = args[i];
	log_info("upgrading in place: re-executing %s (pid %d)", h->self, (int)getpid());
	serve_stop(&lx.serve);
	int fds[] = { h->fuse, h->state, h->pidfile, h->history, h->psi };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		keep_fd(fds[i], true);
	setenv(VIRT_ENV, virt_on() ? "on" : "off", 1);
	/* the signal mask goes along: a signal sent meanwhile waits for the new image's loop */
	execv(h->self, av);
	log_error("upgrade failed: cannot execute %s: %s; lxcfs %s serves on", h->self, strerror(errno),
		  LXCFS_VERSION);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		keep_fd(fds[i], false);
	free(av);
	if (serve_start(&lx.serve, thread_count(opt), end_of_connection) < 0) {
		log_error("cannot start the request threads again: shutting down");
		kill(getpid(), SIGTERM);
	}
}

/* The one-process daemon, as upstream's: signals as upstream lxcfs takes them (SIGTERM, SIGINT
 * and SIGHUP unmount and exit; SIGUSR1 upgrades in place; SIGUSR2 switches virtualization). */
static int standalone(struct options *opt, int nargs, char **args, const char *resume)
{
	char pidpath[PATH_MAX];
	options_pidfile(opt, pidpath, sizeof(pidpath));
	sigset_t sigs = blocked_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	static struct standalone h;
	h = (struct standalone){ .fuse = -1, .state = -1, .pidfile = -1, .history = -1, .psi = -1 };
	self_path(h.self, sizeof(h.self));
	int rc = 1;
	if (resume ? resume_in_place(opt, resume, &h) < 0 : start_fresh(opt, pidpath, &h) < 0)
		goto out;
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&sigs, &si);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			if (sig == SIGHUP)
				log_info("SIGHUP: unmounting and exiting, as upstream lxcfs does");
			break;
		}
		if (sig == SIGCHLD) {
			int status;
			if (h.rebinder > 0 && waitpid(h.rebinder, &status, WNOHANG) == h.rebinder) {
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					log_warn("the rebind tier did not heal everything (status %d); see above", status);
				h.rebinder = 0;
			}
		}
		if (sig == SIGUSR1 && si.si_code == SI_QUEUE && si.si_value.sival_int == KEEPER_REINIT_REQUEST)
			log_warn("lxcfs --reinit (pid %d) needs --restart-on-crash; ignored", (int)si.si_pid);
		else if (sig == SIGUSR1)
			upgrade_in_place(opt, &h, nargs, args);
		if (sig == SIGUSR2)
			virt_set(!virt_on(), "SIGUSR2");
	}
	log_info("shutting down");
	if (h.rebinder > 0) {
		kill(h.rebinder, SIGKILL);
		waitpid(h.rebinder, NULL, 0);
	}
	fuse_unmount(opt->mountpoint);
	serve_stop(&lx.serve);
	rc = 0;
out:
	lxcfs_close(&lx);
	state_detach(&st);
	if (st.fd >= 0)
		close(st.fd);
	if (h.history >= 0)
		close(h.history);
	if (h.psi >= 0)
		close(h.psi);
	if (h.pidfile >= 0)
		pidfile_release(pidpath, h.pidfile);
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

static bool init_recorded(void *unused)
{
	return initrec_complete(&st.hdr->init);
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
	if (!wait_until(init_recorded, NULL, 10000, 1)) {
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
	if (!wait_until(init_recorded, NULL, 5000, 1))
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
	virt_set(virt_from_env(), "as the keeper has it");
	if (lxcfs_open(&lx, opt, &st, gen, history_fd_from_env(), psistore_fd_from_env(), true) < 0 || serve_attach(&lx, fd) < 0)
		return WORKER_EXIT_CANNOT;
	unsigned lost = reinit ? 0 : serve_check_journal(&lx.serve);
	int r = reinit ? 0 : serve_replay_init(&lx.serve);
	if (r < 0) {
		log_error("cannot take over: this binary would negotiate another connection than the kernel has");
		return WORKER_EXIT_UNRESUMABLE;
	}
	if (lost && !(st.hdr->features & STATE_FEAT_RESEND)) {
		log_error("cannot take over: %u request(s) were lost with a damaged journal, and this kernel "
			  "cannot resend them", lost);
		return WORKER_EXIT_LOST;
	}
	if (serve_start(&lx.serve, thread_count(opt), end_of_connection) < 0)
		return WORKER_EXIT_CANNOT;
	if (reinit && reinit_now(fd, gen) < 0)
		return WORKER_EXIT_CANNOT;
	if (opt->psi_poll && !reinit)
		psi_wake_waiters(&lx.psi);
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
			if (si.ssi_signo == SIGUSR2 && si.ssi_pid != (uint32_t)getppid())
				log_warn("SIGUSR2 from pid %u ignored: the keeper (pid %d) switches virtualization "
					 "for every worker", si.ssi_pid, (int)getppid());
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
				serve_recover(&lx.serve, m.arg, how);
			else if (m.type == CTL_STOP)
				break;
			else if (m.type == CTL_VIRT)
				virt_set(m.arg != 0, "SIGUSR2 to the keeper");
		}
	}
	if (p[2].fd >= 0)
		close(p[2].fd);
	serve_stop(&lx.serve);
	if (opt->psi_poll)
		psi_wake_own(&lx.psi);
	log_info("generation %llu stops", (unsigned long long)gen);
	lxcfs_close(&lx);
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
	struct state_hdr copy = *st.hdr;
	struct state scratch = { .fd = -1, .hdr = &copy };
	struct options o = { 0 };
	struct lxcfs c = { .opt = &o, .host = &lxcfs_host, .st = &scratch };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int r = lxcfs_session(&c) == 0 && devnull >= 0 && serve_attach(&c, devnull) == 0
			? serve_replay_init(&c.serve)
			: -EIO;
	if (c.se)
		fuse_session_destroy(c.se);
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
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	struct rebind_stats s;
	if (rebind_all(opt.mountpoint, &req, &s) < 0)
		return 1;
	double ms = mono_since_ms(t0);
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
	bool resume = argc >= 3 && strcmp(argv[1], "--standalone-resume") == 0;
	if (!keeper && !resume && (argc < 2 || strcmp(argv[1], "--standalone") != 0)) {
		fprintf(stderr, "lxcfs-worker is started by lxcfs; run lxcfs instead\n");
		return 2;
	}
	const char *spec = keeper || resume ? argv[2] : NULL;
	int skip = keeper || resume ? 2 : 1;
	argv[skip] = argv[0];
	struct options opt;
	int pr = options_parse(&opt, argc - skip, argv + skip);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	log_set_debug(opt.debug);
	int rc = keeper ? serve_for_keeper(spec, &opt, reinit) : standalone(&opt, argc - skip, argv + skip, spec);
	options_free(&opt);
	return rc;
}
