/* The keeper: a deliberately small process.  It mounts (or, after an upgrade, inherits) the fuse
 * connection, holds that fd and the state memfd for its whole life, runs one worker on them,
 * restarts it when it dies and replaces it on SIGUSR1 with the binaries on disk.  Where a worker
 * cannot resume and the kernel has our series, the next one resets the connection instead
 * (reinit; `lxcfs --reinit` asks for it).  SIGUSR2 switches virtualization, as upstream's does;
 * the keeper remembers the setting for every worker it starts.  It reads no cgroup file and
 * renders nothing: the less code here, the less that can take the mount down. */
#include "reinit/keeper/keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/pidfile.h"
#include "reinit/claim.h"
#include "reinit/ctl.h"
#include "reinit/history.h"
#include "reinit/orphan.h"
#include "reinit/probe.h"
#include "reinit/psistore.h"
#include "reinit/heal/rebind.h"
#include "reinit/reinit.h"
#include "reinit/replace.h"
#include "reinit/sdnotify.h"
#include "reinit/state.h"
#include "lib/selfpath.h"
#include "version.h"
#include "fs/virt.h"
#include "worker/worker.h"

#define UPGRADE_TIMEOUT_MS 10000
#define BACKOFF_MAX_MS 1000
#define SHORT_LIFE_MS 250 /* a worker that dies younger than this, or before it was ready, loops */

struct worker {
	pid_t pid;
	int ctl;
	uint64_t gen;
	bool ready;
	bool reinit; /* started to reset the connection */
	uint64_t started_ms;
};

static struct {
	const struct options *opt;
	int argc;
	char **argv; /* the daemon's own arguments, passed to workers and to a re-exec */
	char self[PATH_MAX];
	int fuse_fd;
	struct state st;
	struct state_hdr saved; /* the keeper's copy, to repair a damaged header */
	bool have_saved;
	int pidfd;
	char pidpath[PATH_MAX], statuspath[PATH_MAX + 16];
	struct worker cur, old; /* old: the predecessor that drains during an upgrade */
	int backoff_ms;
	uint32_t reinit_mask; /* FUSE_REINIT_HAS_* of this kernel */
	bool next_reinit;     /* the next worker resets the connection */
	bool next_remount;    /* ... or, where the kernel cannot reset it, it is replaced */
	unsigned unresumable; /* workers in a row that could not resume from the state */
	int young_status;     /* wait status of the last death if it came young, else -1 */
	uint64_t reinit_from; /* generation an upgrade through reinit replaces, until READY */
	uint64_t restart_at_ms, upgrade_deadline_ms;
	bool rebind_pending; /* a fresh mount: heal dead binds once the first worker is ready */
	dev_t replaced;      /* the dead lxcfs mount that was at our mountpoint */
	pid_t rebinder;
	bool stored; /* the fuse fd and state sit in systemd's fd store */
	int history_fd; /* load averages and the like, handed to each worker (history.h) */
	bool replacing;  /* `lxcfs --replace`: the first ready worker takes the old lxcfs's mounts */
	int worker_log;  /* where workers write (-1: our stderr): they may outlive us */
	struct replace_target repl;
	char staging[PATH_MAX];
	bool virt_off;  /* SIGUSR2: every worker answers everyone as the host (virt.h) */
	int psi_fd;     /* --enable-psi-poll: the triggers readers armed (psistore.h) */
	char last_death[160], last_upgrade[256];
} K = { .young_status = -1, .fuse_fd = -1, .pidfd = -1, .history_fd = -1, .worker_log = -1, .psi_fd = -1,
	.cur = { .ctl = -1 }, .old = { .ctl = -1 } };

/* A store for PSI triggers, where they are asked for and none is held (a new connection has none
 * of the old one's files, so it gets a new store too). */
static void psi_store_new(void)
{
	if (!K.opt->psi_poll)
		return;
	if (K.psi_fd >= 0)
		close(K.psi_fd);
	K.psi_fd = psistore_create();
	if (K.psi_fd < 0)
		log_warn("cannot create the PSI trigger store (%s): triggers die with their worker",
			 strerror(-K.psi_fd));
}

