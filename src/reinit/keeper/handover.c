/* The keeper's live upgrade (SIGUSR1): it re-executes the binary on disk and hands its next image
 * the connection, the state, its pidfile lock and its running worker as named fds
 * (KEEPER_RESUME); that image adopts them and starts a worker of the new binary beside the old
 * one, which drains once the new one is ready. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/selfpath.h"
#include "reinit/history.h"
#include "reinit/keeper/keeper_int.h"
#include "reinit/legacy.h"
#include "reinit/probe.h"
#include "reinit/reinit.h"
#include "version.h"

static void refuse(const char *why)
{
	snprintf(K.last_upgrade, sizeof(K.last_upgrade), "%.250s", why);
	write_status();
}

/* Runs the new worker binary's probe: can it take this state over? */
static bool probe_upgrade(char *why, size_t size)
{
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	return probe_state(path, K.st.fd, why, size);
}

/* Whether the upgrade goes through reinit (*reinit), or is refused (false; logged). */
static bool upgrade_tier(bool force_reinit, bool *reinit)
{
	struct tier_facts f = { .reinit_mask = K.reinit_mask, .exit_code = -1, .reinit_requested = force_reinit };
	if (force_reinit && tier_decide(&f) != TIER_REINIT) {
		log_error("reinit requested, but this kernel has no FUSE_DEV_IOC_REINIT; nothing changed");
		refuse("refused: this kernel has no FUSE_DEV_IOC_REINIT");
		return false;
	}
	save_header(); /* only if it is sound: a damaged one must make the probe refuse */
	char why[512];
	*reinit = force_reinit;
	if (force_reinit || probe_upgrade(why, sizeof(why)))
		return true;
	f.probe_refused = true;
	if (tier_decide(&f) != TIER_REINIT) {
		char r[256];
		snprintf(r, sizeof(r), "refused: %.200s", why);
		log_error("upgrade refused by the binary on disk: %s; lxcfs %s keeps serving", why, LXCFS_VERSION);
		refuse(r);
		return false;
	}
	log_warn("the binary on disk cannot resume (%s): upgrading through reinit", why);
	*reinit = true;
	return true;
}

void upgrade(bool force_reinit)
{
	if (K.old.pid || !K.cur.pid) {
		log_warn("upgrade requested while a worker change is under way; ignored");
		return;
	}
	bool reinit;
	if (!upgrade_tier(force_reinit, &reinit))
		return;
	char **av = calloc((size_t)K.argc + 3, sizeof(char *));
	char fdarg[16];
	if (!av) {
		snprintf(K.last_upgrade, sizeof(K.last_upgrade), "failed: out of memory");
		log_error("upgrade failed: out of memory; lxcfs %s keeps serving", LXCFS_VERSION);
		write_status();
		return;
	}
	av[0] = K.argv[0];
	av[1] = MODE_KEEPER_RESUME;
	av[2] = fdarg;
	for (int i = 1; i < K.argc; i++)
		av[i + 2] = K.argv[i];
	struct fdset fds = FDSET_NONE;
	fds.fd[FD_FUSE] = K.fuse_fd;
	fds.fd[FD_STATE] = K.st.fd;
	fds.fd[FD_CTL] = K.cur.ctl;
	fds.fd[FD_HISTORY] = K.history_fd;
	fds.fd[FD_PSI] = K.psi_fd;
	struct msg_keeper_resume r = { .gen = K.cur.gen, .worker_pid = K.cur.pid, .pidfile = K.pidfd, .reinit = reinit,
				       .virt_on = !K.virt_off, .worker_v1 = K.cur.legacy };
	standby_drop("an upgrade: it runs the old binary"); /* (the next image starts its own) */
	log_info("upgrading%s: re-executing %s", reinit ? " through reinit" : "", K.self);
	int e = proto_exec_self(K.self, av, 2, K.pidfd, MSG_KEEPER_RESUME, &r, sizeof(r), &fds);
	log_error("upgrade failed: cannot execute %s: %s", K.self, strerror(-e));
	free(av);
}

/* The hand-over our previous image left on the socket numbered arg (or, from a binary of
 * protocol version 0, spelt out in arg itself). */
static int receive_handover(const char *arg, struct msg *m)
{
	if (legacy_spec(arg))
		return legacy_keeper_resume(arg, m);
	int r = proto_recv_handover(arg, MSG_KEEPER_RESUME, m);
	if (r < 0)
		log_error("cannot read the hand-over from the previous keeper (%s): %s", arg, strerror(-r));
	return r;
}

/* An upgrade through reinit: the old state may be of a format we cannot read, so we start from
 * an empty one, once the old worker no longer reads the device (it could take the new INIT). */
static int adopt_for_reinit(int old_state)
{
	tell(&K.old, MSG_STOP, 0);
	child_wait(K.old.pid, 10000, NULL);
	close(K.old.ctl);
	close(old_state);
	K.reinit_from = K.old.gen;
	K.old = (struct worker){ .ctl = -1, .gen = K.old.gen };
	K.st.fd = -1;
	return fresh_state();
}

int adopt(const char *arg, bool *reinit)
{
	struct msg m;
	if (receive_handover(arg, &m) < 0)
		return -EINVAL;
	const struct msg_keeper_resume *r = &m.u.keeper_resume;
	*reinit = r->reinit;
	K.virt_off = !r->virt_on;
	K.psi_fd = m.fds.fd[FD_PSI];
	if (K.psi_fd < 0) /* from an older keeper (or without triggers) none yet */
		psi_store_new();
	/* the history came with version 0's field 8; from an older keeper there is none yet */
	K.history_fd = m.fds.fd[FD_HISTORY] >= 0 ? m.fds.fd[FD_HISTORY] : history_create();
	K.fuse_fd = m.fds.fd[FD_FUSE];
	K.pidfd = m.fds.fd[FD_PIDFILE];
	/* a keeper of protocol version 0 ran a worker that speaks version 1 */
	K.old = (struct worker){ .pid = r->worker_pid, .ctl = m.fds.fd[FD_CTL], .gen = r->gen, .ready = true,
				 .legacy = legacy_spec(arg) || r->worker_v1 };
	if (*reinit)
		return adopt_for_reinit(m.fds.fd[FD_STATE]);
	const char *why;
	if (state_attach_header(&K.st, m.fds.fd[FD_STATE], &why) < 0) {
		log_error("re-executed keeper cannot read the state: %s", why);
		return -EPROTO;
	}
	/* Our pidfile stays locked: an fcntl lock belongs to the process, and exec keeps it. */
	return 0;
}

/* The worker of the new binary, beside the adopted one. */
void start_after_adopt(bool reinit)
{
	if (reinit) {
		if (spawn(K.old.gen + 1, true) < 0) {
			/* the old worker is gone: keep trying, the next one resets again */
			log_error("cannot start the worker of the upgrade: %s; retrying", strerror(errno));
			set_tier(TIER_REINIT, "the upgrade's worker did not start");
			K.restart_at_ms = mono_ms() + BACKOFF_MAX_MS;
		}
		return;
	}
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
