#include "reinit/orphan.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/parse.h"
#include "lib/child.h"
#include "reinit/holders.h"
#include "reinit/proto.h"

#define REPLACER_WAIT_MS 30000 /* its moves and its wait for open files take seconds at most */

/* argv of pid, NUL-separated in b; argc, or -1. */
static int cmdline(pid_t pid, struct buf *b, const char **argv, int max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	buf_reset(b);
	if (file_read(path, b) < 0 || b->len == 0 || !buf_cstr(b))
		return -1;
	int argc = 0;
	for (size_t off = 0; off < b->len && argc < max; off += strlen(b->data + off) + 1)
		argv[argc++] = b->data + off;
	return argc;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], text[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return 0;
	const char *f = stat_field(text, 4);
	return f ? (pid_t)atoi(f) : 0;
}

static bool has_arg(pid_t pid, struct buf *b, const char *const *args)
{
	const char *argv[64];
	int argc = cmdline(pid, b, argv, 64);
	for (int i = 1; i < argc; i++)
		for (const char *const *a = args; *a; a++)
			if (strcmp(argv[i], *a) == 0)
				return true;
	return false;
}

static const char *const keeper_args[] = { OPT_RESTART_ON_CRASH, MODE_KEEPER_RESUME, NULL };
static const char *const replacer_args[] = { OPT_REPLACE, NULL };

static bool is_keeper(pid_t pid, struct buf *b)
{
	return has_arg(pid, b, keeper_args);
}

bool keeper_of_ours(pid_t pid)
{
	struct buf b = BUF_INIT;
	bool r = is_keeper(pid, &b);
	buf_free(&b);
	return r;
}

bool replacer_running(pid_t pid)
{
	struct buf b = BUF_INIT;
	bool r = has_arg(pid, &b, replacer_args);
	buf_free(&b);
	return r;
}

/* pid is a worker of a keeper (either protocol version) serving mnt (canonical). */
static bool serves(pid_t pid, const char *mnt, struct buf *b)
{
	char have[PATH_MAX];
	const char *argv[64];
	int argc = cmdline(pid, b, argv, 64);
	return argc >= 4 && strcmp(argv[0], WORKER_NAME) == 0 &&
	       (strcmp(argv[1], MODE_SERVE) == 0 || strcmp(argv[1], MODE_SERVE_REINIT) == 0) &&
	       mount_canonical(argv[argc - 1], have, sizeof(have)) == 0 && strcmp(have, mnt) == 0;
}

bool worker_serves(pid_t pid, const char *mnt)
{
	char want[PATH_MAX];
	struct buf b = BUF_INIT;
	bool r = mount_canonical(mnt, want, sizeof(want)) == 0 && serves(pid, want, &b);
	buf_free(&b);
	return r;
}

/* Which name the fd whose link reads target has, if it is one we hand over by name. */
static int name_of(const char *target)
{
	if (strcmp(target, "/dev/fuse") == 0)
		return FD_FUSE;
	for (int n = 0; n < FD_N; n++) {
		const char *m = fd_memfd_name(n);
		size_t len = m ? strlen(m) : 0;
		if (m && strncmp(target, "/memfd:", 7) == 0 && strncmp(target + 7, m, len) == 0 &&
		    strcmp(target + 7 + len, " (deleted)") == 0)
			return n;
	}
	return -1;
}

/* The fd numbers of pid's named fds, by what /proc/PID/fd shows them to be: the memfds by their
 * names; of its /dev/fuse fds the one whose connection is the one mounted at mnt (dev at), or,
 * where the kernel does not say, the first.  Whether its connection is the one at mnt. */
static bool named_fds(pid_t pid, dev_t at, int num[FD_N])
{
	char dir[64], link[64 + 256], target[PATH_MAX];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	for (int n = 0; n < FD_N; n++)
		num[n] = -1;
	DIR *d = opendir(dir);
	struct dirent *e;
	bool unknown = false, match = false;
	while (d && (e = readdir(d))) {
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		ssize_t len = isdigit((unsigned char)e->d_name[0]) ? readlink(link, target, sizeof(target) - 1) : -1;
		if (len < 0)
			continue;
		target[len] = '\0';
		int n = name_of(target), fd = atoi(e->d_name);
		dev_t conn;
		if (n < 0 || (n != FD_FUSE && num[n] >= 0) || (n == FD_FUSE && match))
			continue;
		if (n != FD_FUSE)
			num[n] = fd;
		else if (fuse_fd_device(pid, fd, &conn) < 0) {
			unknown = true;
			if (num[n] < 0)
				num[n] = fd;
		} else if (conn == at) {
			match = true;
			num[n] = fd;
		}
	}
	if (d)
		closedir(d);
	return match || (unknown && num[FD_FUSE] >= 0);
}

/* Whether the worker pid's keeper is gone, waiting a while for `lxcfs --replace` to hand it over. */
struct parent_wait {
	pid_t pid, parent;
};