static void describe(int status, char *dst, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(dst, size, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(dst, size, "exited with status %d", WEXITSTATUS(status));
}

static void write_status(void)
{
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", K.statuspath);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	struct state_hdr *h = K.st.hdr;
	uint32_t f = h->features;
	dprintf(fd,
		"keeper_pid: %d\nkeeper_version: %s\nworker_pid: %d\nworker_version: %.31s\ngeneration: %llu\n"
		"restarts: %u\nlast_death: %s\nlast_upgrade: %s\nmountpoint: %s\nstate_version: %u\n"
		"recovery: resume=yes journal=yes resend=%s reinit=%s\nsnapshots_in_use: %u/%u\nkept_renders: %u\n"
		"virtualization: %s\n",
		(int)getpid(), LXCFS_VERSION, (int)K.cur.pid, h->worker_version, (unsigned long long)K.cur.gen,
		h->restarts, K.last_death[0] ? K.last_death : "none", K.last_upgrade[0] ? K.last_upgrade : "none",
		K.opt->mountpoint, h->version, (f & STATE_FEAT_RESEND) ? "yes" : "no",
		(K.reinit_mask & FUSE_REINIT_HAS_REINIT) && (K.reinit_mask & FUSE_REINIT_HAS_BM_REVAL) ? "yes" : "no",
		state_snaps_in_use(&K.st), h->nsnaps,
		__atomic_load_n(&h->kept_renders, __ATOMIC_RELAXED), K.virt_off ? "off" : "on");
	close(fd);
	rename(tmp, K.statuspath);
}

static void keep_fd(int fd, bool keep)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, keep ? fl & ~FD_CLOEXEC : fl | FD_CLOEXEC);
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
			ctl_send(w[i]->ctl, CTL_VIRT, !K.virt_off);
	write_status();
}

