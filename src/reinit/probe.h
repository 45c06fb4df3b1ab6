/* The upgrade probe: before anything is handed to the binary now on disk, that binary is asked
 * (lxcfs-worker --check-state) whether it can take this state over. */
#ifndef LXCFS_PROBE_H
#define LXCFS_PROBE_H

#include <stdbool.h>
#include <stddef.h>

/* true if the worker binary at path can resume from the state memfd state_fd; else false with
 * its reason (or why it could not be asked) in why. */
bool probe_state(const char *path, int state_fd, char *why, size_t size);

#endif
