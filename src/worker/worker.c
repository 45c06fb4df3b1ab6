/* lxcfs-worker: the FUSE server.  Its modes (proto.h):
 *   lxcfs-worker --standalone [lxcfs options] MOUNTPOINT
 *       one process mounts and serves, as upstream lxcfs does (what `lxcfs` runs without
 *       --restart-on-crash); SIGUSR1 re-executes the binary on disk in place
 *   lxcfs-worker --standalone-resume SOCKFD [options] MOUNTPOINT
 *       that re-executed image: takes the connection over from its previous self, same pid; its
 *       fds come in STANDALONE_RESUME on SOCKFD
 *   lxcfs-worker --serve CTLFD [lxcfs options] MOUNTPOINT
 *       serves the keeper's connection, whose fds come in START on CTLFD: takes over from a
 *       predecessor through the state, or resets the connection through the kernel series
 *       (FUSE_DEV_IOC_REINIT, then FUSE_DEV_IOC_BM_REVAL for the bind mounts)
 *   lxcfs-worker --check-state STATEFD
 *       the upgrade probe: can this binary take over that state?  exit 0 or say why not
 *   lxcfs-worker --rebind [--dead-dev MAJ:MIN]... [--orphans] MOUNTPOINT
 *       the rebind tier: heal dead lxcfs bind mounts in every mount namespace from MOUNTPOINT
 * Older binaries' positional forms (--serve F,S,C,G, --serve-reinit, --standalone-resume with a
 * spec) are read by legacy.c. */
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
#include "reinit/history.h"
#include "reinit/holders.h"
#include "reinit/probe.h"
#include "reinit/psistore.h"
#include "reinit/heal/rebind.h"
#include "reinit/legacy.h"
#include "reinit/proto.h"
#include "reinit/reinit.h"
#include "reinit/state.h"
#include "version.h"
#include "fs/virt.h"

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

/* The hand-over our previous image left on the socket numbered arg (or, from a binary of
 * protocol version 0, spelt out in arg), into h.  0, or -1 (logged). */
static int receive_resume(const char *arg, struct standalone *h, int64_t *stopped_ms, bool *virt)
{
	struct msg m;
	int r;
	if (legacy_spec(arg))
		r = legacy_standalone_resume(arg, &m);
	else {
		char *end;
		long sock = strtol(arg, &end, 10);
		r = *end || sock < 0 ? -EINVAL : proto_recv_wait((int)sock, &m, 1000);
		if (!*end && sock >= 0)
			close((int)sock);
		if (r == 0 && (m.type != MSG_STANDALONE_RESUME || proto_kept(&m, m.u.standalone_resume.pidfile) < 0)) {
			fdset_close(&m.fds);
			r = -EBADMSG;
		}
		if (r < 0)
			log_error("bad --standalone-resume hand-over (%s): %s", arg, strerror(-r));
	}
	if (r < 0)
		return -1;
	h->fuse = m.fds.fd[FD_FUSE], h->state = m.fds.fd[FD_STATE], h->pidfile = m.fds.fd[FD_PIDFILE];
	h->history = m.fds.fd[FD_HISTORY], h->psi = m.fds.fd[FD_PSI];
	h->gen = m.u.standalone_resume.gen + 1;
	h->rebinder = m.u.standalone_resume.rebinder;
	*stopped_ms = m.u.standalone_resume.stopped_ms;
	*virt = m.u.standalone_resume.virt_on;
	return 0;
}

/* The re-executed image: the connection, state, pidfile lock and history of our previous self.
 * It stopped its request threads before the exec, so nothing it read is left unanswered; what
 * came since waits in the kernel for us.  -1: cannot serve it (the connection ends with us). */