static void unblock_all(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* systemd keeps a copy of the connection and the state: whatever dies, the next start of the
 * service gets them back (a restart of the service is then a takeover, not a new mount). */
static void store_fds(void)
{
	if (!sd_notify_enabled())
		return;
	sd_store_fd("fuse", K.fuse_fd);
	sd_store_fd("state", K.st.fd);
	if (K.history_fd >= 0)
		sd_store_fd("history", K.history_fd);
	K.stored = true;
}

/* A new, empty state: for a worker that resets the connection rather than resuming it. */
static int fresh_state(void)
{
	struct state st;
	const char *why;
	if (state_create(&st) < 0 || state_attach_header(&st, st.fd, &why) < 0)
		return -1;
	/* the restart record the status shows outlives the state: from the live header if sound */
	const struct state_hdr *old = NULL;
	if (K.st.hdr && state_check(&K.st, &why) == 0)
		old = K.st.hdr;
	else if (K.have_saved)
		old = &K.saved;
	if (old) {
		st.hdr->restarts = old->restarts;
		st.hdr->last_status = old->last_status;
		st.hdr->last_death = old->last_death;
		st.hdr->last_pid = old->last_pid;
	}
	state_detach(&K.st);
	close(K.st.fd);
	K.st = st;
	K.have_saved = false;
	psi_store_new();
	K.st.hdr->keeper_pid = getpid();
	if (K.stored)
		sd_store_fd("state", K.st.fd);
	return 0;
}

static int spawn(uint64_t gen, bool reinit)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	char path[PATH_MAX + 64], spec[96];
	worker_binary(K.self, path, sizeof(path));
	snprintf(spec, sizeof(spec), "%d,%d,%d,%llu", K.fuse_fd, K.st.fd, sv[1], (unsigned long long)gen);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		unblock_all();
		if (K.worker_log >= 0) {
			dup2(K.worker_log, STDOUT_FILENO);
			dup2(K.worker_log, STDERR_FILENO);
		}
		keep_fd(K.fuse_fd, true);
		keep_fd(K.st.fd, true);
		keep_fd(sv[1], true);
		if (K.history_fd >= 0) {
			char num[16];
			snprintf(num, sizeof(num), "%d", K.history_fd);
			keep_fd(K.history_fd, true);
			setenv("LXCFS_HISTORY_FD", num, 1);
		}
		if (K.virt_off)
			setenv(VIRT_ENV, "off", 1);
		else
			unsetenv(VIRT_ENV);
		if (K.psi_fd >= 0) {
			char num[16];
			snprintf(num, sizeof(num), "%d", K.psi_fd);
			keep_fd(K.psi_fd, true);
			setenv("LXCFS_PSI_FD", num, 1);
		}
		char **av = calloc((size_t)K.argc + 3, sizeof(char *));
		if (!av) {
			log_cmdline_error("cannot start a worker: out of memory");
			_exit(127);
		}
		av[0] = "lxcfs-worker";
		av[1] = reinit ? "--serve-reinit" : "--serve";
		av[2] = spec;
		for (int i = 1; i < K.argc; i++)
			av[i + 2] = K.argv[i];
		execv(path, av);
		log_cmdline_error("cannot run %s: %s", path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	if (K.cur.pid && !K.old.pid)
		K.old = K.cur; /* an upgrade: the running worker drains once the new one is ready */
	K.cur = (struct worker){ .pid = pid, .ctl = sv[0], .gen = gen, .reinit = reinit, .started_ms = mono_ms() };
	K.st.hdr->generation = gen;
	K.st.hdr->worker_pid = pid;
	log_info("started worker %d (generation %llu)", (int)pid, (unsigned long long)gen);
	return 0;
}

/* The keeper's copy of a good header (layout, INIT record), taken whenever the header is valid
 * and the INIT exchange complete. */
static void save_header(void)
{
	const char *why;
	if (state_check(&K.st, &why) == 0 && initrec_complete(&K.st.hdr->init)) {
		if (!K.st.hdr->sum)
			state_seal(K.st.hdr); /* left by a binary before checksums: complete, so fixed */
		K.saved = *K.st.hdr;
		K.have_saved = true;
	}
}

/* A damaged header is put back before a new worker needs it: the layout is this version's, the
 * INIT record the keeper's copy, or without one the record as found (the worker's replay checks
 * it against what it would answer), the generation the keeper's own count.  The journal and the
 * snapshot entries the worker checks one by one. */
static void repair_header(void)
{
	const char *why;
	if (state_check(&K.st, &why) == 0) {
		save_header();
		return;
	}
	struct state_hdr *h = K.st.hdr;
	state_relayout(h);
	if (K.have_saved)
		h->init = K.saved.init;
	h->generation = K.cur.gen;
	state_seal(h);
	const char *still;
	if (state_check(&K.st, &still) == 0)
		log_error("state header damaged (%s); repaired from %s", why,
			  K.have_saved ? "the keeper's copy" : "this version's layout, the INIT record as found");
	else
		log_error("state header damaged (%s), and not repaired (%s)", why, still);
}

/* Nothing can resume this connection and this kernel cannot reset it: rather than restart workers
 * that cannot serve it while its readers wait for ever, end it (its readers get ENOTCONN at once)
 * and mount afresh; the rebind tier then heals the containers' mounts of it, as after a crash of
 * everything.  0, or -1 (logged). */
static int remount(void)
{
	char path[PATH_MAX];
	dev_t dead = 0;
	log_error("the connection cannot be resumed from the state and this kernel cannot reset it: "
		  "ending it and mounting %s afresh (its readers get ENOTCONN until the rebind heals them)",
		  K.opt->mountpoint);
	if (K.stored) {
		sd_unstore_fd("fuse");
		sd_unstore_fd("state");
	}
	if (mount_canonical(K.opt->mountpoint, path, sizeof(path)) == 0 && lxcfs_mount_at(path, &dead) == 0)
		fuse_abort(dead); /* any other copy of the fd (a stuck helper) must not keep it alive */
	close(K.fuse_fd);
	K.fuse_fd = -1;
	if (fresh_state() < 0) {
		log_error("remount: cannot create a state");
		return -1;
	}
	take_over_mountpoint(K.opt->mountpoint, &K.replaced, true);
	K.fuse_fd = fuse_mount_fd(K.opt->mountpoint, K.opt->fuse_opts, K.opt->mount_flags);
	if (K.fuse_fd < 0)
		return -1;
	K.reinit_mask = reinit_features(K.fuse_fd);
	K.rebind_pending = true;
	store_fds();
	claim_record(CLAIM_DIR, K.opt->mountpoint);
	return 0;
}

static void restart_worker(void)
{
	K.restart_at_ms = 0;
	uint64_t gen = K.cur.gen + 1; /* our own count: the header's may be damaged */
	if (K.next_remount) {
		K.next_remount = false;
		if (remount() < 0) {
			K.next_remount = true;
			K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
			return;
		}
	}
	bool reinit = K.next_reinit && fresh_state() == 0;
	if (!reinit)
		repair_header();
	K.next_reinit = false;
	if (spawn(gen, reinit) < 0) {
		log_error("cannot start a worker: %s", strerror(errno));
		K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
		return;
	}
	/* Every generation but the new one is dead: the new worker answers what they held. */
	ctl_send(K.cur.ctl, CTL_RECOVER, 0);
	write_status();
}

/* Takes over a connection and state someone kept alive (systemd's fd store, or a worker whose
 * keeper died) as after a worker's death: the old worker, if it still runs, is ended, and a new
 * one answers what it held.  0, or -1 if the state is unusable (fds closed, *why says why). */
static int take_over_fds(int fuse, int stfd, const char *from, const char **why)
{
	if (state_attach_header(&K.st, stfd, why) < 0) {
		close(fuse);
		close(stfd);
		K.st = (struct state){ .fd = -1 };
		return -1;
	}
	K.fuse_fd = fuse;
	K.cur.gen = K.st.hdr->generation; /* checked by the attach */
	save_header();
	K.reinit_mask = reinit_features(K.fuse_fd);
	if (K.history_fd < 0)
		K.history_fd = history_create(); /* the averages start again; the connection does not */
	psi_store_new(); /* so do triggers: readers polling get POLLERR and arm again */
	orphan_end((pid_t)K.st.hdr->worker_pid, K.fuse_fd, K.opt->mountpoint);
	log_info("resuming %s from %s (generation %llu)", K.opt->mountpoint, from,
		 (unsigned long long)K.st.hdr->generation);
	restart_worker();
	return K.cur.pid ? 0 : -1;
}

/* The connection may have outlived its keeper: in systemd's fd store, or held by the orphaned
 * worker.  0 if we took it over; -1 to mount afresh (a stored connection we cannot use is
 * detached first, so that the rebind tier heals what used it). */
static int resume_connection(void)
{
	sd_listen_init();
	int fuse = sd_listen_take("fuse"), stfd = sd_listen_take("state");
	K.history_fd = sd_listen_take("history");
	const char *why = "the fuse fd or the state is missing";
	if (fuse >= 0 && stfd >= 0) {
		K.stored = true;
		if (take_over_fds(fuse, stfd, "systemd's fd store", &why) == 0)
			return 0;
		fuse = stfd = -1;
	}
	if (fuse >= 0 || stfd >= 0 || K.stored) {
		log_error("systemd's fd store holds a connection we cannot resume (%s): mounting afresh", why);
		sd_unstore_fd("fuse");
		sd_unstore_fd("state");
		take_over_mountpoint(K.opt->mountpoint, &K.replaced, true);
		if (fuse >= 0)
			close(fuse);
		if (stfd >= 0)
			close(stfd);
		K.stored = false;
		return -1;
	}
	char from[64];
	pid_t orphan = orphan_take(K.opt->mountpoint, &fuse, &stfd, &K.history_fd);
	if (orphan <= 0)
		return -1;
	snprintf(from, sizeof(from), "worker %d, whose keeper is gone", (int)orphan);
	if (take_over_fds(fuse, stfd, from, &why) < 0) {
		log_error("worker %d serves %s without a keeper, but its state is unusable (%s); leaving it",
			  (int)orphan, K.opt->mountpoint, why);
		return -1;
	}
	store_fds();
	return 0;
}

static void shutdown_and_exit(int rc, bool unmount)
{
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
			ctl_send(w[i]->ctl, CTL_STOP, 0);
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

static void reap(void)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[96];
		describe(status, how, sizeof(how));
		if (pid == K.old.pid) {
			if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
				log_warn("previous worker %d %s while draining", (int)pid, how);
				ctl_send(K.cur.ctl, CTL_RECOVER, 0);
			}
			close(K.old.ctl);
			K.old = (struct worker){ .ctl = -1 };
			write_status();
			continue;
		}
		if (pid == K.rebinder) {
			K.rebinder = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("the rebind tier %s: some dead mounts may be left (see above)", how);
			continue;
		}
		if (pid != K.cur.pid)
			continue;
		close(K.cur.ctl);
		struct worker dead = K.cur;
		uint64_t gen = dead.gen;
		K.cur = (struct worker){ .ctl = -1, .gen = gen };
		if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_GONE) {
			log_info("the fuse connection ended; exiting");
			if (K.stored) {
				sd_unstore_fd("fuse");
				sd_unstore_fd("state");
			}
			shutdown_and_exit(0, true);
		}
		struct state_hdr *h = K.st.hdr;
		h->restarts++;
		h->last_status = status;
		h->last_death = time(NULL);
		h->last_pid = pid;
		snprintf(K.last_death, sizeof(K.last_death), "worker %d (generation %llu) %s", (int)pid,
			 (unsigned long long)gen, how);
		int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		K.unresumable = code == WORKER_EXIT_UNRESUMABLE ? K.unresumable + 1 : 0;
		if (code == WORKER_EXIT_UNRESUMABLE || code == WORKER_EXIT_CANNOT || code == WORKER_EXIT_LOST) {
			/* Resume is impossible: the next worker resets the connection, where it can;
			 * elsewhere a state that a repair did not make usable, or readers waiting on
			 * requests nobody holds any more, end the connection. */
			K.next_reinit = (K.reinit_mask & FUSE_REINIT_HAS_REINIT) != 0;
			K.next_remount = !K.next_reinit && (K.unresumable >= 2 || code == WORKER_EXIT_LOST);
			log_error("%s: it could not take over the connection%s", K.last_death,
				  K.next_reinit    ? "; the next one reinitializes it"
				  : K.next_remount ? "; the connection is given up"
						   : "");
		} else if (dead.reinit && !dead.ready) {
			/* It may have reset the connection without answering the new INIT: the
			 * state holds no INIT record to resume from, so the next one resets again. */
			K.next_reinit = true;
			log_warn("%s during a reinit; the next worker reinitializes again", K.last_death);
		} else
			log_warn("%s; restarting (restart %u)", K.last_death, h->restarts);
		if (K.old.pid) {
			/* The new worker of an upgrade died: the old one keeps serving. */
			snprintf(K.last_upgrade, sizeof(K.last_upgrade), "failed: the new worker %s", how);
			log_error("upgrade failed: the new worker %s; generation %llu keeps serving", how,
				  (unsigned long long)K.old.gen);
			K.cur = K.old;
			K.old = (struct worker){ .ctl = -1 };
			K.upgrade_deadline_ms = 0;
			ctl_send(K.cur.ctl, CTL_RECOVER, 0);
			write_status();
			continue;
		}
		/* Crash-loop guard: a worker that dies before it is ready, or young twice in a row
		 * of the same cause (the same signal or exit status), makes the next one wait twice as
		 * long as the last, up to a second.  One that served a while is replaced at once, and
		 * so is one killed young once, or by SIGKILL however often (an operator, a soak, a
		 * supervisor): rapid kills must not stall readers for a back-off.  A request that
		 * kills every worker ends at the second death anyway (EIO).  The mount is never
		 * given up. */
		uint64_t now = mono_ms();
		bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		bool young = now - dead.started_ms < SHORT_LIFE_MS && !killed;
		bool looping = !dead.ready || (young && K.young_status == status);
		K.young_status = young ? status : -1;
		K.backoff_ms = looping ? (K.backoff_ms ? K.backoff_ms * 2 : 10) : 0;
		if (K.backoff_ms > BACKOFF_MAX_MS)
			K.backoff_ms = BACKOFF_MAX_MS;
		K.restart_at_ms = now + (uint64_t)K.backoff_ms;
		if (!K.backoff_ms)
			restart_worker();
		else
			log_warn("a crash loop, it seems: the next worker starts in %d ms", K.backoff_ms);
	}
}

