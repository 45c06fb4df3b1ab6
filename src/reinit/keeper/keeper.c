/* The keeper: a deliberately small process.  It mounts (or, after an upgrade, inherits) the fuse
 * connection, holds that fd and the state memfd for its whole life, runs one worker on them,
 * restarts it when it dies and replaces it on SIGUSR1 with the binaries on disk.  Where a worker
 * cannot resume and the kernel has our series, the next one resets the connection instead
 * (reinit; `lxcfs --reinit` asks for it).  SIGUSR2 switches virtualization, as upstream's does;
 * the keeper remembers the setting for every worker it starts.  It reads no cgroup file and
 * renders nothing: the less code here, the less that can take the mount down.  This file: the
 * start, the main loop and its signals, the status; keeper_int.h lists the others. */
#include "reinit/keeper/keeper.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/pidfile.h"
#include "lib/selfpath.h"
#include "reinit/claim.h"
#include "reinit/history.h"
#include "reinit/keeper/keeper_int.h"
#include "reinit/reinit.h"
#include "reinit/sdnotify.h"
#include "reinit/status.h"
#include "version.h"

struct keeper K = { .young_status = -1, .fuse_fd = -1, .pidfd = -1, .history_fd = -1, .worker_log = -1,
		    .psi_fd = -1, .cur = { .ctl = -1 }, .old = { .ctl = -1 } };

/* The snapshot entries and journal slots in use are counted (a pread per entry: 1,072
 * syscalls) only when lxcfs --status asks (SIGHUP); the other reports, at each restart and
 * upgrade, carry the last count, so that a restart does not spend a millisecond of cpu beside
 * the worker coming up. */
static unsigned snaps_counted, slots_counted, slots_dead_counted;

void write_status(void)
{
	struct state_hdr *h = K.st.hdr;
	struct status_rec r = {
		.keeper_pid = getpid(), .worker_pid = K.cur.pid, .generation = K.cur.gen, .restarts = h->restarts,
		.state_version = h->version, .resend = (h->features & STATE_FEAT_RESEND) != 0,
		.reinit = (K.reinit_mask & FUSE_REINIT_HAS_REINIT) && (K.reinit_mask & FUSE_REINIT_HAS_BM_REVAL),
		.tier = K.next_tier, .snaps_in_use = snaps_counted, .nsnaps = h->nsnaps,
		.kept_renders = __atomic_load_n(&h->kept_renders, __ATOMIC_RELAXED), .virt_on = !K.virt_off,
		.standby_pid = standby_pid(), .standby_primed = standby_primed_gen() != 0,
		.slots_in_use = slots_counted, .nslots = K.st.lay.nslots, .slots_dead = slots_dead_counted,
	};
	snprintf(r.keeper_version, sizeof(r.keeper_version), "%s", LXCFS_VERSION);
	snprintf(r.worker_version, sizeof(r.worker_version), "%.31s", h->worker_version);
	snprintf(r.last_death, sizeof(r.last_death), "%s", K.last_death[0] ? K.last_death : "none");
	snprintf(r.last_upgrade, sizeof(r.last_upgrade), "%s", K.last_upgrade[0] ? K.last_upgrade : "none");
	snprintf(r.mountpoint, sizeof(r.mountpoint), "%s", K.opt->mountpoint);
	status_write(K.statuspath, &r);
}

/* Every signal whose default would end or stop the keeper and that it may be sent from outside
 * is taken in its loop, so none of them can take the mount's holder down.  Left out: SIGKILL
 * and SIGSTOP (cannot be), SIGQUIT (an operator's deliberate core dump), and SIGSEGV, SIGILL,
 * SIGFPE and SIGABRT (our own faults must crash).  SIGBUS, SIGSYS and SIGTRAP from a real
 * fault are forced by the kernel through any mask, so blocking them stops only kill(2). */
static sigset_t keeper_signals(void)
{
	static const int list[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE,
				    SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU, SIGXFSZ, SIGIO, SIGPWR,
				    SIGSYS, SIGTRAP, SIGBUS, SIGSTKFLT, SIGTSTP, SIGTTIN, SIGTTOU };
	sigset_t s;
	sigemptyset(&s);
	for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		sigaddset(&s, list[i]);
	for (int i = SIGRTMIN; i <= SIGRTMAX; i++)
		sigaddset(&s, i);
	return s;
}

