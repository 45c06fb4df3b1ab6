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
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/parse.h"
#include "reinit/holders.h"

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

static const char *const keeper_args[] = { "--restart-on-crash", "--keeper-resume", NULL };
static const char *const replacer_args[] = { "--replace", NULL };

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

/* pid is a worker serving mnt (canonical): fds of its spec in *fds. */
static bool serves(pid_t pid, const char *mnt, struct buf *b, long fds[2])
{
	char have[PATH_MAX];
	const char *argv[64];
	int argc = cmdline(pid, b, argv, 64);
	return argc >= 4 && strcmp(argv[0], "lxcfs-worker") == 0 &&
	       (strcmp(argv[1], "--serve") == 0 || strcmp(argv[1], "--serve-reinit") == 0) &&
	       sscanf(argv[2], "%ld,%ld,", &fds[0], &fds[1]) == 2 &&
	       mount_canonical(argv[argc - 1], have, sizeof(have)) == 0 && strcmp(have, mnt) == 0;
}

bool worker_serves(pid_t pid, const char *mnt)
{
	char want[PATH_MAX];
	struct buf b = BUF_INIT;
	long fds[2];
	bool r = mount_canonical(mnt, want, sizeof(want)) == 0 && serves(pid, want, &b, fds);
	buf_free(&b);
	return r;
}

/* The history fd number a worker was given ($LXCFS_HISTORY_FD in its environment), or -1. */
static int history_fd_of(pid_t pid)
{
	char path[64];
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = -1;
	if (file_read(path, &b) == 0)
		for (size_t off = 0; off < b.len; off += strnlen(b.data + off, b.len - off) + 1)
			if (b.len - off > 17 && strncmp(b.data + off, "LXCFS_HISTORY_FD=", 17) == 0)
				fd = atoi(b.data + off + 17);
	buf_free(&b);
	return fd;
}

/* Whether the orphan pid (its fuse fd at fd) serves the lxcfs mounted at mnt now.  A worker
 * whose keeper was killed and whose mount was then detached (Incus's stop: SIGKILL, lazy
 * unmount) lives on while a copy of that mount stays in some other namespace (one made with
 * private propagation); taking its connection over would leave mnt without a mount.  Where the
 * kernel cannot name the connection, a mount of lxcfs at mnt must do. */
static bool serves_mount_at(pid_t pid, long fd, const char *mnt)
{
	dev_t at, conn;
	if (lxcfs_mount_at(mnt, &at) < 0)
		return false;
	return fuse_fd_device(pid, (int)fd, &conn) < 0 || conn == at;
}

pid_t orphan_take(const char *mnt, int *fuse_fd, int *state_fd, int *history_fd)
{
	char want[PATH_MAX];
	if (mount_canonical(mnt, want, sizeof(want)) < 0)
		return 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct buf b = BUF_INIT;
	pid_t found = 0;
	long fds[2] = { -1, -1 };
	while (d && !found && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (!serves(pid, want, &b, fds))
			continue;
		pid_t parent = parent_of(pid);
		/* `lxcfs --replace` hands its worker to the next start once the old lxcfs is gone
		 * (a service manager may start us as soon as the old daemon dies): wait for it */
		for (int i = 0; i < REPLACER_WAIT_MS / 20 && parent > 1 && replacer_running(parent); i++) {
			if (i == 0)
				log_info("worker %d serves %s for `lxcfs --replace` (pid %d): waiting for it to hand "
					 "the worker over", (int)pid, want, (int)parent);
			nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
			parent = parent_of(pid);
		}
		if (parent > 1 && (is_keeper(parent, &b) || replacer_running(parent)))
			continue; /* its keeper lives: not ours to take */
		if (!serves_mount_at(pid, fds[0], want)) {
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
	if (!found)
		return 0;
	int pfd = (int)syscall(SYS_pidfd_open, found, 0);
	if (pfd < 0)
		return -errno;
	*fuse_fd = (int)syscall(SYS_pidfd_getfd, pfd, (int)fds[0], 0);
	*state_fd = *fuse_fd >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd, (int)fds[1], 0) : -1;
	int err = errno;
	int hfd = history_fd_of(found);
	if (*state_fd >= 0 && hfd >= 0) {
		int h = (int)syscall(SYS_pidfd_getfd, pfd, hfd, 0);
		if (h >= 0)
			*history_fd = h;
	}
	close(pfd);
	if (*state_fd < 0) {
		if (*fuse_fd >= 0)
			close(*fuse_fd);
		log_warn("worker %d serves %s without its keeper, but its fds cannot be taken: %s", (int)found, want,
			 strerror(err));
		return -err;
	}
	return found;
}

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
	log_warn("worker %d of the previous keeper still serves the connection; ending it", (int)pid);
	holder_end(pid, theirs);
}