/* Runs the new worker binary's probe: can it take this state over? */
static bool probe_upgrade(char *why, size_t size)
{
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	return probe_state(path, K.st.fd, why, size);
}

static void upgrade(bool force_reinit)
{
	if (K.old.pid || !K.cur.pid) {
		log_warn("upgrade requested while a worker change is under way; ignored");
		return;
	}
	if (force_reinit && !(K.reinit_mask & FUSE_REINIT_HAS_REINIT)) {
		snprintf(K.last_upgrade, sizeof(K.last_upgrade), "refused: this kernel has no FUSE_DEV_IOC_REINIT");
		log_error("reinit requested, but this kernel has no FUSE_DEV_IOC_REINIT; nothing changed");
		write_status();
		return;
	}
	save_header(); /* only if it is sound: a damaged one must make the probe refuse */
	char why[512];
	bool reinit = force_reinit;
	if (!reinit && !probe_upgrade(why, sizeof(why))) {
		if (!(K.reinit_mask & FUSE_REINIT_HAS_REINIT)) {
			snprintf(K.last_upgrade, sizeof(K.last_upgrade), "refused: %.200s", why);
			log_error("upgrade refused by the binary on disk: %s; lxcfs %s keeps serving", why,
				  LXCFS_VERSION);
			write_status();
			return;
		}
		log_warn("the binary on disk cannot resume (%s): upgrading through reinit", why);
		reinit = true;
	}
	char spec[160];
	snprintf(spec, sizeof(spec), "%d,%d,%d,%d,%d,%llu,%d,%d,%d,%d", K.fuse_fd, K.st.fd, K.pidfd, (int)K.cur.pid,
		 K.cur.ctl, (unsigned long long)K.cur.gen, reinit, K.history_fd, K.virt_off, K.psi_fd);
	char **av = calloc((size_t)K.argc + 3, sizeof(char *));
	if (!av) {
		snprintf(K.last_upgrade, sizeof(K.last_upgrade), "failed: out of memory");
		log_error("upgrade failed: out of memory; lxcfs %s keeps serving", LXCFS_VERSION);
		write_status();
		return;
	}
	av[0] = K.argv[0];
	av[1] = "--keeper-resume";
	av[2] = spec;
	for (int i = 1; i < K.argc; i++)
		av[i + 2] = K.argv[i];
	int fds[] = { K.fuse_fd, K.st.fd, K.pidfd, K.cur.ctl, K.history_fd, K.psi_fd };
	for (size_t i = 0; i < 6; i++)
		if (fds[i] >= 0)
			keep_fd(fds[i], true);
	log_info("upgrading%s: re-executing %s", reinit ? " through reinit" : "", K.self);
	execv(K.self, av);
	log_error("upgrade failed: cannot execute %s: %s", K.self, strerror(errno));
	for (size_t i = 0; i < 6; i++)
		if (fds[i] >= 0)
			keep_fd(fds[i], false);
	free(av);
}

