/* lxcfs-worker --serve: a keeper's worker.  Its fds come in START; it takes the connection over
 * from its predecessor through the state (or resets it through the kernel series), tells the
 * keeper READY, and serves until STOP, the end of the connection, or the end of its mount.  As
 * the keeper's standby they come in PRIME ahead of need (standby.c). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>

#include "fs/ctx.h"
#include "fs/fault.h"
#include "lib/child.h"
#include "lib/lifeline.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "reinit/holders.h"
#include "reinit/legacy.h"
#include "reinit/reinit.h"
#include "fs/virt.h"

#include "worker/names.h"
#include "worker/served.h"
#include "worker/worker.h"

/* (served.h) */
struct lxcfs lx;
struct state st;

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
int ctl = -1;
static bool ctl_v1;

static int tell_keeper(enum msg_type type, uint64_t arg)
{
	return ctl_v1 ? legacy_ctl_send(ctl, type, arg) : proto_tell(ctl, type, arg);
}

/* START (or PRIME, for a standby), the first message on the socket numbered arg; from a keeper
 * of protocol version 0, spelt out in arg (and the environment).  0; 1: none will come (the
 * keeper closed the socket); -1 (logged). */
static int receive_start(const char *arg, bool v0_reinit, struct msg *m)
{
	if (legacy_spec(arg)) {
		ctl_v1 = true;
		return legacy_serve(arg, v0_reinit, m, &ctl) < 0 ? -1 : 0;
	}
	/* A worker's START is in the socket before it runs; a standby's PRIME comes once it runs,
	 * or, from a keeper without PRIME, its START when the worker it stands by for dies (the
	 * keeper's standby.c), so the wait has no bound: it ends at START or PRIME, or when the
	 * keeper closes its end (it stopped, or dropped the standby). */
	prctl(PR_SET_NAME, "lxcfs-standby");
	int sock = proto_recv_arg(arg, MSG_START, -1, m);
	if (sock == -EPIPE) {
		log_debug("the keeper closed the control socket before START: nothing to serve");
		return 1;
	}
	if (sock < 0) {
		log_error("no START from the keeper on fd %s: %s", arg, strerror(-sock));
		return -1;
	}
	if (m->type == MSG_START)
		prctl(PR_SET_NAME, WORKER_NAME); /* (a primed standby renames itself when it serves) */
	ctl = sock;
	return 0;
}

/* What only reads the state, so it can be done while a predecessor still serves: the state
 * attached, the caches and session built, the INIT replayed; with warm, the state's written pages
 * mapped and every render run once (a cold first read would cost the readers more); then our
 * lifeline, made by this (the main) thread before any other, and the request threads, parked.
 * 0, or the exit code. */
int prepare(struct options *opt, struct takeover *t, bool warm)
{
	const char *why;
	if (state_attach(&st, t->m->fds.fd[FD_STATE], &why) < 0) {
		log_error("cannot take over: %s", why);
		return WORKER_EXIT_UNRESUMABLE;
	}
	virt_set(t->m->u.start.virt_on, "as the keeper has it");
	if (lxcfs_prepare(&lx, opt, &st, t->gen, true) < 0 || serve_attach(&lx, t->fd) < 0)
		return WORKER_EXIT_CANNOT;
	t->init_seen = st.hdr->init;
	t->replayed = t->reinit ? 0 : serve_replay_init(&lx.serve);
	if (t->replayed < 0) {
		log_error("cannot take over: this binary would negotiate another connection than the kernel has");
		return WORKER_EXIT_UNRESUMABLE;
	}
	if (warm) {
		unsigned pages = state_prefault(&st);
		lxcfs_warm(&lx);
		log_debug("warmed up: %u state pages mapped, every file rendered once", pages);
	}
	if (t->m->u.start.lifeline && (t->lifeline = lifeline_create()) < 0) {
		log_warn("cannot make a lifeline (%s): the next standby will wait for the keeper", strerror(-t->lifeline));
		t->lifeline = -1;
	}
	return serve_park(&lx.serve, worker_threads(opt), worker_end_of_connection) < 0 ? WORKER_EXIT_CANNOT : 0;
}

/* The main thread, named as ps shows it (a standby's takeover runs in another thread). */
pthread_t main_thread;

/* The rest, once the predecessor is gone: its journal checked, the engines started, the request
 * threads let go (or the connection reset).  0, or the exit code. */
int engage(struct options *opt, struct takeover *t, const char *how)
{
	unsigned lost = t->reinit ? 0 : serve_check_journal(&lx.serve);
	/* a dead predecessor's crashes (warm: it serves on), taken before any READ counts them */
	if (!t->reinit && !t->m->u.start.warm)
		serve_early_deaths(&lx.serve);
	if (lost && !(st.hdr->features & STATE_FEAT_RESEND)) {
		log_error("cannot take over: %u request(s) were lost with a damaged journal, and this kernel "
			  "cannot resend them", lost);
		return WORKER_EXIT_LOST;
	}
	pthread_setname_np(main_thread, WORKER_NAME);
	const struct fdset *f = &t->m->fds;
	if (lxcfs_engage(&lx, f->fd[FD_HISTORY], f->fd[FD_PSI]) < 0)
		return WORKER_EXIT_CANNOT;
	serve_go(&lx.serve);
	if (t->reinit && reinit_now(t->fd, t->gen) < 0)
		return WORKER_EXIT_CANNOT;
	if (opt->psi_poll && !t->reinit)
		psi_wake_waiters(&lx.psi);
	if (!t->reinit && t->replayed == 0) {
		wait_for_init(); /* a new connection: ready once its INIT is on record for a successor */
		names_hold(t->fd, opt->mountpoint); /* before containers bind them, all at once */
	}
	log_info("lxcfs %s generation %llu serving %s (%s)", LXCFS_VERSION, (unsigned long long)t->gen, opt->mountpoint,
		 how ? how : t->reinit ? "reinitialized connection" : t->replayed ? "took over the connection" : "new connection");
	t->how = worker_recovery();
	return 0;
}

