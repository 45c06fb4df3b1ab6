/* The warm standby: a worker process started ahead of need, its binary loaded and linked, waiting
 * for START on its control socket.  When the serving worker dies, the keeper hands the
 * connection to the standby instead of forking and executing a new worker, so a restart costs
 * the readers the worker's own set-up (a few milliseconds), not an exec and a dynamic link on
 * top (6-12 ms under load on 2 cpus, measured).
 *
 * It holds nothing of the connection until START: no fuse fd, no state.  It is started once a
 * worker is ready and nothing else is under way (an upgrade, a replacement); an upgrade drops it,
 * since it runs the old binary, and the next ready worker starts one of the new.  A binary
 * replaced on disk without an upgrade is noticed at the restart: the standby is dropped and the
 * worker started from the disk, as without a standby.  It ends when the keeper closes its socket
 * (a drop, a stop, the keeper's exec or death). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/selfpath.h"
#include "reinit/keeper/keeper_int.h"

/* A standby starts this long after the worker it stands by for is ready: its exec and dynamic
 * link (about 3 ms of cpu) would otherwise compete with the readers a restart left waiting. */
#define STANDBY_DELAY_MS 250

static struct {
	pid_t pid;
	int ctl;
	uint64_t at_ms; /* when to start one (0: not asked) */
	dev_t dev; /* the binary it runs, to notice one replaced on disk */
	ino_t ino;
} sb = { .ctl = -1 };

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

/* No standby any more: its socket (already handed on, or closed by the caller) forgotten. */
static void forget(void)
{
	sb.pid = 0;
	sb.ctl = -1;
}

void standby_schedule(void)
{
	if (!sb.pid && !K.opt->no_standby)
		sb.at_ms = mono_ms() + STANDBY_DELAY_MS;
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
		log_warn("cannot start a standby worker: %s; a restart starts one from scratch", strerror(-pid));
		return;
	}
	sb.pid = pid;
	sb.ctl = ctl;
	sb.dev = st.st_dev;
	sb.ino = st.st_ino;
	log_debug("standby worker %d started", (int)pid);
	write_status();
}

void standby_drop(const char *why)
{
	if (!sb.pid)
		return;
	log_info("standby worker %d dropped: %s", (int)sb.pid, why);
	close(sb.ctl); /* it ends on the closed socket; child_wait kills one stuck past a second */
	child_wait(sb.pid, 1000, NULL);
	forget();
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
	int r = proto_send(sb.ctl, MSG_START, start, sizeof(*start), fds);
	if (r < 0) {
		log_warn("standby worker %d cannot take START (%s): starting one from scratch", (int)sb.pid,
			 strerror(-r));
		standby_drop("START refused");
		return false;
	}
	K.cur = (struct worker){ .pid = sb.pid, .ctl = sb.ctl, .gen = start->gen, .reinit = start->reinit,
				 .started_ms = mono_ms() };
	log_info("standby worker %d takes over (generation %llu)", (int)sb.pid, (unsigned long long)start->gen);
	forget(); /* (its socket is the worker's now) */
	return true;
}

bool standby_reaped(pid_t pid, const char *how)
{
	if (!sb.pid || pid != sb.pid)
		return false;
	log_warn("standby worker %d %s; the next ready worker starts another", (int)pid, how);
	close(sb.ctl);
	forget();
	write_status();
	return true;
}