/* `lxcfs --replace`: ours at a staging directory beside the live old lxcfs, its worker started;
 * the rest once that one serves (finish_replacing).  0, or the exit status. */
static int start_replacing(void)
{
	char oldpid[PATH_MAX];
	options_pidfile(K.opt, oldpid, sizeof(oldpid)); /* -p names the old daemon's pidfile */
	int r = replace_find(K.opt->mountpoint, oldpid, &K.repl);
	if (r != 0)
		return r > 0 ? REPLACE_EXIT_NOTHING : 1;
	snprintf(K.pidpath, sizeof(K.pidpath), "%s/lxcfs-replace.pid", K.opt->runtime_dir);
	snprintf(K.statuspath, sizeof(K.statuspath), "%s/lxcfs-replace.status", K.opt->runtime_dir);
	snprintf(K.staging, sizeof(K.staging), "%s/lxcfs-replace.XXXXXX", K.opt->runtime_dir);
	const char *why;
	K.pidfd = pidfile_acquire(K.pidpath);
	if (K.pidfd < 0 || !mkdtemp(K.staging) || state_create(&K.st) < 0 ||
	    state_attach_header(&K.st, K.st.fd, &why) < 0) {
		log_error("replace: cannot prepare (%s): nothing done", K.pidfd < 0 ? "another replacement runs"
								      : strerror(errno));
		return 1;
	}
	K.fuse_fd = fuse_mount_fd(K.staging, K.opt->fuse_opts, K.opt->mount_flags);
	if (K.fuse_fd < 0) {
		rmdir(K.staging);
		return 1;
	}
	K.st.hdr->keeper_pid = getpid();
	K.reinit_mask = reinit_features(K.fuse_fd);
	K.history_fd = history_create();
	psi_store_new();
	K.replacing = true;
	/* The worker outlives us: it must not hold our caller's output open (a `$(lxcfs --replace)`
	 * or a package script would wait for its end), so it logs to a file until adopted. */
	char log[PATH_MAX + 32];
	snprintf(log, sizeof(log), "%s/lxcfs-replace.log", K.opt->runtime_dir);
	K.worker_log = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (K.worker_log < 0)
		K.worker_log = open("/dev/null", O_WRONLY | O_CLOEXEC);
	else
		log_info("replace: the worker logs to %s until a start adopts it", log);
	if (spawn(1, false) < 0) {
		log_error("cannot start the worker: %s", strerror(errno));
		fuse_unmount(K.staging);
		rmdir(K.staging);
		return 1;
	}
	return 0;
}

