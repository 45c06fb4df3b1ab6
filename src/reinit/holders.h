/* Who else holds the open file of our fuse connection.
 *
 * FUSE_DEV_IOC_REINIT makes the kernel send a new FUSE_INIT, which goes to whoever reads the
 * connection first: a reader that is not the new worker (an old worker, stopped or stuck, or
 * anything else with a copy of the fd) would take it, and the new worker would wait in vain.
 * Before a reinit the worker therefore ends every other process that reads the connection; a
 * keeper that takes a connection over ends the worker it replaces the same way (orphan.c). */
#ifndef LXCFS_HOLDERS_H
#define LXCFS_HOLDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct holder {
	pid_t pid;
	int fd; /* its descriptor of the same open file */
};

/* Every descriptor of another process (only: of that process alone; 0: of every one) that
 * refers to the same open file as fd: found with kcmp(KCMP_FILE), or where the kernel has no
 * kcmp by setting O_APPEND on the file (flags belong to the open file, not to a descriptor) and
 * reading the flags back in the others' fdinfo.  The count, *out malloc'd (free it), or -errno. */
int holders_find(int fd, pid_t only, struct holder **out);
/* The same by the flags alone, as on a kernel without kcmp. */
int holders_find_by_flags(int fd, struct holder **out);

/* pid holds /dev/fuse open (a FUSE daemon, of some connection). */
bool holders_has_fuse(pid_t pid);

/* SIGKILL to pid, then waits (2 s at most) until its descriptor fd is gone: a zombie holds no
 * fd, so the open file is let go of even before its parent reaps it. */
void holder_end(pid_t pid, int fd);
/* SIGTERM to pid, and holder_end if it has not let go of fd within grace_ms (stopped, stuck). */
void holder_stop(pid_t pid, int fd, int grace_ms);

/* Ends (SIGKILL, then waits until gone, at most 2 s each) every other process that reads the
 * connection: one in read(2) on it, or a worker of ours (lxcfs-worker); the pids in keep are
 * spared.  Others that only hold it (an fd store) are logged and left.  Returns how many were
 * ended, or -errno if the holders could not be listed. */
int holders_end_readers(int fd, const pid_t *keep, size_t nkeep);

#endif
