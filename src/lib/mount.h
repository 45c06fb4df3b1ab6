/* Mounting and unmounting the filesystem ourselves: whoever holds the returned /dev/fuse fd
 * holds the connection (the keeper in --restart-on-crash mode). */
#ifndef LXCFS_MOUNT_H
#define LXCFS_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Opens /dev/fuse and mounts it at mnt as "lxcfs" of type fuse.lxcfs with MS_* flags.  extra:
 * fuse options to add (comma separated, may be NULL).  Returns the fd or -errno. */
int fuse_mount_fd(const char *mnt, const char *extra, unsigned long flags);
/* Before mounting at mnt: a live lxcfs mount there is refused (-EBUSY); a dead one (its daemon
 * gone: ENOTCONN), or any lxcfs mount when ours (a connection we give up), is detached and its
 * device returned in *replaced, so that the rebind tier can heal the bind mounts containers
 * made of it.  0 with *replaced = 0 when nothing was there. */
int take_over_mountpoint(const char *mnt, dev_t *replaced, bool ours);
/* 0 if the top mount at path (canonical) is an lxcfs mount, live or not, with its device in
 * *dev; -ENOENT if it is not. */
int lxcfs_mount_at(const char *path, dev_t *dev);
/* How long a mount's daemon has to answer a statfs before it is said not to answer. */
#define MOUNT_PROBE_MS 5000
/* 0 if the top mount at path (canonical) is a live lxcfs mount, with its device in *dev;
 * -ENOENT if it is not an lxcfs mount, -ENOTCONN if dead, -ETIMEDOUT if it does not answer
 * within timeout_ms. */
int live_lxcfs_at(const char *path, dev_t *dev, int timeout_ms);
/* The device of the connection that process pid (0: ours) holds at fd, from its fdinfo (Linux
 * shows it since 6.16): 0, or -1 if this kernel does not say. */
int fuse_fd_device(pid_t pid, int fd, dev_t *dev);
/* Whether some lxcfs mount of device dev is in our mount namespace. */
bool lxcfs_dev_mounted(dev_t dev);
/* mnt as mountinfo writes it: absolute, its parent canonical; the last component itself is not
 * resolved (it may be a dead mount that answers nothing). */
int mount_canonical(const char *mnt, char *dst, size_t size);
/* statfs(path) in a child killed after timeout_ms: 0, -ENOTCONN for a dead FUSE mount,
 * -ETIMEDOUT for one whose daemon does not answer, or another -errno. */
int statfs_probe(const char *path, int timeout_ms);
/* Ends the fuse connection of device dev through fusectl, where it is mounted: every request of
 * it fails with ENOTCONN, whoever still holds a copy of its fd. */
void fuse_abort(dev_t dev);
/* An O_PATH fd of rel beneath the mount mntfd: through no symlink and into no other mount, so
 * that a path from a mount's root can never lead out of the tree.  -1 with errno (ENOSYS before
 * Linux 5.6, which has no openat2). */
int mount_open_beneath(int mntfd, const char *rel);
/* Unmounts mnt if it is our mount; lazily if busy.  0 or -errno. */
int fuse_unmount(const char *mnt);

/* A non-zero fs.fuse.default_request_timeout (Linux >= 6.15) makes the kernel abort the whole
 * connection when a request waits that long: a restarting worker would lose every container's
 * mounts.  Logs a warning.  path: the sysctl file (NULL for /proc's); returns the value or -1. */
long warn_request_timeout(const char *path);

#endif