/* The keeper of a replacement leaves: its worker serves on for the next start to adopt, or, if
 * nothing moved, stops with the staging mount. */
static void finish_replacing(void)
{
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	K.replacing = false;
	int r = replace_finish(path, K.opt->mountpoint, K.staging, &K.repl);
	if (r == -1) {
		ctl_send(K.cur.ctl, CTL_STOP, 0);
		waitpid(K.cur.pid, NULL, 0);
		fuse_unmount(K.staging);
		rmdir(K.staging);
	}
	else
		ctl_send(K.cur.ctl, CTL_HANDOVER, 0);
	unlink(K.statuspath);
	pidfile_release(K.pidpath, K.pidfd);
	exit(r == 0 ? 0 : 1);
}

static void handle_ctl(struct worker *w)
{
	struct ctl_msg m;
	int r = ctl_recv(w->ctl, &m);
	if (r < 0 || m.type != CTL_READY)
		return;
	w->ready = true;
	K.upgrade_deadline_ms = 0;
	save_header();
	if (w == &K.cur && (K.old.pid || K.reinit_from)) {
		if (K.old.pid)
			ctl_send(K.old.ctl, CTL_STOP, 0);
		snprintf(K.last_upgrade, sizeof(K.last_upgrade), "generation %llu (lxcfs %s) replaced generation %llu%s",
			 (unsigned long long)K.cur.gen, LXCFS_VERSION,
			 (unsigned long long)(K.old.pid ? K.old.gen : K.reinit_from),
			 K.old.pid ? "" : " through reinit");
		K.reinit_from = 0;
		log_info("upgrade: %s", K.last_upgrade);
	}
	if (w == &K.cur && sd_notify_enabled()) {
		char msg[PATH_MAX + 96];
		snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d\nSTATUS=serving %s (generation %llu)", (int)getpid(),
			 K.opt->mountpoint, (unsigned long long)K.cur.gen);
		sd_notify_fds(msg, NULL, 0);
	}
	if (w == &K.cur && K.replacing)
		finish_replacing();
	if (w == &K.cur && K.rebind_pending) {
		char path[PATH_MAX + 64];
		worker_binary(K.self, path, sizeof(path));
		K.rebind_pending = false;
		K.rebinder = rebind_start(path, K.opt->mountpoint, K.replaced);
		if (K.rebinder < 0) {
			log_error("cannot start the rebind tier: %s", strerror(-K.rebinder));
			K.rebinder = 0;
		}
	}
	write_status();
}

