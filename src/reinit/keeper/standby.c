/* The standby: a worker process started ahead of need, its binary loaded and linked.  When the
 * serving worker dies, the keeper hands the connection to the standby instead of forking and
 * executing a new worker, so a restart costs the readers the worker's own set-up (a few
 * milliseconds), not an exec and a dynamic link on top (6-12 ms under load on 2 cpus, measured).
 *
 * Primed (PRIME, when the serving worker gave us its lifeline with READY): the standby also
 * holds the connection's fds, has attached the state and built everything that only reads it,
 * and watches the serving worker's lifeline (lib/lifeline.h).  At its death the standby takes
 * over by itself, as soon as the dead worker's last thread is gone: before that worker's memory
 * is torn down and before we reap it.  START then finds it serving already.  Without a lifeline
 * (a worker of an older binary, or one that could not make one) the standby stays warm: it holds
 * nothing of the connection and waits for START.
 *
 * It is started once a worker is ready and nothing else is under way (an upgrade, a replacement);
 * an upgrade drops it, since it runs the old binary, and the next ready worker starts one of the
 * new.  A binary replaced on disk without an upgrade is noticed at the restart: the standby is
 * dropped (one that took over already stops, answering what it holds) and the worker started
 * from the disk, as without a standby.  It ends when the keeper closes its socket (a drop, a
 * stop, the keeper's exec or death). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/backoff.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/selfpath.h"
#include "reinit/keeper/keeper_int.h"

/* A standby starts this long after the worker it stands by for is ready: its exec and dynamic
 * link (about 3 ms of cpu) would otherwise compete with the readers a restart left waiting. */
#define STANDBY_DELAY_MS 250
/* A standby that could not be started, or that ended on its own, is started again after this
 * long, doubled at each failure in a row up to the most (lib/backoff.h): a host must not stay
 * without one until its next crash, nor a binary that cannot run be started in a loop. */
#define STANDBY_RETRY_MS 1000
#define STANDBY_RETRY_MAX_MS 60000

static struct {
	pid_t pid;
	int ctl;
	uint64_t at_ms; /* when to start one (0: not asked) */
	struct backoff retry; /* failures to start one, or ends on its own */
	dev_t dev; /* the binary it runs, to notice one replaced on disk */
	ino_t ino;
	uint64_t primed_gen; /* PRIME sent: the generation it serves as (0: warm only) */
	uint64_t spent_gen;  /* the highest generation a dropped primed standby may have served as */
	/* the serving worker's lifeline, from its READY; for that worker only (its generation) */
	int life_fd;
	uint64_t life_gen;
} sb = { .ctl = -1, .life_fd = -1, .retry = BACKOFF_INIT(STANDBY_RETRY_MS, STANDBY_RETRY_MAX_MS) };

pid_t standby_pid(void)
{
	return sb.pid;
}

/* The worker binary now on disk: its path and identity.  0, or -1 if it cannot be stat'ed. */
static int binary_on_disk(char *path, size_t size, struct stat *st)
{
	worker_binary(K.self, path, size);
	return stat(path, st);
}

uint64_t standby_primed_gen(void)
{
	return sb.primed_gen; /* (forget clears it) */
}

/* No standby any more: its socket (already handed on, or closed by the caller) forgotten. */
static void forget(void)
{
	if (sb.primed_gen > sb.spent_gen)
		sb.spent_gen = sb.primed_gen; /* it may have served as that generation (a takeover at a death) */
	sb.pid = 0;
	sb.ctl = -1;
	sb.primed_gen = 0;
}

void standby_lifeline(const struct worker *w, int fd)
{
	if (sb.life_fd >= 0)
		close(sb.life_fd);
	sb.life_fd = fd;
	sb.life_gen = w->gen;
}

/* PRIME: what START will carry, now, with the serving worker's lifeline.  Only for the worker
 * that gave it: a lifeline of another (dead, reaped) worker would read as a death at once. */
static void prime(void)
{
	if (sb.life_fd < 0 || sb.life_gen != K.cur.gen)
		return;
	struct fdset fds = FDSET_NONE;
	fds.fd[FD_FUSE] = K.fuse_fd;
	fds.fd[FD_STATE] = K.st.fd;
	fds.fd[FD_HISTORY] = K.history_fd;
	fds.fd[FD_PSI] = K.psi_fd;
	fds.fd[FD_LIFELINE] = sb.life_fd;
	struct msg_start p = { .gen = K.cur.gen + 1, .virt_on = !K.virt_off, .lifeline = 1 };
	int r = proto_send(sb.ctl, MSG_PRIME, &p, sizeof(p), &fds);
	if (r < 0) {
		log_warn("cannot prime standby worker %d (%s): it waits for START", (int)sb.pid, strerror(-r));
		return;
	}
	sb.primed_gen = p.gen;
}