static int resume_in_place(struct options *opt, const char *arg, struct standalone *h)
{
	int64_t stopped_ms;
	bool virt;
	if (receive_resume(arg, h, &stopped_ms, &virt) < 0)
		return -1;
	const char *why;
	if (state_attach(&st, h->state, &why) < 0) {
		log_error("the re-executed lxcfs cannot read the state (%s): the connection ends", why);
		return -1;
	}
	st.hdr->generation = h->gen;
	virt_set(virt, "as before the upgrade");
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
	long waited = stopped_ms ? (long)((int64_t)mono_ms() - stopped_ms) : -1;
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
	char **av = calloc((size_t)nargs + 3, sizeof(*av));
	char fdarg[16];
	if (!av) {
		log_error("upgrade failed: out of memory; lxcfs %s keeps serving", LXCFS_VERSION);
		return;
	}
	av[0] = WORKER_NAME;
	av[1] = MODE_STANDALONE_RESUME;
	av[2] = fdarg;
	for (int i = 1; i < nargs; i++)
		av[i + 2] = args[i];
	log_info("upgrading in place: re-executing %s (pid %d)", h->self, (int)getpid());
	serve_stop(&lx.serve);
	struct fdset fds = FDSET_NONE;
	fds.fd[FD_FUSE] = h->fuse, fds.fd[FD_STATE] = h->state;
	fds.fd[FD_HISTORY] = h->history, fds.fd[FD_PSI] = h->psi;
	struct msg_standalone_resume r = { .gen = h->gen, .stopped_ms = (int64_t)mono_ms(),
					   .rebinder = h->rebinder > 0 ? h->rebinder : 0, .pidfile = h->pidfile,
					   .virt_on = virt_on() };
	/* the signal mask goes along: a signal sent meanwhile waits for the new image's loop */
	int e = proto_exec_self(h->self, av, 2, h->pidfile, MSG_STANDALONE_RESUME, &r, sizeof(r), &fds);
	log_error("upgrade failed: cannot execute %s: %s; lxcfs %s serves on", h->self, strerror(-e),
		  LXCFS_VERSION);
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

/* The keeper's control socket: its number, and whether that keeper speaks version 1 (legacy.h). */
static int ctl = -1;
static bool ctl_v1;

static int tell_keeper(enum msg_type type, uint64_t arg)
{
	return ctl_v1 ? legacy_ctl_send(ctl, type, arg) : proto_tell(ctl, type, arg);
}

/* START, the first message on the socket numbered arg; from a keeper of protocol version 0, spelt
 * out in arg (and the environment).  0, or -1 (logged). */
static int receive_start(const char *arg, bool v0_reinit, struct msg *m)
{
	if (legacy_spec(arg)) {
		ctl_v1 = true;
		return legacy_serve(arg, v0_reinit, m, &ctl) < 0 ? -1 : 0;
	}
	char *end;
	long sock = strtol(arg, &end, 10);
	int r = *end || sock < 0 ? -EINVAL : proto_recv_wait((int)sock, m, 10000);
	if (r == 0 && m->type != MSG_START) {
		fdset_close(&m->fds);
		r = -EBADMSG;
	}
	if (r < 0) {
		log_error("no START from the keeper on fd %s: %s", arg, strerror(-r));
		return -1;
	}
	ctl = (int)sock;
	return 0;
}

/* The connection taken over (or reset) and served: 0, or the exit code. */
static int take_over(struct options *opt, const struct msg *m, enum recovery *how)
{
	int fd = m->fds.fd[FD_FUSE];
	uint64_t gen = m->u.start.gen;
	bool reinit = m->u.start.reinit;
	const char *why;
	if (state_attach(&st, m->fds.fd[FD_STATE], &why) < 0) {
		log_error("cannot take over: %s", why);
		return WORKER_EXIT_UNRESUMABLE;
	}
	virt_set(m->u.start.virt_on, "as the keeper has it");
	if (lxcfs_open(&lx, opt, &st, gen, m->fds.fd[FD_HISTORY], m->fds.fd[FD_PSI], true) < 0 || serve_attach(&lx, fd) < 0)
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
	*how = recovery_mode();
	return 0;
}

/* What the loop waits on: the keeper, our signals, and our namespace's mount table, watched once
 * the keeper is gone. */
enum { P_CTL, P_SIG, P_MOUNTS };

/* The keeper is gone; we hold the connection now: keep serving, for the next start to take over,
 * as long as it is mounted in our namespace.  Whether to go on. */
static bool keeper_gone(struct pollfd *p, bool handed_over, int fd, const char *mnt)
{
	p[P_CTL].fd = -1;
	if (handed_over) {
		log_info("the keeper left us to the next start; serving on meanwhile");
		return true;
	}
	log_error("the keeper is gone; serving on without it");
	p[P_MOUNTS].fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	p[P_MOUNTS].events = POLLPRI; /* a change of the table (POLLIN is always set) */
	if (!still_mounted(fd, mnt)) {
		log_info("... but our mount is not in its namespace any more: stopping");
		return false;
	}
	return true;
}

/* A message from the keeper: whether to go on serving. */
static bool from_keeper(struct pollfd *p, bool *handed_over, int fd, const char *mnt, enum recovery how)
{
	struct msg m;
	int cr = proto_recv(ctl, &m);
	if (cr == -EPIPE)
		return keeper_gone(p, *handed_over, fd, mnt);
	if (cr < 0)
		return true;
	fdset_close(&m.fds); /* (none comes after START) */
	if (m.type == MSG_HANDOVER)
		*handed_over = true;
	else if (m.type == MSG_RECOVER)
		serve_recover(&lx.serve, m.u.recover.live_gen, how);
	else if (m.type == MSG_STOP)
		return false;
	else if (m.type == MSG_VIRT)
		virt_set(m.u.virt.on != 0, "SIGUSR2 to the keeper");
	return true;
}

/* A signal: whether to go on serving. */
static bool signalled(int sfd)
{
	struct signalfd_siginfo si;
	if (read(sfd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
		return false;
	if (si.ssi_signo == SIGUSR2 && si.ssi_pid != (uint32_t)getppid())
		log_warn("SIGUSR2 from pid %u ignored: the keeper (pid %d) switches virtualization "
			 "for every worker", si.ssi_pid, (int)getppid());
	return true;
}

static void serve_loop(int fd, const char *mnt, const sigset_t *sigs, enum recovery how)
{
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
	struct pollfd p[3] = { [P_CTL] = { .fd = ctl, .events = POLLIN }, [P_SIG] = { .fd = sfd, .events = POLLIN },
			       [P_MOUNTS] = { .fd = -1 } };
	bool handed_over = false;
	for (;;) {
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if ((p[P_SIG].revents & POLLIN) && !signalled(sfd))
			break;
		if ((p[P_MOUNTS].revents & (POLLPRI | POLLERR)) && !still_mounted(fd, mnt)) {
			log_info("the keeper is gone and our mount is not in its namespace any more (a stop: "
				 "the keeper killed, the mount detached): stopping");
			break;
		}
		if ((p[P_CTL].revents & (POLLIN | POLLHUP)) && !from_keeper(p, &handed_over, fd, mnt, how))
			break;
	}
	if (p[P_MOUNTS].fd >= 0)
		close(p[P_MOUNTS].fd);
	close(sfd);
}

static int serve_for_keeper(const char *arg, struct options *opt, bool v0_reinit)
{
	log_set_prefix("lxcfs-worker");
	struct msg m;
	if (receive_start(arg, v0_reinit, &m) < 0)
		return WORKER_EXIT_CANNOT;
	sigset_t sigs = blocked_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	enum recovery how;
	int rc = take_over(opt, &m, &how);
	if (rc)
		return rc;
	tell_keeper(MSG_READY, st.hdr->features);
	serve_loop(m.fds.fd[FD_FUSE], opt->mountpoint, &sigs, how);
	serve_stop(&lx.serve);
	if (opt->psi_poll)
		psi_wake_own(&lx.psi);
	log_info("generation %llu stops", (unsigned long long)m.u.start.gen);
	lxcfs_close(&lx);
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
	if (argc >= 3 && strcmp(argv[1], MODE_CHECK_STATE) == 0)
		return check_state(argv[2]);
	if (argc >= 2 && strcmp(argv[1], MODE_REBIND) == 0)
		return rebind_main(argc, argv);
	bool reinit = argc >= 3 && strcmp(argv[1], MODE_SERVE_REINIT) == 0; /* protocol version 0 */
	bool keeper = reinit || (argc >= 3 && strcmp(argv[1], MODE_SERVE) == 0);
	bool resume = argc >= 3 && strcmp(argv[1], MODE_STANDALONE_RESUME) == 0;
	if (!keeper && !resume && (argc < 2 || strcmp(argv[1], MODE_STANDALONE) != 0)) {
		fprintf(stderr, "lxcfs-worker is started by lxcfs; run lxcfs instead\n");
		return 2;
	}
	const char *arg = keeper || resume ? argv[2] : NULL;
	int skip = keeper || resume ? 2 : 1;
	argv[skip] = argv[0];
	struct options opt;
	int pr = options_parse(&opt, argc - skip, argv + skip);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	log_set_debug(opt.debug);
	int rc = keeper ? serve_for_keeper(arg, &opt, reinit) : standalone(&opt, argc - skip, argv + skip, arg);
	options_free(&opt);
	return rc;
}
