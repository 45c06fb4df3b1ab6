/* The keeper's connection and state: taken over from systemd's fd store or from an orphaned
 * worker, mounted afresh where nothing can resume it, a new state for a reset; the keeper's copy
 * of the state header and its repair; `lxcfs --replace`'s staging mount. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mount.h"
#include "lib/pidfile.h"
#include "lib/selfpath.h"
#include "reinit/claim.h"
#include "reinit/history.h"
#include "reinit/initrec.h"
#include "reinit/keeper/keeper_int.h"
#include "reinit/orphan.h"
#include "reinit/psistore.h"
#include "reinit/reinit.h"
#include "reinit/sdnotify.h"

/* A store for PSI triggers, where they are asked for and none is held (a new connection has none
 * of the old one's files, so it gets a new store too). */
void psi_store_new(void)
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

/* systemd keeps a copy of the connection and the state: whatever dies, the next start of the
 * service gets them back (a restart of the service is then a takeover, not a new mount). */
void store_fds(void)
{
	if (!sd_notify_enabled())
		return;
	sd_store_fd(fd_name(FD_FUSE), K.fuse_fd);
	sd_store_fd(fd_name(FD_STATE), K.st.fd);
	if (K.history_fd >= 0)
		sd_store_fd(fd_name(FD_HISTORY), K.history_fd);
	K.stored = true;
}

void unstore_fds(void)
{
	sd_unstore_fd(fd_name(FD_FUSE));
	sd_unstore_fd(fd_name(FD_STATE));
}

/* A new, empty state: for a worker that resets the connection rather than resuming it. */
int fresh_state(void)
{
	if (state_renew(&K.st, K.have_saved ? &K.saved : NULL) < 0)
		return -1;
	K.have_saved = false;
	psi_store_new();
	K.st.hdr->keeper_pid = getpid();
	if (K.stored)
		sd_store_fd(fd_name(FD_STATE), K.st.fd);
	return 0;
}

/* The keeper's copy of a good header (layout, INIT record), taken whenever the header is valid
 * and the INIT exchange complete. */
void save_header(void)
{
	if (state_save_header(&K.st, &K.saved))
		K.have_saved = true;
}

/* A damaged header is put back before a new worker needs it: the layout is this version's, the
 * INIT record the keeper's copy, or without one the record as found (the worker's replay checks
 * it against what it would answer), the generation the keeper's own count.  The journal and the
 * snapshot entries the worker checks one by one. */
void repair_header(void)
{
	const char *damage, *how;
	int r = state_repair_header(&K.st, K.have_saved ? &K.saved : NULL, K.cur.gen, &damage, &how);
	if (r == 0)
		save_header();
	else if (r > 0)
		log_error("state header damaged (%s); repaired from %s", damage, how);
	else
		log_error("state header damaged (%s), and not repaired (%s)", damage, how);
}

/* Nothing can resume this connection and this kernel cannot reset it: rather than restart workers
 * that cannot serve it while its readers wait for ever, end it (its readers get ENOTCONN at once)
 * and mount afresh; the rebind tier then heals the containers' mounts of it, as after a crash of
 * everything.  0, or -1 (logged). */
int remount(void)
{
	char path[PATH_MAX];
	dev_t dead = 0;
	log_error("the connection cannot be resumed from the state and this kernel cannot reset it: "
		  "ending it and mounting %s afresh (its readers get ENOTCONN until the rebind heals them)",
		  K.opt->mountpoint);
	if (K.stored)
		unstore_fds();
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

/* systemd's fd store: 1 if we took the connection over, 0 if it holds none, -1 if it holds one we
 * cannot use (detached first, so that the rebind tier heals what used it). */
static int from_fd_store(void)
{
	sd_listen_init();
	int fuse = sd_listen_take(fd_name(FD_FUSE)), stfd = sd_listen_take(fd_name(FD_STATE));
	K.history_fd = sd_listen_take(fd_name(FD_HISTORY));
	const char *why = "the fuse fd or the state is missing";
	if (fuse >= 0 && stfd >= 0) {
		K.stored = true;
		if (take_over_fds(fuse, stfd, "systemd's fd store", &why) == 0)
			return 1;
		fuse = stfd = -1;
	}
	if (fuse < 0 && stfd < 0 && !K.stored)
		return 0;
	log_error("systemd's fd store holds a connection we cannot resume (%s): mounting afresh", why);
	unstore_fds();
	take_over_mountpoint(K.opt->mountpoint, &K.replaced, true);
	if (fuse >= 0)
		close(fuse);
	if (stfd >= 0)
		close(stfd);
	K.stored = false;
	return -1;
}

/* The connection may have outlived its keeper: in systemd's fd store, or held by the orphaned
 * worker.  0 if we took it over; -1 to mount afresh. */
int resume_connection(void)
{
	int r = from_fd_store();
	if (r != 0)
		return r > 0 ? 0 : -1;
	struct fdset fds = FDSET_NONE;
	pid_t orphan = orphan_take(K.opt->mountpoint, &fds);
	if (orphan <= 0)
		return -1;
	if (fds.fd[FD_HISTORY] >= 0) {
		if (K.history_fd >= 0)
			close(K.history_fd);
		K.history_fd = fds.fd[FD_HISTORY];
	}
	if (fds.fd[FD_PSI] >= 0)
		close(fds.fd[FD_PSI]); /* a new connection of triggers: see take_over_fds */
	char from[64];
	const char *why;
	snprintf(from, sizeof(from), "worker %d, whose keeper is gone", (int)orphan);
	if (take_over_fds(fds.fd[FD_FUSE], fds.fd[FD_STATE], from, &why) < 0) {
		log_error("worker %d serves %s without a keeper, but its state is unusable (%s); leaving it",
			  (int)orphan, K.opt->mountpoint, why);
		return -1;
	}
	store_fds();
	return 0;
}

/* `lxcfs --replace`: ours at a staging directory beside the live old lxcfs, its worker started;
 * the rest once that one serves (finish_replacing).  0, or the exit status. */
int start_replacing(void)
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
void finish_replacing(void)
{
	char path[PATH_MAX + 64];
	worker_binary(K.self, path, sizeof(path));
	K.replacing = false;
	int r = replace_finish(path, K.opt->mountpoint, K.staging, &K.repl);
	if (r == -1) {
		tell(&K.cur, MSG_STOP, 0);
		waitpid(K.cur.pid, NULL, 0);
		fuse_unmount(K.staging);
		rmdir(K.staging);
	}
	else
		tell(&K.cur, MSG_HANDOVER, 0);
	unlink(K.statuspath);
	pidfile_release(K.pidpath, K.pidfd);
	exit(r == 0 ? 0 : 1);
}