/* The next pending signal (0: none), from the signalfd or, without one, from the mask; *value is
 * what a sigqueue(3) sender attached (0 for a plain kill). */
static int next_signal(int sfd, const sigset_t *sigs, pid_t *from, int *value)
{
	if (sfd >= 0) {
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			return 0;
		*from = (pid_t)si.ssi_pid;
		*value = si.ssi_code == SI_QUEUE ? si.ssi_int : 0;
		return (int)si.ssi_signo;
	}
	siginfo_t info;
	int sig = sigtimedwait(sigs, &info, &(struct timespec){ 0 });
	*from = sig > 0 ? info.si_pid : 0;
	*value = sig > 0 && info.si_code == SI_QUEUE ? info.si_value.sival_int : 0;
	return sig > 0 ? sig : 0;
}

/* SIGUSR2: upstream's switch.  The workers serving now are told; the next ones start with it. */
static void toggle_virtualization(pid_t from)
{
	K.virt_off = !K.virt_off;
	log_info("SIGUSR2 from pid %d: virtualization %s", (int)from,
		 K.virt_off ? "off, every file shows the host's values" : "on again");
	struct worker *w[2] = { &K.cur, &K.old };
	for (int i = 0; i < 2; i++)
		if (w[i]->pid)
			tell(w[i], MSG_VIRT, !K.virt_off);
	write_status();
}

void shutdown_and_exit(int rc, bool unmount)
{
	standby_drop("stopping");
	if (unmount) {
		const char *where = K.replacing ? K.staging : K.opt->mountpoint; /* (not the old one's) */
		log_info("shutting down: unmounting %s", where);
		fuse_unmount(where);
		if (K.replacing)
			rmdir(K.staging);
	} else {
		log_info("stopping; %s stays mounted: systemd's fd store holds the connection for the next "
			 "start (a plain stop ends it, and the next start rebinds what used it)", K.opt->mountpoint);
	}
	struct worker *w[2] = { &K.cur, &K.old };
	for (int i = 0; i < 2; i++)
		if (w[i]->pid)
			tell(w[i], MSG_STOP, 0);
	for (int i = 0; i < 2; i++)
		if (w[i]->pid)
			child_wait(w[i]->pid, 5000, NULL);
	if (K.rebinder > 0) /* a pass still waiting on some hung mount: not worth outliving us */
		child_wait(K.rebinder, 0, NULL);
	close(K.fuse_fd); /* with the last fd the kernel ends the connection */
	unlink(K.statuspath);
	pidfile_release(K.pidpath, K.pidfd);
	exit(rc);
}

/* A re-executed keeper: adopt what the previous image handed over and start the new worker.
 * 0, or the exit status. */
static int start_resumed(const char *resume)
{
	bool reinit;
	K.stored = sd_notify_enabled();
	if (adopt(resume, &reinit) < 0)
		return 1;
	K.reinit_mask = reinit_features(K.fuse_fd);
	start_after_adopt(reinit);
	return 0;
}

/* A first start: the connection taken over if something kept it, else mounted.  0, or the exit
 * status. */
static int start_fresh(void)
{
	K.pidfd = pidfile_acquire(K.pidpath);
	if (K.pidfd < 0)
		return 1;
	warn_request_timeout(NULL);
	if (resume_connection() == 0)
		return 0;
	const char *why;
	if (state_create(&K.st) < 0 || state_attach_header(&K.st, K.st.fd, &why) < 0) {
		log_error("cannot create the state memfd");
		pidfile_release(K.pidpath, K.pidfd);
		return 1;
	}
	dev_t dead = 0;
	if (take_over_mountpoint(K.opt->mountpoint, &dead, false) == 0)
		K.fuse_fd = fuse_mount_fd(K.opt->mountpoint, K.opt->fuse_opts, K.opt->mount_flags);
	if (dead)
		K.replaced = dead;
	K.rebind_pending = true;
	if (K.fuse_fd < 0) {
		pidfile_release(K.pidpath, K.pidfd);
		return 1;
	}
	K.st.hdr->keeper_pid = getpid();
	K.reinit_mask = reinit_features(K.fuse_fd);
	if (K.history_fd < 0)
		K.history_fd = history_create();
	psi_store_new();
	store_fds();
	if (spawn(1, false) < 0) {
		log_error("cannot start the worker: %s", strerror(errno));
		shutdown_and_exit(1, true);
	}
	return 0;
}