/* The hand-over spec is a protocol between keeper versions: fields are only ever appended, and
 * a missing trailing field takes its old meaning (no reinit). */
static int adopt(const char *spec, bool *reinit)
{
	long v[10] = { 0, 0, 0, 0, 0, 0, 0, -1, 0, -1 };
	const char *s = spec;
	int n = 0;
	for (; n < 10; n++, s++) {
		char *end;
		v[n] = strtol(s, &end, 10);
		if (end == s || (v[n] < 0 && n != 7 && n != 9) || (*end != ',' && *end != '\0'))
			return -EINVAL;
		s = end;
		if (!*end)
			break;
	}
	if (n < 5) {
		log_error("cannot read the hand-over from the previous keeper: '%s'", spec);
		return -EINVAL;
	}
	*reinit = v[6] != 0;
	K.virt_off = v[8] != 0; /* field 9; an older keeper had no switch: on */
	K.psi_fd = (int)v[9];   /* field 10; from an older keeper (or without triggers) none yet */
	if (K.psi_fd >= 0)
		keep_fd(K.psi_fd, false);
	else
		psi_store_new();
	/* the history came with field 8; from an older keeper there is none yet */
	K.history_fd = v[7] >= 0 ? (int)v[7] : history_create();
	if (v[7] >= 0)
		keep_fd(K.history_fd, false);
	K.fuse_fd = (int)v[0];
	K.pidfd = (int)v[2];
	K.old = (struct worker){ .pid = (pid_t)v[3], .ctl = (int)v[4], .gen = (uint64_t)v[5], .ready = true };
	int fds[] = { K.fuse_fd, (int)v[1], K.pidfd, K.old.ctl };
	for (size_t i = 0; i < 4; i++)
		keep_fd(fds[i], false);
	const char *why;
	if (*reinit) {
		/* The old state may be of a format we cannot read: start from an empty one,
		 * once the old worker no longer reads the device (it could take the new INIT). */
		ctl_send(K.old.ctl, CTL_STOP, 0);
		child_wait(K.old.pid, 10000, NULL);
		close(K.old.ctl);
		close((int)v[1]);
		K.reinit_from = K.old.gen;
		K.old = (struct worker){ .ctl = -1, .gen = K.old.gen };
		K.st.fd = -1;
		return fresh_state();
	}
	if (state_attach_header(&K.st, (int)v[1], &why) < 0) {
		log_error("re-executed keeper cannot read the state: %s", why);
		return -EPROTO;
	}
	/* Our pidfile stays locked: an fcntl lock belongs to the process, and exec keeps it. */
	return 0;
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

	if (resume) {
		bool reinit;
		K.stored = sd_notify_enabled();
		if (adopt(resume, &reinit) < 0)
			return 1;
		K.reinit_mask = reinit_features(K.fuse_fd);
		if (reinit) {
			if (spawn(K.old.gen + 1, true) < 0) {
				/* the old worker is gone: keep trying, the next one resets again */
				log_error("cannot start the worker of the upgrade: %s; retrying", strerror(errno));
				K.next_reinit = true;
				K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
			}
		} else {
			save_header();
			if (spawn(K.old.gen + 1, false) < 0) {
				log_error("upgrade failed: cannot start the new worker: %s; generation %llu keeps serving",
					  strerror(errno), (unsigned long long)K.old.gen);
				snprintf(K.last_upgrade, sizeof(K.last_upgrade), "failed: cannot start the new worker");
				K.cur = K.old;
				K.old = (struct worker){ .ctl = -1 };
			} else {
				K.upgrade_deadline_ms = mono_ms() + UPGRADE_TIMEOUT_MS;
			}
		}
	} else if (opt->replace) {
		int r = start_replacing();
		if (r != 0)
			return r;
	} else {
		K.pidfd = pidfile_acquire(K.pidpath);
		if (K.pidfd < 0)
			return 1;
		warn_request_timeout(NULL);
		if (resume_connection() == 0)
			goto serve;
		const char *why;
		if (state_create(&K.st) < 0 || state_attach_header(&K.st, K.st.fd, &why) < 0) {
			log_error("cannot create the state memfd");
			pidfile_release(K.pidpath, K.pidfd);
			return 1;
		}
		dev_t dead = 0;
		if (take_over_mountpoint(opt->mountpoint, &dead, false) == 0)
			K.fuse_fd = fuse_mount_fd(opt->mountpoint, opt->fuse_opts, opt->mount_flags);
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
	}
serve:
	K.st.hdr->keeper_pid = getpid();
	if (!K.replacing) /* (a replacement claims the mountpoint once it holds ours) */
		claim_record(CLAIM_DIR, opt->mountpoint); /* again after a takeover: /run may have been cleaned */
	log_info("lxcfs %s keeper (pid %d) holds %s", LXCFS_VERSION, (int)getpid(), opt->mountpoint);
	write_status();

	for (;;) {
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
				       { .fd = K.cur.pid ? K.cur.ctl : -1, .events = POLLIN },
				       { .fd = K.old.pid ? K.old.ctl : -1, .events = POLLIN } };
		uint64_t now = mono_ms(), wake = 0;
		if (K.restart_at_ms)
			wake = K.restart_at_ms;
		if (K.upgrade_deadline_ms && (!wake || K.upgrade_deadline_ms < wake))
			wake = K.upgrade_deadline_ms;
		int timeout = wake ? (wake > now ? (int)(wake - now) : 0) : -1;
		if (sfd < 0 && (timeout < 0 || timeout > 100))
			timeout = 100;
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			continue;
		now = mono_ms();
		if (K.restart_at_ms && now >= K.restart_at_ms)
			restart_worker();
		if (K.upgrade_deadline_ms && now >= K.upgrade_deadline_ms && K.old.pid) {
			log_error("upgrade failed: the new worker %d did not get ready; stopping it", (int)K.cur.pid);
			kill(K.cur.pid, SIGKILL); /* reap() hands the connection back to the old worker */
			K.upgrade_deadline_ms = 0;
		}
		if (p[1].revents & (POLLIN | POLLHUP))
			handle_ctl(&K.cur);
		if (p[2].revents & (POLLIN | POLLHUP))
			handle_ctl(&K.old);
		int sig, value;
		pid_t from;
		while ((sig = next_signal(sfd, &sigs, &from, &value)) > 0) {
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
			else if (sig == SIGHUP)
				write_status(); /* lxcfs --status asks for the counts of this moment */
			else if (sig != SIGPIPE)
				log_warn("signal %d (%s) from pid %d ignored: the keeper stops only on SIGTERM or SIGINT",
					 sig, strsignal(sig), (int)from);
		}
	}
}
