/* The keeper's workers: started with the connection's fds (START), reaped, restarted in the tier
 * their predecessor's end calls for, and told what the keeper hears (READY back). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/fault.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/selfpath.h"
#include "reinit/heal/rebind.h"
#include "reinit/keeper/keeper_int.h"
#include "reinit/legacy.h"
#include "reinit/sdnotify.h"
#include "version.h"

int tell(const struct worker *w, enum msg_type type, uint64_t arg)
{
	return w->legacy ? legacy_ctl_send(w->ctl, type, arg) : proto_tell(w->ctl, type, arg);
}

/* The tier of the next worker, logged when it is not the plain resume. */
void set_tier(enum tier t, const char *why)
{
	if (t != K.next_tier && t != TIER_RESUME)
		log_info("recovery tier: %s (%s)", tier_name(t), why);
	K.next_tier = t;
}

/* lxcfs-worker --serve CTLFD [our arguments], its START still to send on *ctl (the keeper's
 * end of CTLFD).  Its pid, or -errno. */
pid_t launch_worker(const char *path, int *ctl)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	char ctlarg[16];
	snprintf(ctlarg, sizeof(ctlarg), "%d", sv[1]);
	char **av = calloc((size_t)K.argc + 3, sizeof(char *));
	pid_t pid = -ENOMEM;
	if (av) {
		av[0] = WORKER_NAME;
		av[1] = MODE_SERVE;
		av[2] = ctlarg;
		for (int i = 1; i < K.argc; i++)
			av[i + 2] = K.argv[i];
		pid = spawn_child(&(struct spawn){ .path = path, .argv = av, .keep = &sv[1], .nkeep = 1,
						   .out = K.worker_log, .err = K.worker_log });
	}
	free(av);
	close(sv[1]);
	if (pid < 0)
		close(sv[0]);
	else
		*ctl = sv[0];
	return pid;
}

/* A worker of generation gen with the connection's fds in START: the standby when the serving
 * worker is dead (a restart), else a new process (the first start, the new binary of an upgrade
 * beside the adopted worker, or no standby at hand; an upgrade's exec dropped the standby).  0,
 * 1 if the standby had taken over at the death and ended refusing the connection (its tier is
 * to be taken first), or -1 with errno. */
int spawn(uint64_t gen, bool reinit)
{
	struct fdset fds = FDSET_NONE;
	fds.fd[FD_FUSE] = K.fuse_fd;
	fds.fd[FD_STATE] = K.st.fd;
	fds.fd[FD_HISTORY] = K.history_fd;
	fds.fd[FD_PSI] = K.psi_fd;
	/* beside a live worker (an upgrade), the new one can warm up before it serves */
	struct msg_start start = { .gen = gen, .reinit = reinit, .virt_on = !K.virt_off, .lifeline = 1,
				   .warm = (K.cur.pid || K.old.pid) && !reinit };
	if (!K.cur.pid && !K.old.pid) {
		enum tier before = K.next_tier;
		if (standby_take(&start, &fds)) {
			K.st.hdr->generation = gen;
			K.st.hdr->worker_pid = K.cur.pid;
			return 0;
		}
		/* its end, met as it was dropped, may call for more than this start does */
		if (K.next_tier > before && K.next_tier > (reinit ? TIER_REINIT : TIER_RESUME))
			return 1;
	}
	start.gen = gen = standby_fresh_gen(gen);
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	int ctl;
	pid_t pid = launch_worker(path, &ctl);
	int r = pid < 0 ? (int)pid : proto_send(ctl, MSG_START, &start, sizeof(start), &fds);
	if (r < 0) {
		if (pid > 0) {
			close(ctl); /* it ends at the closed socket */
			child_wait(pid, 1000, NULL);
		}
		errno = -r;
		return -1;
	}
	if (K.cur.pid && !K.old.pid)
		K.old = K.cur; /* an upgrade: the running worker drains once the new one is ready */
	K.cur = (struct worker){ .pid = pid, .ctl = ctl, .gen = gen, .reinit = reinit, .started_ms = mono_ms() };
	K.st.hdr->generation = gen;
	K.st.hdr->worker_pid = pid;
	log_info("started worker %d (generation %llu)", (int)pid, (unsigned long long)gen);
	return 0;
}

