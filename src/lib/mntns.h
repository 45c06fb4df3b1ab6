/* Mount namespaces from the kernel's own list, and their mounts by id, without a process in
 * them: nsfs's NS_MNT_GET_NEXT walks every mount namespace the caller may administer, listmount()
 * and statmount() read one's mounts from outside (Linux 6.13 and later for the fields used here).
 * A walk of /proc finds the same namespaces through their processes: one readlink per process
 * (20,000 on a host of 1,000 containers of 20), where this costs a few calls per namespace. */
#ifndef LXCFS_MNTNS_H
#define LXCFS_MNTNS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/mountinfo.h"

struct mntns {
	int fd;      /* an nsfs fd of the namespace: setns() enters it */
	uint64_t id; /* the kernel's id of it (listmount, statmount) */
	uint64_t ino; /* its inode, as /proc/PID/ns/mnt and lsns show it */
};

/* Our own mount namespace, into *ns: 0 or -errno (-ENOTTY, -EINVAL: the kernel cannot list). */
int mntns_self(struct mntns *ns);
/* The first (oldest) mount namespace, into *ns: 0, -ENOENT if there is none we may see, -ENOTTY
 * or -EINVAL if the kernel cannot list them, or -errno. */
int mntns_first(struct mntns *ns);
/* The namespace after *ns, in its place (the old fd closed): 0, -ENOENT after the last, or -errno
 * (*ns then left as it was). */
int mntns_next(struct mntns *ns);
void mntns_close(struct mntns *ns);

/* Calls fn for every mount of the namespace id whose filesystem has the magic number (e.g.
 * FUSE_SUPER_MAGIC) as mountinfo would say it (id: the mountinfo id; mountpoint: relative to
 * that namespace's root; fstype "TYPE.SUBTYPE" as for FUSE) until fn returns false.  Each other
 * mount costs one statmount without strings.  top_id, if not NULL: the kernel's id of the mount
 * that shows at the namespace's "/", for mntns_root_of (0 if none was found).  0 or -errno
 * (before Linux 6.13 the subtype and source are left empty). */
int mntns_each_of(uint64_t id, uint64_t magic, bool (*fn)(const struct mntent_info *m, void *arg), void *arg,
		  uint64_t *top_id);

/* The root mount of the namespace id: its source and its root in its filesystem ("/dev/vda1",
 * "/var/lib/lxc/c1/rootfs"), each cut to its size.  0 or -errno. */
int mntns_root_of(uint64_t id, uint64_t root_id, char *source, size_t ssize, char *root, size_t rsize);

#endif
