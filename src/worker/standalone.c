/* lxcfs-worker --standalone: one process mounts and serves, as upstream lxcfs does; SIGUSR1
 * re-executes the binary on disk in place (--standalone-resume), handing itself its fds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fs/ctx.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/pidfile.h"
#include "lib/selfpath.h"
#include "reinit/claim.h"
#include "reinit/probe.h"
#include "reinit/heal/rebind.h"
#include "reinit/legacy.h"
#include "fs/virt.h"

#include "worker/names.h"
#include "worker/worker.h"

/* The serving context (fs/ctx.h), and the state it serves from: attached or created by the
 * mode before the context is built, detached after it is closed. */
static struct lxcfs lx;
static struct state st;

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
	if (serve_attach(&lx, h->fuse) < 0 || serve_start(&lx.serve, worker_threads(opt), worker_end_of_connection) < 0) {
		log_error("cannot serve the fuse connection");
		close(h->fuse);
		h->fuse = -1;
		fuse_unmount(opt->mountpoint);
		return -1;
	}
	names_hold(h->fuse, opt->mountpoint); /* before containers bind them, all at once */
	log_info("lxcfs %s serving %s with %d request threads (pid %d)", LXCFS_VERSION, opt->mountpoint,
		 worker_threads(opt), (int)getpid());
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
	else if ((r = proto_recv_handover(arg, MSG_STANDALONE_RESUME, &m)) < 0)
		log_error("bad --standalone-resume hand-over (%s): %s", arg, strerror(-r));
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
	if (serve_start(&lx.serve, worker_threads(opt), worker_end_of_connection) < 0)
		return -1;
	serve_recover(&lx.serve, 0, RECOVER_JOURNAL); /* nothing, after a clean stop: a safety net */
	lxcfs_serving(&lx);
	names_hold(h->fuse, opt->mountpoint); /* the image before ours held them (close-on-exec) */
	if (opt->psi_poll)
		psi_wake_waiters(&lx.psi);
	long waited = stopped_ms ? (long)((int64_t)mono_ms() - stopped_ms) : -1;
	log_info("lxcfs %s upgraded in place (pid %d): generation %llu serving %s with %d request threads "
		 "(new requests waited %ld ms)",
		 LXCFS_VERSION, (int)getpid(), (unsigned long long)h->gen, opt->mountpoint, worker_threads(opt), waited);
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
	if (serve_start(&lx.serve, worker_threads(opt), worker_end_of_connection) < 0) {
		log_error("cannot start the request threads again: shutting down");
		kill(getpid(), SIGTERM);
	}
}

/* The one-process daemon, as upstream's: signals as upstream lxcfs takes them (SIGTERM, SIGINT
 * and SIGHUP unmount and exit; SIGUSR1 upgrades in place; SIGUSR2 switches virtualization). */
static void reap_rebinder(struct standalone *h)
{
	int status;
	if (h->rebinder > 0 && waitpid(h->rebinder, &status, WNOHANG) == h->rebinder) {
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warn("the rebind tier did not heal everything (status %d); see above", status);
		h->rebinder = 0;
	}
}

/* Signals as upstream lxcfs takes them, until one that stops us (SIGTERM, SIGINT, SIGHUP). */
static void signal_loop(struct options *opt, struct standalone *h, const sigset_t *sigs, int nargs, char **args)
{
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(sigs, &si);
		if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			if (sig == SIGHUP)
				log_info("SIGHUP: unmounting and exiting, as upstream lxcfs does");
			return;
		}
		if (sig == SIGCHLD)
			reap_rebinder(h);
		if (sig == SIGUSR1 && si.si_code == SI_QUEUE && si.si_value.sival_int == KEEPER_REINIT_REQUEST)
			log_warn("lxcfs --reinit (pid %d) needs --restart-on-crash; ignored", (int)si.si_pid);
		else if (sig == SIGUSR1)
			upgrade_in_place(opt, h, nargs, args);
		if (sig == SIGUSR2)
			virt_set(!virt_on(), "SIGUSR2");
	}
}

/* Whatever start_fresh or resume_in_place got, given back. */
static void release_all(struct standalone *h, const char *pidpath)
{
	lxcfs_close(&lx);
	state_detach(&st);
	if (st.fd >= 0)
		close(st.fd);
	if (h->history >= 0)
		close(h->history);
	if (h->psi >= 0)
		close(h->psi);
	if (h->pidfile >= 0)
		pidfile_release(pidpath, h->pidfile);
}

int standalone_main(struct options *opt, int nargs, char **args, const char *resume)
{
	char pidpath[PATH_MAX];
	options_pidfile(opt, pidpath, sizeof(pidpath));
	sigset_t sigs = worker_signals();
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	static struct standalone h;
	h = (struct standalone){ .fuse = -1, .state = -1, .pidfile = -1, .history = -1, .psi = -1 };
	self_path(h.self, sizeof(h.self));
	if (resume ? resume_in_place(opt, resume, &h) < 0 : start_fresh(opt, pidpath, &h) < 0) {
		release_all(&h, pidpath);
		return 1;
	}
	signal_loop(opt, &h, &sigs, nargs, args);
	log_info("shutting down");
	if (h.rebinder > 0)
		child_wait(h.rebinder, 0, NULL); /* a pass still waiting on a hung mount: not worth outliving us */
	names_release();
	fuse_unmount(opt->mountpoint);
	serve_stop(&lx.serve);
	release_all(&h, pidpath);
	return 0;
}