static bool replacer_done(void *arg)
{
	struct parent_wait *w = arg;
	w->parent = parent_of(w->pid);
	return !(w->parent > 1 && replacer_running(w->parent));
}

static bool keeper_gone(pid_t pid, const char *want, struct buf *b)
{
	struct parent_wait w = { pid, parent_of(pid) };
	/* `lxcfs --replace` hands its worker to the next start once the old lxcfs is gone (a
	 * service manager may start us as soon as the old daemon dies): wait for it */
	if (!replacer_done(&w)) {
		log_info("worker %d serves %s for `lxcfs --replace` (pid %d): waiting for it to hand "
			 "the worker over", (int)pid, want, (int)w.parent);
		wait_until(replacer_done, &w, REPLACER_WAIT_MS, 20);
	}
	return !(w.parent > 1 && (is_keeper(w.parent, b) || replacer_running(w.parent)));
}

/* A worker serving want (canonical) whose keeper is gone, with its fds' numbers; 0 if none. */
static pid_t find_orphan(const char *want, int num[FD_N])
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct buf b = BUF_INIT;
	pid_t found = 0;
	while (d && !found && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (!serves(pid, want, &b) || !keeper_gone(pid, want, &b))
			continue; /* its keeper lives: not ours to take */
		/* A worker whose keeper was killed and whose mount was then detached (Incus's stop:
		 * SIGKILL, lazy unmount) lives on while a copy of that mount stays in some other
		 * namespace (one made with private propagation); taking its connection over would
		 * leave want without a mount. */
		dev_t at;
		if (lxcfs_mount_at(want, &at) < 0 || !named_fds(pid, at, num)) {
			log_info("worker %d serves a connection of %s that is not mounted there any more (its "
				 "keeper killed, its mount detached): not taken over; it ends with its last mount "
				 "elsewhere", (int)pid, want);
			continue;
		}
		found = pid;
	}
	if (d)
		closedir(d);
	buf_free(&b);
	return found;
}

/* How long a live mount at our mountpoint has to answer a statfs before the walk looks for its
 * worker anyway (a stopped orphan answers nothing, and is taken all the same). */
#define ORPHAN_PROBE_MS 1000

/* Whether the lxcfs mount at want is dead: its connection gone, as after a crash of keeper and
 * worker together, so that no worker serves it. */
static bool dead_at(const char *want)
{
	dev_t at;
	int r = live_lxcfs_at(want, &at, ORPHAN_PROBE_MS);
	return r == -ENOTCONN || r == -ECONNABORTED;
}

pid_t orphan_take(const char *mnt, struct fdset *fds)
{
	char want[PATH_MAX];
	int num[FD_N];
	if (mount_canonical(mnt, want, sizeof(want)) < 0)
		return 0;
	/* The walk reads every process's command line: on a host of 20,000 processes, most of a
	 * second before the first mount.  Over a dead mount there is nothing for it to find. */
	if (dead_at(want))
		return 0;
	pid_t found = find_orphan(want, num);
	if (!found)
		return 0;
	int pfd = (int)syscall(SYS_pidfd_open, found, 0);
	if (pfd < 0)
		return -errno;
	int err = 0;
	for (int n = 0; n < FD_N; n++) {
		fds->fd[n] = num[n] >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd, num[n], 0) : -1;
		if (num[n] >= 0 && fds->fd[n] < 0 && (n == FD_FUSE || n == FD_STATE) && !err)
			err = errno ? errno : EBADF;
	}
	if (num[FD_STATE] < 0)
		err = ENOENT;
	close(pfd);
	if (err) {
		fdset_close(fds);
		log_warn("worker %d serves %s without its keeper, but its fds cannot be taken: %s", (int)found, want,
			 strerror(err));
		return -err;
	}
	return found;
}

/* How long a worker we replace has to stop on its own before it is killed. */
#define ORPHAN_GRACE_MS 1000

/* A worker of a keeper that died may still serve (systemd ends the whole cgroup, other managers
 * may not): two workers must never share one connection and one state. */
void orphan_end(pid_t pid, int fuse_fd, const char *mnt)
{
	if (pid <= 0)
		return;
	struct holder *h;
	int n = holders_find(fuse_fd, pid, &h);
	int theirs = n > 0 ? h[0].fd : -1;
	if (n >= 0)
		free(h);
	else if (worker_serves(pid, mnt)) /* cannot compare the files: the pid our state names, serving
					     our mountpoint */
		theirs = 0;
	if (theirs < 0)
		return;
	log_warn("worker %d of the previous keeper still serves the connection; stopping it", (int)pid);
	/* SIGTERM first: it answers what it holds, and what a recovery of its own is answering,
	 * where a kill would count one more death for each (EIO at the second). */
	holder_stop(pid, theirs, ORPHAN_GRACE_MS);
}
