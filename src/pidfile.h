/* The pidfile: write-locked for the life of the process, so a second instance refuses to start. */
#ifndef LXCFS_PIDFILE_H
#define LXCFS_PIDFILE_H

#include <sys/types.h>

/* Locks and writes path.  -EEXIST (after logging who holds it) if another process has it. */
int pidfile_acquire(const char *path);
void pidfile_release(const char *path, int fd);

#endif
