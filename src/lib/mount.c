#include "lib/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mountinfo.h"

int statfs_probe(const char *path, int timeout_ms)
{
	/* In a child: statfs on a live but stuck FUSE mount waits for its daemon, and only a fatal
	 * signal ends that wait. */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct statfs sf;
		_exit(statfs(path, &sf) == 0 ? 0 : errno & 0xff);
	}
	int status = 0, r = child_wait(pid, timeout_ms, &status);
	if (r < 0)
		return r;
	return WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
}

struct top_search {
	const char *path;
	struct mntent_info found;
	bool any;
};

static bool note_mount_at(const struct mntent_info *m, void *arg)
{
	struct top_search *t = arg;
	/* Later lines are mounted over earlier ones at the same path. */
	if (strcmp(m->mountpoint, t->path) == 0) {
		t->found = *m;
		t->any = true;
	}
	return true;
}

/* mnt as the kernel writes it in mountinfo: the parent canonicalized (never the last component,
 * which may be a dead mount that answers nothing). */
int mount_canonical(const char *mnt, char *dst, size_t size)
{
	char copy[PATH_MAX], real[PATH_MAX];
	if (snprintf(copy, sizeof(copy), "%s", mnt) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	size_t n = strlen(copy);
	while (n > 1 && copy[n - 1] == '/')
		copy[--n] = '\0';
	const char *dir = ".", *base = copy;
	char *slash = strrchr(copy, '/');
	if (slash) {
		*slash = '\0';
		base = slash + 1;
		dir = slash == copy ? "/" : copy;
	}
	if (!realpath(dir, real))
		return -errno;
	bool root = strcmp(real, "/") == 0;
	int w = snprintf(dst, size, "%s%s%s", root && *base ? "" : real, *base ? "/" : "", base);
	return w < 0 || (size_t)w >= size ? -ENAMETOOLONG : 0;
}

/* The device of the lxcfs mount on top at path (canonical): 1, 0 if the top mount there is
 * something else or nothing, or -errno. */
static int lxcfs_top_at(const char *path, dev_t *dev)
{
	struct top_search *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->path = path;
	int r = mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", note_mount_at, t);
	if (r == 0 && t->any && mountinfo_is_lxcfs(&t->found)) {
		*dev = makedev(t->found.major, t->found.minor);
		r = 1;
	}
	free(t);
	return r;
}

int fuse_fd_device(pid_t pid, int fd, dev_t *dev)
{
	char path[64], text[512];
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	else
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return -1;
	const char *f = strstr(text, "fuse_connection:");
	char *end;
	unsigned long v = f ? strtoul(f + 16, &end, 10) : 0;
	if (!f || end == f + 16)
		return -1;
	*dev = makedev((unsigned)(v >> 20), (unsigned)(v & 0xfffff)); /* the kernel's MKDEV */
	return 0;
}

static bool note_dev(const struct mntent_info *m, void *arg)
{
	dev_t *dev = arg;
	if (mountinfo_is_lxcfs(m) && makedev(m->major, m->minor) == *dev) {
		*dev = 0;
		return false;
	}
	return true;
}

bool lxcfs_dev_mounted(dev_t dev)
{
	dev_t d = dev;
	/* (a table it cannot read proves nothing: mounted, as far as it knows) */
	return mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", note_dev, &d) < 0 || d == 0;
}

int lxcfs_mount_at(const char *path, dev_t *dev)
{
	int r = lxcfs_top_at(path, dev);
	return r < 0 ? r : r ? 0 : -ENOENT;
}

int live_lxcfs_at(const char *path, dev_t *dev, int timeout_ms)
{
	int r = lxcfs_top_at(path, dev);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	return statfs_probe(path, timeout_ms);
}

/* The lxcfs mount on top at path, detached if its connection is gone (any, when ours: a
 * connection we give up).  1: detached, its device in *dev; 0: no lxcfs mount there; -EBUSY: a
 * live one, -ETIMEDOUT: one whose daemon does not answer, both left and not logged (what that
 * means is the caller's to say); another -errno, logged. */
static int detach_dead_top(const char *path, dev_t *dev, bool ours)
{
	int r = lxcfs_top_at(path, dev);
	if (r < 0)
		log_error("cannot read the mount table to look at %s: %s", path, strerror(-r));
	if (r <= 0)
		return r;
	r = ours ? -ENOTCONN : statfs_probe(path, MOUNT_PROBE_MS);
	if (r == 0)
		return -EBUSY;
	if (r == -ETIMEDOUT)
		return r;
	/* ENOTCONN: the connection is gone; ECONNABORTED: it was being aborted as we asked */
	if (r != -ENOTCONN && r != -ECONNABORTED) {
		log_error("%s holds an lxcfs mount that cannot be checked: %s", path, strerror(-r));
		return r;
	}
	if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		r = -errno;
		log_error("%s holds a dead lxcfs mount that cannot be detached: %s", path, strerror(-r));
		return r;
	}
	return 1;
}