/* The connection prepared for the next worker's tier: 0, or -1 to try again later. */
static int prepare_tier(bool *reinit)
{
	*reinit = false;
	if (K.next_tier == TIER_REBIND) {
		if (remount() < 0)
			return -1;
		set_tier(TIER_RESUME, "a new mount");
	}
	*reinit = K.next_tier == TIER_REINIT && fresh_state() == 0;
	if (!*reinit)
		repair_header();
	return 0;
}

void restart_worker(void)
{
	K.restart_at_ms = 0;
	uint64_t gen = K.cur.gen + 1; /* our own count: the header's may be damaged */
	bool reinit;
	int r;
	do { /* (twice at most: a standby that refused is gone) */
		if (prepare_tier(&reinit) < 0) {
			K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
			return;
		}
		K.next_tier = TIER_RESUME;
		r = spawn(gen, reinit);
	} while (r > 0);
	if (r < 0) {
		log_error("cannot start a worker: %s", strerror(errno));
		K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
		return;
	}
	K.next_tier = TIER_RESUME; /* (a refusal met on the way is taken: this worker resets) */
	/* Every generation but the new one is dead: the new worker answers what they held. */
	tell(&K.cur, MSG_RECOVER, 0);
	write_status();
}

void describe(int status, char *dst, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(dst, size, "killed by signal %d (%s)%s", WTERMSIG(status), strsignal(WTERMSIG(status)),
			 WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(dst, size, "exited with status %d", WEXITSTATUS(status));
}

/* The predecessor of an upgrade is gone: drained, or dead with requests the new one answers. */
static void reap_old(int status, const char *how)
{
	if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		log_warn("previous worker %d %s while draining", (int)K.old.pid, how);
		tell(&K.cur, MSG_RECOVER, 0);
	}
	close(K.old.ctl);
	K.old = (struct worker){ .ctl = -1 };
	standby_schedule(); /* of the new binary, now that the upgrade is over */
	write_status();
}

/* The death on the state's record and in ours. */
void record_death(pid_t pid, int status, uint64_t gen, const char *how)
{
	state_note_death(K.st.hdr, status, pid);
	snprintf(K.last_death, sizeof(K.last_death), "worker %d (generation %llu) %s", (int)pid,
		 (unsigned long long)gen, how);
}

/* The tier the death calls for, logged as before. */
static void decide_after(const struct worker *dead, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	K.unresumable = code == WORKER_EXIT_UNRESUMABLE ? K.unresumable + 1 : 0;
	struct tier_facts f = { .reinit_mask = K.reinit_mask, .exit_code = code,
				.reinit_unready = dead->reinit && !dead->ready, .unresumable = K.unresumable };
	enum tier own = tier_decide(&f);
	/* A tier decided and not yet taken stands: a standby that took over at the death and could
	 * not serve may be reaped before the worker it stood by for. */
	enum tier t = own < K.next_tier ? K.next_tier : own;
	set_tier(t, K.last_death);
	if (code == WORKER_EXIT_UNRESUMABLE || code == WORKER_EXIT_CANNOT || code == WORKER_EXIT_LOST)
		log_error("%s: it could not take over the connection%s", K.last_death,
			  t == TIER_REINIT   ? "; the next one reinitializes it"
			  : t == TIER_REBIND ? "; the connection is given up"
					     : "");
	else if (own == TIER_REINIT)
		log_warn("%s during a reinit; the next worker reinitializes again", K.last_death);
	else
		log_warn("%s; restarting (restart %u%s%s)", K.last_death, K.st.hdr->restarts,
			 t != own ? ", through " : "", t != own ? tier_name(t) : "");
}

void standby_died(pid_t pid, int status, uint64_t gen, const char *how)
{
	record_death(pid, status, gen, how);
	decide_after(&(struct worker){ .pid = pid, .gen = gen, .ready = true }, status);
}

/* The new worker of an upgrade died: the old one keeps serving. */
static void upgrade_failed(const char *how)
{
	snprintf(K.last_upgrade, sizeof(K.last_upgrade), "failed: the new worker %s", how);
	log_error("upgrade failed: the new worker %s; generation %llu keeps serving", how,
		  (unsigned long long)K.old.gen);
	K.cur = K.old;
	K.old = (struct worker){ .ctl = -1 };
	K.upgrade_deadline_ms = 0;
	tell(&K.cur, MSG_RECOVER, 0);
	write_status();
}

/* Crash-loop guard: a worker that dies before it is ready, or young twice in a row of the same
 * cause (the same signal or exit status), makes the next one wait twice as long as the last, up
 * to a second.  One that served a while is replaced at once, and so is one killed young once,
 * or by SIGKILL however often (an operator, a soak, a supervisor): rapid kills must not stall
 * readers for a back-off.  A request that kills every worker ends at the second death anyway
 * (EIO).  The mount is never given up. */