static void handle_signal(int sig, pid_t from, int value)
{
	if (sig == SIGCHLD)
		reap();
	else if (sig == SIGTERM || sig == SIGINT)
		shutdown_and_exit(0, !K.stored);
	else if (sig == SIGUSR1 && value == KEEPER_REINIT_REQUEST) {
		log_info("reinit requested (lxcfs --reinit, pid %d)", (int)from);
		upgrade(true);
	} else if (sig == SIGUSR1)
		upgrade(false);
	else if (sig == SIGUSR2)
		toggle_virtualization(from);
	else if (sig == SIGHUP) { /* lxcfs --status asks for the counts of this moment */
		snaps_counted = state_snaps_in_use(&K.st);
		state_slots_count(&K.st, (const uint64_t[2]){ K.cur.gen, standby_primed_gen() }, &slots_counted,
				  &slots_dead_counted);
		write_status();
	}
	else if (sig != SIGPIPE)
		log_warn("signal %d (%s) from pid %d ignored: the keeper stops only on SIGTERM or SIGINT", sig,
			 strsignal(sig), (int)from);
}

/* How long the loop may sleep: until the next restart, upgrade or standby deadline (-1: none). */
static int next_timeout(int sfd)
{
	uint64_t now = mono_ms(), wake = 0;
	if (K.restart_at_ms)
		wake = K.restart_at_ms;
	if (K.upgrade_deadline_ms && (!wake || K.upgrade_deadline_ms < wake))
		wake = K.upgrade_deadline_ms;
	if (standby_due_ms() && (!wake || standby_due_ms() < wake))
		wake = standby_due_ms();
	int timeout = wake ? (wake > now ? (int)(wake - now) : 0) : -1;
	if (sfd < 0 && (timeout < 0 || timeout > 100))
		timeout = 100; /* signals are then taken with sigtimedwait at each turn */
	return timeout;
}

static void timers_due(void)
{
	uint64_t now = mono_ms();
	if (K.restart_at_ms && now >= K.restart_at_ms)
		restart_worker();
	if (standby_due_ms() && now >= standby_due_ms())
		standby_start();
	if (K.upgrade_deadline_ms && now >= K.upgrade_deadline_ms && K.old.pid) {
		log_error("upgrade failed: the new worker %d did not get ready; stopping it", (int)K.cur.pid);
		kill(K.cur.pid, SIGKILL); /* reap() hands the connection back to the old worker */
		K.upgrade_deadline_ms = 0;
	}
}

static _Noreturn void loop(int sfd, const sigset_t *sigs)
{
	for (;;) {
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
				       { .fd = K.cur.pid ? K.cur.ctl : -1, .events = POLLIN },
				       { .fd = K.old.pid ? K.old.ctl : -1, .events = POLLIN } };
		if (poll(p, 3, next_timeout(sfd)) < 0 && errno != EINTR)
			continue;
		timers_due();
		if (p[1].revents & (POLLIN | POLLHUP))
			handle_ctl(&K.cur);
		if (p[2].revents & (POLLIN | POLLHUP))
			handle_ctl(&K.old);
		int sig, value;
		pid_t from;
		while ((sig = next_signal(sfd, sigs, &from, &value)) > 0)
			handle_signal(sig, from, value);
	}
}

int keeper_main(const struct options *opt, int argc, char **argv, const char *resume)
{
	K.opt = opt;
	K.argc = argc;
	K.argv = argv;
	self_path(K.self, sizeof(K.self));
	options_pidfile(opt, K.pidpath, sizeof(K.pidpath));
	options_statusfile(opt, K.statuspath, sizeof(K.statuspath));
	log_set_prefix("lxcfs-keeper");

	sigset_t sigs = keeper_signals();
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) /* signals are then taken with sigtimedwait at each turn of the loop */
		log_error("signalfd: %s; polling for signals every 100 ms instead", strerror(errno));

	int r = resume ? start_resumed(resume) : opt->replace ? start_replacing() : start_fresh();
	if (r != 0)
		return r;
	K.st.hdr->keeper_pid = getpid();
	if (!K.replacing) /* (a replacement claims the mountpoint once it holds ours) */
		claim_record(CLAIM_DIR, opt->mountpoint); /* again after a takeover: /run may have been cleaned */
	log_info("lxcfs %s keeper (pid %d) holds %s", LXCFS_VERSION, (int)getpid(), opt->mountpoint);
	write_status();
	loop(sfd, &sigs);
}
