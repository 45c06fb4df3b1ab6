/* A worker whose keeper died keeps serving (nothing else holds the connection).  A new keeper
 * on the same mountpoint takes the connection and the state over from it, so the death of a
 * keeper outside systemd ends like a worker's: in a takeover. */
#ifndef LXCFS_ORPHAN_H
#define LXCFS_ORPHAN_H

#include <stdbool.h>
#include <sys/types.h>

/* Finds a worker serving mnt whose keeper is gone and copies its fuse and state fds
 * (pidfd_getfd, Linux >= 5.6).  Returns its pid, 0 if there is none, or -errno. */
pid_t orphan_take(const char *mnt, int *fuse_fd, int *state_fd);

/* pid is an lxcfs-worker serving mnt (by its command line). */
bool worker_serves(pid_t pid, const char *mnt);

#endif
