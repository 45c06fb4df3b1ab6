/* The rebind tier: nothing survived (keeper and worker gone, the connection with them), so the
 * containers' bind mounts of the old lxcfs are dead (ENOTCONN).  Each one is replaced, in its own
 * mount namespace, by a fresh bind of the same path of the new mount (open_tree(OPEN_TREE_CLONE)
 * + move_mount, Linux >= 5.2).
 *
 * Which dead lxcfs mounts are ours to heal:
 *   - those of the device that was mounted at our mountpoint (detached at start: pred);
 *   - orphans: a device mounted nowhere in our namespace (its daemon and mountpoint are gone, as
 *     upstream's unit leaves them), for binds of a path inside the tree (root != "/").
 * Left alone: live lxcfs mounts, mounts of other filesystems, dead mounts of a device still
 * mounted in our namespace at another path (another instance's), and whole-tree mounts of an
 * unknown device (perhaps a nested lxcfs's own mountpoint). */
#ifndef LXCFS_REBIND_H
#define LXCFS_REBIND_H

#include <sys/types.h>

struct rebind_stats {
	unsigned namespaces; /* mount namespaces that held candidates */
	unsigned healed;
	unsigned failed;
	unsigned left; /* dead, but not ours to heal */
};

/* Heals every dead lxcfs mount of every mount namespace from the live lxcfs mount at mnt.
 * pred: device of the dead mount that was at mnt (0: none).  0, or -errno if mnt is not a live
 * lxcfs mount (stats then untouched). */
int rebind_all(const char *mnt, dev_t pred, struct rebind_stats *stats);

/* Runs `worker --rebind mnt [--dead-dev MAJ:MIN]` in a child: its pid, or -errno.  Exit status
 * 0: all healed (or nothing to heal), 3: some could not be, 1: mnt is not a live lxcfs mount. */
pid_t rebind_start(const char *worker, const char *mnt, dev_t pred);
#define REBIND_EXIT_PARTIAL 3

/* "MAJ:MIN" -> dev; -EINVAL on anything else. */
int parse_dev(const char *s, dev_t *out);

#endif