static void schedule_restart(const struct worker *dead, int status)
{
	uint64_t now = mono_ms();
	bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
	bool young = now - dead->started_ms < SHORT_LIFE_MS && !killed;
	bool looping = !dead->ready || (young && K.young_status == status);
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

static void reap_current(pid_t pid, int status, const char *how)
{
	close(K.cur.ctl);
	struct worker dead = K.cur;
	K.cur = (struct worker){ .ctl = -1, .gen = dead.gen };
	if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_GONE) {
		log_info("the fuse connection ended; exiting");
		if (K.stored)
			unstore_fds();
		shutdown_and_exit(0, true);
	}
	record_death(pid, status, dead.gen, how);
	decide_after(&dead, status);
	if (K.old.pid)
		upgrade_failed(how);
	else
		schedule_restart(&dead, status);
}

/* A test's (LXCFS_FAULT_REAP_STANDBY_FIRST_MS): the standby that took over at the serving
 * worker's death, and ends, reaped before that worker. */
static void reap_standby_first(void)
{
	long ms = fault_long("LXCFS_FAULT_REAP_STANDBY_FIRST_MS", 0);
	pid_t sb = standby_pid();
	siginfo_t si = { 0 };
	if (ms <= 0 || !sb || !K.cur.pid || waitid(P_PID, (id_t)K.cur.pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid != K.cur.pid)
		return;
	for (long i = 0; i < ms; i++) {
		int status;
		if (waitpid(sb, &status, WNOHANG) == sb) {
			standby_reaped(sb, status);
			return;
		}
		usleep(1000);
	}
}

void reap(void)
{
	int status;
	pid_t pid;
	reap_standby_first();
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		char how[96];
		describe(status, how, sizeof(how));
		if (pid == K.old.pid)
			reap_old(status, how);
		else if (pid == K.rebinder) {
			K.rebinder = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warn("the rebind tier %s: some dead mounts may be left (see above)", how);
		} else if (pid == K.cur.pid)
			reap_current(pid, status, how);
		else
			standby_reaped(pid, status);
	}
}

/* The new worker of an upgrade serves: its predecessor drains. */
static void upgrade_done(void)
{
	if (K.old.pid)
		tell(&K.old, MSG_STOP, 0);
	snprintf(K.last_upgrade, sizeof(K.last_upgrade), "generation %llu (lxcfs %s) replaced generation %llu%s",
		 (unsigned long long)K.cur.gen, LXCFS_VERSION,
		 (unsigned long long)(K.old.pid ? K.old.gen : K.reinit_from), K.old.pid ? "" : " through reinit");
	K.reinit_from = 0;
	log_info("upgrade: %s", K.last_upgrade);
}

static void rebind_now(void)
{
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	K.rebind_pending = false;
	K.rebinder = rebind_start(path, K.opt->mountpoint, K.replaced);
	if (K.rebinder < 0) {
		log_error("cannot start the rebind tier: %s", strerror(-K.rebinder));
		K.rebinder = 0;
	}
}

void handle_ctl(struct worker *w)
{
	struct msg m;
	int r = proto_recv(w->ctl, &m);
	if (r == 0 && m.type == MSG_READY && w == &K.cur && m.fds.fd[FD_LIFELINE] >= 0) {
		standby_lifeline(w, m.fds.fd[FD_LIFELINE]);
		m.fds.fd[FD_LIFELINE] = -1;
	}
	if (r == 0)
		fdset_close(&m.fds); /* (nothing else comes with a worker's message) */
	if (r < 0 || m.type != MSG_READY)
		return;
	w->ready = true;
	K.upgrade_deadline_ms = 0;
	save_header();
	if (w == &K.cur && (K.old.pid || K.reinit_from))
		upgrade_done();
	if (w == &K.cur && sd_notify_enabled()) {
		char msg[PATH_MAX + 96];
		snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d\nSTATUS=serving %s (generation %llu)", (int)getpid(),
			 K.opt->mountpoint, (unsigned long long)K.cur.gen);
		sd_notify_fds(msg, NULL, 0);
	}
	if (w == &K.cur && K.replacing)
		finish_replacing();
	if (w == &K.cur && K.rebind_pending)
		rebind_now();
	standby_schedule();
	write_status();
}