/* START: the connection taken over (or reset) and served: 0, or the exit code.  Beside a live
 * predecessor (an upgrade: warm), the warm-up a standby does ahead of need is done first. */
static int take_over(struct options *opt, struct takeover *t)
{
	int rc = prepare(opt, t, t->m->u.start.warm);
	return rc ? rc : engage(opt, t, NULL);
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

/* A message from the keeper: whether to go on serving.  *recovered: what the dead held is
 * being answered already (an early takeover), so the RECOVER that follows START is not run
 * twice: a second pass would count the requests the first is answering as tried twice. */
static bool from_keeper(struct pollfd *p, bool *handed_over, int fd, const char *mnt, enum recovery how,
			bool *recovered)
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
	else if (m.type == MSG_RECOVER && *recovered && !m.u.recover.live_gen)
		*recovered = false;
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

/* Quiet time on the control socket and signals after which the set-up that could wait is done. */
#define SETUP_QUIET_MS 50

static void serve_loop(int fd, const char *mnt, const sigset_t *sigs, enum recovery how, bool recovered)
{
	int sfd = signalfd(-1, sigs, SFD_CLOEXEC);
	struct pollfd p[3] = { [P_CTL] = { .fd = ctl, .events = POLLIN }, [P_SIG] = { .fd = sfd, .events = POLLIN },
			       [P_MOUNTS] = { .fd = -1 } };
	bool handed_over = false, set_up = false;
	for (;;) {
		/* What can wait (lxcfs_serving) waits for a quiet moment: the keeper's RECOVER, which
		 * a restart's readers wait for, is in the socket already and goes first. */
		int n = poll(p, 3, set_up ? -1 : SETUP_QUIET_MS);
		if (n < 0 && errno != EINTR)
			break;
		if (n == 0 && !set_up) {
			lxcfs_serving(&lx);
			names_hold(fd, mnt); /* (a new connection's are held already) */
			set_up = true;
			continue;
		}
		if ((p[P_SIG].revents & POLLIN) && !signalled(sfd))
			break;
		if ((p[P_MOUNTS].revents & (POLLPRI | POLLERR)) && !still_mounted(fd, mnt)) {
			log_info("the keeper is gone and our mount is not in its namespace any more (a stop: "
				 "the keeper killed, the mount detached): stopping");
			break;
		}
		if ((p[P_CTL].revents & (POLLIN | POLLHUP)) && !from_keeper(p, &handed_over, fd, mnt, how, &recovered))
			break;
	}
	if (p[P_MOUNTS].fd >= 0)
		close(p[P_MOUNTS].fd);
	close(sfd);
}

/* READY, with our lifeline when START asked for one. */
static void ready(struct takeover *t)
{
	if (t->lifeline < 0 || ctl_v1) {
		tell_keeper(MSG_READY, st.hdr->features);
		return;
	}
	struct fdset fds = FDSET_NONE;
	fds.fd[FD_LIFELINE] = t->lifeline;
	struct msg_ready r = { .features = st.hdr->features };
	int e = proto_send(ctl, MSG_READY, &r, sizeof(r), &fds);
	if (e < 0)
		log_warn("cannot tell the keeper we are ready: %s", strerror(-e));
	close(t->lifeline); /* (the map keeps it; the keeper has its copy) */
	t->lifeline = -1;
}

int served_main(const char *arg, struct options *opt, bool v0_reinit)
{
	log_set_prefix("lxcfs-worker");
	main_thread = pthread_self();
	struct msg m, start;
	int r = receive_start(arg, v0_reinit, &m);
	if (r != 0)
		return r < 0 ? WORKER_EXIT_CANNOT : 0;
	sigset_t sigs = worker_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	struct takeover t = { .m = &m, .fd = m.fds.fd[FD_FUSE], .gen = m.u.start.gen, .reinit = m.u.start.reinit,
			      .lifeline = -1 };
	bool early = false;
	int rc = m.type == MSG_PRIME ? stand_by(opt, &t, &start, &early) : take_over(opt, &t);
	if (m.fds.fd[FD_LIFELINE] >= 0) { /* the predecessor's: its watcher has a copy of its own */
		close(m.fds.fd[FD_LIFELINE]);
		m.fds.fd[FD_LIFELINE] = -1;
	}
	if (rc == 1) { /* a standby dropped: what it holds answered, the rest left to the next */
		serve_stop(&lx.serve);
		return 0;
	}
	if (rc)
		return rc;
	ready(&t);
	serve_loop(t.fd, opt->mountpoint, &sigs, t.how, early);
	serve_stop(&lx.serve);
	if (opt->psi_poll)
		psi_wake_own(&lx.psi);
	log_info("generation %llu stops", (unsigned long long)t.gen);
	lxcfs_close(&lx);
	lifeline_release(); /* last: a standby must not take our end on purpose for a death */
	return worker_connection_gone() ? WORKER_EXIT_GONE : 0;
}
