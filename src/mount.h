/* Mounting and unmounting the filesystem ourselves: whoever holds the returned /dev/fuse fd
 * holds the connection (the keeper in --restart-on-crash mode). */
#ifndef LXCFS_MOUNT_H
#define LXCFS_MOUNT_H

/* Opens /dev/fuse and mounts it at mnt as "lxcfs" of type fuse.lxcfs with MS_* flags.  extra:
 * fuse options to add (comma separated, may be NULL).  Returns the fd or -errno. */
int fuse_mount_fd(const char *mnt, const char *extra, unsigned long flags);
/* Unmounts mnt if it is our mount; lazily if busy.  0 or -errno. */
int fuse_unmount(const char *mnt);

/* A non-zero fs.fuse.default_request_timeout (Linux >= 6.15) makes the kernel abort the whole
 * connection when a request waits that long: a restarting worker would lose every container's
 * mounts.  Logs a warning.  path: the sysctl file (NULL for /proc's); returns the value or -1. */
long warn_request_timeout(const char *path);

#endif
