#include "reinit/replace.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/pidfile.h"
#include "reinit/claim.h"
#include "reinit/holders.h"
#include "reinit/orphan.h"
#include "reinit/heal/rebind.h"

#define DEATH_WAIT_MS 5000

/* The pid written in path (a daemon that locks no pidfile still writes one), or 0. */
static pid_t pid_in_file(const char *path)
{
	char text[32];
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return 0;
	char *end;
	long v = strtol(text, &end, 10);
	return v > 1 && v < INT_MAX && (*end == '\n' || *end == '\0') ? (pid_t)v : 0;
}

int replace_find(const char *mnt, const char *pidfile, struct replace_target *t)
{
	char path[PATH_MAX], comm[64] = "";
	*t = (struct replace_target){ .pidfd = -1 };
	int r = mount_canonical(mnt, path, sizeof(path));
	if (r == 0)
		r = live_lxcfs_at(path, &t->dev, MOUNT_PROBE_MS);
	if (r == -ENOENT || r == -ENOTCONN) {
		log_info("replace: %s holds %s: nothing to replace (a plain start takes it)", mnt,
			 r == -ENOENT ? "no lxcfs mount" : "a dead lxcfs mount");
		return 1;
	}
	if (r < 0) {
		log_error("replace: %s: %s", mnt, strerror(-r));
		return -1;
	}
	pid_t pid = pidfile_holder(pidfile);
	if (pid <= 0)
		pid = pid_in_file(pidfile);
	char p[64];
	snprintf(p, sizeof(p), "/proc/%d/comm", (int)pid);
	if (pid <= 0 || file_read_small(AT_FDCWD, p, comm, sizeof(comm)) < 0) {
		log_error("replace: no running daemon is named by %s (the lxcfs at %s is device %u:%u); give its "
			  "pidfile with -p", pidfile, mnt, major(t->dev), minor(t->dev));
		return -1;
	}
	comm[strcspn(comm, "\n")] = '\0';
	if (strcmp(comm, WORKER_NAME) == 0 || keeper_of_ours(pid)) {
		log_info("replace: the lxcfs at %s is ours already (pid %d): nothing to replace", mnt, (int)pid);
		return 1;
	}
	if (strcmp(comm, "lxcfs") != 0 || !holders_has_fuse(pid)) {
		log_error("replace: pid %d, named by %s, is %s: not an lxcfs daemon; nothing done", (int)pid, pidfile,
			  strcmp(comm, "lxcfs") ? comm : "lxcfs without /dev/fuse open");
		return -1;
	}
	t->pid = pid;
	t->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (t->pidfd < 0) {
		log_error("replace: pidfd_open(%d): %s (Linux >= 5.3 is needed)", (int)pid, strerror(errno));
		return -1;
	}
	log_info("replace: %s is served by lxcfs pid %d (device %u:%u)", mnt, (int)pid, major(t->dev), minor(t->dev));
	return 0;
}

/* Runs the pass: `worker --rebind --live-dev DEV staging`.  Its exit status, or -1. */
static int move_mounts(const char *worker, const char *staging, dev_t dev)
{
	char spec[32];
	snprintf(spec, sizeof(spec), "%u:%u", major(dev), minor(dev));
	char *argv[] = { WORKER_NAME, MODE_REBIND, "--live-dev", spec, (char *)staging, NULL };
	pid_t pid = spawn_child(&(struct spawn){ .path = worker, .argv = argv, .out = -1, .err = -1 });
	int status;
	if (pid < 0 || child_wait(pid, -1, &status) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* SIGKILL: on SIGTERM it would unmount the mountpoint, which holds ours by now. */
static void end_daemon(struct replace_target *t)
{
	if (syscall(SYS_pidfd_send_signal, t->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH) {
		log_error("replace: cannot kill the old lxcfs (pid %d): %s", (int)t->pid, strerror(errno));
		return;
	}
	struct pollfd p = { .fd = t->pidfd, .events = POLLIN };
	if (poll(&p, 1, DEATH_WAIT_MS) != 1)
		log_error("replace: the old lxcfs (pid %d) is not gone %d ms after SIGKILL", (int)t->pid,
			  DEATH_WAIT_MS);
	else
		log_info("replace: the old lxcfs (pid %d) is stopped", (int)t->pid);
}

int replace_finish(const char *worker, const char *mnt, const char *staging, struct replace_target *t)
{
	dev_t ours = 0, now = 0;
	live_lxcfs_at(staging, &ours, MOUNT_PROBE_MS);
	int st = move_mounts(worker, staging, t->dev);
	char path[PATH_MAX];
	bool took = mount_canonical(mnt, path, sizeof(path)) == 0 && live_lxcfs_at(path, &now, MOUNT_PROBE_MS) == 0 &&
		    now == ours;
	if (took) {
		/* the copies in the containers and at mnt hold the superblock; staging is done */
		if (umount2(staging, MNT_DETACH) < 0)
			log_warn("replace: cannot detach %s: %s", staging, strerror(errno));
		else
			rmdir(staging);
		claim_record(CLAIM_DIR, mnt);
	}
	if (st == 1 || st < 0 || (!took && st != REBIND_EXIT_PARTIAL)) {
		log_error("replace: %s did not move (the pass %s): the old lxcfs serves on", mnt,
			  st < 0 ? "could not run" : "failed");
		return -1;
	}
	if (st == REBIND_EXIT_PARTIAL || !took) {
		log_error("replace: some mounts of the old lxcfs did not move (see above)%s: both serve on; the old "
			  "one (pid %d) is left running", took ? "" : ", the mountpoint among them", (int)t->pid);
		return -2;
	}
	end_daemon(t);
	close(t->pidfd);
	t->pidfd = -1;
	log_info("replace: %s is ours; the worker serves on until `lxcfs --restart-on-crash %s` adopts it", mnt, mnt);
	return 0;
}
