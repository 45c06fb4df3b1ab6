/* The pidfile: write-locked for the life of the process, so a second instance refuses to start. */
#ifndef LXCFS_PIDFILE_H
#define LXCFS_PIDFILE_H

#include <sys/types.h>

/* Locks and writes path.  -EEXIST (after logging who holds it) if another process has it. */
int pidfile_acquire(const char *path);
void pidfile_release(const char *path, int fd);
/* The pid holding path's lock (a daemon of ours, or upstream's: it locks the same way), 0 if
 * none, -1 if the pidfile cannot be read (then nobody can tell). */
pid_t pidfile_holder(const char *path);

#endif
