/* Waiting until nobody has a file open on some mounts: before the daemon of a replaced lxcfs is
 * killed, the readers that opened one of its files before their mount moved finish that read
 * (a `cat` takes microseconds; `top` keeps /proc/stat open for ever, hence the bound). */
#ifndef LXCFS_DRAIN_H
#define LXCFS_DRAIN_H

#include <stddef.h>

/* Waits at most timeout_ms until no process holds a descriptor of a file on any of the mounts
 * ids (global mount ids, as fdinfo's mnt_id gives them).  Those still open then are logged with
 * their process.  Returns how many are left open. */
size_t drain_wait(const int *ids, size_t n, int timeout_ms);

#endif
