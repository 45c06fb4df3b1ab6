/* A worker whose keeper died keeps serving (nothing else holds the connection).  A new keeper
 * on the same mountpoint takes the connection and the state over from it, so the death of a
 * keeper outside systemd ends like a worker's: in a takeover. */
#ifndef LXCFS_ORPHAN_H
#define LXCFS_ORPHAN_H

#include <stdbool.h>
#include <sys/types.h>

#include "reinit/proto.h"

/* Finds a worker serving mnt whose keeper is gone and copies its named fds (proto.h) into *fds
 * with pidfd_getfd (Linux >= 5.6), each found by what /proc/PID/fd shows it to be: fuse and
 * state always, history and psi if it has them (-1 where not).  A worker of `lxcfs --replace` is
 * waited for (bounded) until that one hands it over.  Returns its pid, 0 if there is none, or
 * -errno (nothing left open). */
pid_t orphan_take(const char *mnt, struct fdset *fds);

/* Stops pid if it still holds the open file of fuse_fd (holders.h; by its command line serving
 * mnt if that cannot be told): SIGTERM, SIGKILL if it has not let go of it within a second.  A keeper
 * that took a connection over calls it on the worker its state names: two workers must never
 * share one connection and one state (systemd ends the whole cgroup, other managers may not). */
void orphan_end(pid_t pid, int fuse_fd, const char *mnt);

/* pid is a keeper of ours (by its command line). */
bool keeper_of_ours(pid_t pid);
/* pid runs `lxcfs --replace` (replace.h): a keeper that hands its worker to the next start. */
bool replacer_running(pid_t pid);

/* pid is an lxcfs-worker serving mnt (by its command line). */
bool worker_serves(pid_t pid, const char *mnt);

#endif
