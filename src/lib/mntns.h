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

/* Calls fn for every FUSE mount of the namespace id as mountinfo would say it (id: the mountinfo
 * id; mountpoint: relative to that namespace's root; fstype "fuse.SUBTYPE") until fn returns
 * false.  root_id, if not NULL: the kernel's id of the namespace's root mount.  0, -EOPNOTSUPP
 * if the kernel does not give the fields asked (before 6.13), or -errno. */
int mntns_each_fuse(uint64_t id, bool (*fn)(const struct mntent_info *m, void *arg), void *arg, uint64_t *root_id);

/* The root mount of the namespace id: its source and its root in its filesystem ("/dev/vda1",
 * "/var/lib/lxc/c1/rootfs"), each cut to its size.  0 or -errno. */
int mntns_root_of(uint64_t id, uint64_t root_id, char *source, size_t ssize, char *root, size_t rsize);

#endif