int take_over_mountpoint(const char *mnt, dev_t *replaced, bool ours)
{
	*replaced = 0;
	char path[PATH_MAX];
	dev_t dev;
	int r = mount_canonical(mnt, path, sizeof(path));
	if (r < 0) {
		log_error("mountpoint %s: %s", mnt, strerror(-r));
		return r;
	}
	r = detach_dead_top(path, &dev, ours);
	if (r == -EBUSY)
		log_error("%s is already served by a live lxcfs; not mounting over it", path);
	else if (r == -ETIMEDOUT)
		log_error("%s holds an lxcfs mount whose daemon does not answer (stopped?); not touching it", path);
	if (r <= 0)
		return r == -ETIMEDOUT ? -EBUSY : r;
	log_info("%s held %s lxcfs mount (device %u:%u): detached; its bind mounts in containers will "
		 "be rebound to the new mount", path, ours ? "our old" : "a dead", major(dev), minor(dev));
	*replaced = dev;
	/* Before Linux 6.5 a replacement (`lxcfs --replace`) is stacked over the mount it replaced,
	 * which stays below, dead once its daemon is gone: uncovered now, it would fail our mount.
	 * Dead ones are detached too (a few at most); a live one below is mounted over. */
	for (int i = 0; i < 8 && detach_dead_top(path, &dev, false) > 0; i++)
		log_info("%s held another dead lxcfs mount below it (device %u:%u, one a replacement was "
			 "stacked on): detached", path, major(dev), minor(dev));
	return 0;
}

int fuse_mount_fd(const char *mnt, const char *extra, unsigned long flags)
{
	struct stat st;
	if (stat(mnt, &st) < 0) {
		if (errno != ENOENT || mkdir(mnt, 0755) < 0 || stat(mnt, &st) < 0) {
			int e = errno;
			log_error("mountpoint %s: %s", mnt, strerror(e));
			return -e;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("mountpoint %s is not a directory", mnt);
		return -ENOTDIR;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		log_error("cannot open /dev/fuse: %s", strerror(e));
		return -e;
	}
	char opts[1024];
	int n = snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other%s%s", fd,
			 extra && *extra ? "," : "", extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(opts)) {
		close(fd);
		return -E2BIG;
	}
	if (mount("lxcfs", mnt, "fuse.lxcfs", flags, opts) < 0) {
		int e = errno;
		log_error("mount of %s failed: %s", mnt, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

void fuse_abort(dev_t dev)
{
	char path[96];
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort", minor(dev));
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return; /* fusectl not mounted: closing the last fd ends it all the same */
	if (write(fd, "1", 1) < 0)
		log_warn("%s: %s", path, strerror(errno));
	close(fd);
}

int fuse_unmount(const char *mnt)
{
	if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY && umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	int e = errno;
	if (e != EINVAL && e != ENOENT)
		log_warn("unmounting %s: %s", mnt, strerror(e));
	return -e;
}

long warn_request_timeout(const char *path)
{
	char text[32];
	if (file_read_small(AT_FDCWD, path ? path : "/proc/sys/fs/fuse/default_request_timeout", text,
			    sizeof(text)) < 0)
		return -1;
	long v = strtol(text, NULL, 10);
	if (v > 0)
		log_warn("fs.fuse.default_request_timeout is %ld: the kernel will abort the whole fuse "
			 "connection (every container's lxcfs mounts) if a request waits %ld s, as it can "
			 "while a worker restarts; set it to 0", v, v);
	return v;
}

int mount_open_beneath(int mntfd, const char *rel)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV |
					   RESOLVE_NO_MAGICLINKS };
	return (int)syscall(SYS_openat2, mntfd, rel, &how, sizeof(how));
}