void standby_schedule(void)
{
	if (!sb.pid && !K.opt->no_standby)
		sb.at_ms = mono_ms() + STANDBY_DELAY_MS;
}

/* Another try after a failure: the wait, in ms. */
static unsigned retry_later(void)
{
	uint64_t now = mono_ms();
	unsigned ms = backoff_failed(&sb.retry, now);
	sb.at_ms = now + ms;
	return ms;
}

uint64_t standby_due_ms(void)
{
	return sb.at_ms;
}

void standby_start(void)
{
	sb.at_ms = 0;
	/* (--no-standby never schedules one) */
	if (sb.pid || !K.cur.pid || !K.cur.ready || K.cur.legacy || K.old.pid || K.replacing)
		return;
	char path[PATH_MAX + 64];
	struct stat st;
	if (binary_on_disk(path, sizeof(path), &st) < 0)
		return;
	int ctl;
	pid_t pid = launch_worker(path, &ctl);
	if (pid < 0) {
		unsigned ms = retry_later();
		log_warn("cannot start a standby worker: %s; trying again in %u s (a restart meanwhile starts "
			 "a worker from the disk)", strerror(-pid), ms / 1000);
		return;
	}
	sb.pid = pid;
	sb.ctl = ctl;
	sb.dev = st.st_dev;
	sb.ino = st.st_ino;
	prime();
	log_debug("standby worker %d started%s", (int)pid, sb.primed_gen ? ", primed" : "");
	write_status();
}

/* A primed standby that took over at a death names itself in the state's header (the pid and
 * generation START would have written): its own death is then a worker's, on the restart record
 * like any other. */
static bool took_over(pid_t pid)
{
	return sb.primed_gen && __atomic_load_n(&K.st.hdr->worker_pid, __ATOMIC_RELAXED) == pid;
}

/* How the standby ended, said once: a worker's death if it had taken over. */
static void ended(pid_t pid, int status, bool dropped)
{
	char how[96];
	describe(status, how, sizeof(how));
	bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (took_over(pid) && !clean) {
		log_warn("standby worker %d, which had taken over at the serving worker's death, %s", (int)pid, how);
		standby_died(pid, status, sb.primed_gen, how);
	} else if (!dropped) {
		unsigned ms = retry_later();
		log_warn("standby worker %d %s; another starts in %u s", (int)pid, how, ms / 1000);
	}
}

void standby_drop(const char *why)
{
	if (!sb.pid)
		return;
	log_info("standby worker %d dropped: %s", (int)sb.pid, why);
	close(sb.ctl); /* it ends on the closed socket; child_wait kills one stuck past a second */
	int status = 0;
	if (child_wait(sb.pid, 1000, &status) == 0)
		ended(sb.pid, status, true);
	forget();
}

uint64_t standby_fresh_gen(uint64_t gen)
{
	return gen > sb.spent_gen ? gen : sb.spent_gen + 1;
}

bool standby_take(const struct msg_start *start, const struct fdset *fds)
{
	if (!sb.pid)
		return false;
	char path[PATH_MAX + 64];
	struct stat st;
	if (binary_on_disk(path, sizeof(path), &st) < 0 || st.st_dev != sb.dev || st.st_ino != sb.ino) {
		standby_drop("the binary on disk changed");
		return false;
	}
	if (sb.primed_gen && (start->reinit || start->gen != sb.primed_gen)) {
		standby_drop(start->reinit ? "primed to resume, and the connection is to be reset"
					   : "primed for another generation");
		return false;
	}
	int r = proto_send(sb.ctl, MSG_START, start, sizeof(*start), fds);
	if (r < 0) {
		/* (if it had taken over at the death, its end, logged next, says what follows) */
		log_warn("standby worker %d cannot take START (%s)", (int)sb.pid, strerror(-r));
		standby_drop("START refused");
		return false;
	}
	K.cur = (struct worker){ .pid = sb.pid, .ctl = sb.ctl, .gen = start->gen, .reinit = start->reinit,
				 .started_ms = mono_ms() };
	log_info("standby worker %d takes over (generation %llu%s)", (int)sb.pid, (unsigned long long)start->gen,
		 sb.primed_gen ? ", primed" : "");
	forget(); /* (its socket is the worker's now) */
	return true;
}

bool standby_reaped(pid_t pid, int status)
{
	if (!sb.pid || pid != sb.pid)
		return false;
	ended(pid, status, false);
	close(sb.ctl);
	forget();
	write_status();
	return true;
}
