/* How the rebind pass meets every mount namespace of the host, and how it names one in the log
 * (internal to src/reinit/heal/).  Two ways to the same set:
 *  - the kernel's list (lib/mntns: Linux 6.13 and later): each namespace as an nsfd, its mounts
 *    read from outside, no process needed (so also one no process is in);
 *  - the walk of /proc: a namespace through one of its processes (older kernels, an lxcfs in a
 *    container, and a release, which reads every namespace's mounts before the first goes).
 * Either way each namespace is handed to the set's ready callback once, a container's own before
 * those its services made (whose binds are slaves of its and healed with it). */
#ifndef LXCFS_HEAL_NAMESPACES_H
#define LXCFS_HEAL_NAMESPACES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/mountinfo.h"

struct ns {
	ino_t ino;
	uint64_t id; /* listed: the kernel's id of it */
	int fd;      /* listed: its nsfd, while it is handed to ready */
	pid_t pid;   /* walked: the process it is read through and named by (see walk_process) */
	bool whole;  /* pid's root is the namespace's */
	bool init;   /* pid is its pid namespace's first process */
	bool later;  /* the caller's mark: to be handed over again by ns_again */
	struct buf mounts; /* ns_read_mounts's copy of its mountinfo */
};

struct ns_set {
	struct ns *v;
	size_t n, cap;
	size_t *slot; /* an index into v plus one (0: free), by inode */
	size_t nslot; /* a power of two, more than twice n */
	void (*ready)(struct ns_set *w, size_t k, void *arg); /* NULL: only gathered */
	void *arg;
	uint64_t own_pidns; /* the walker's pid namespace (0: unknown) */
	unsigned met;       /* processes walked, or namespaces listed */
	bool listed;        /* from the kernel's list, not a walk of /proc */
};

/* Whether the kernel's list serves: where it shows what a walk of /proc would (our pid namespace
 * is the host's: an lxcfs in a container that shares the host's user namespace could list the
 * host's namespaces, and must heal only its own), and where statmount says of our own mount (id
 * our_id, device ours) what our mountinfo says.  The name of what shows at our "/" goes to
 * our_root, for ns_name. */
bool ns_can_list(int our_id, dev_t ours, char *our_root, size_t size);

/* Every namespace from the kernel's list, in the order they were made.  0, or -errno before the
 * first if there is no list (then nothing was handed over). */
int ns_list(struct ns_set *w);
/* Every namespace of the host's processes: those with an init (a container's) as the walk meets
 * them, then the others. */
void ns_walk(struct ns_set *w);
/* Hands those marked later to fn again, once each; a listed namespace's fd is found again by a
 * second listing (the fds were not kept: on a host of per-container instances every one is
 * marked). */
void ns_again(struct ns_set *w, void (*fn)(struct ns_set *w, size_t k, void *arg), void *arg);
/* A walked set's mountinfo of every namespace, read now (ns_each_fuse reads it from then on). */
void ns_read_mounts(struct ns_set *w);
void ns_set_free(struct ns_set *w);

/* An fd of the namespace to enter (close it), or -1: its process is gone (so is, most likely, the
 * namespace), or the pid was reused. */
int ns_open(const struct ns *ns);
/* Calls fn for each FUSE mount of the namespace, as mountinfo shows it (ids are global), until
 * fn returns false.  *top: a listed namespace's mount at "/" (for ns_name), else 0. */
void ns_each_fuse(const struct ns *ns, bool (*fn)(const struct mntent_info *m, void *arg), void *arg, uint64_t *top);
/* Its name in the log: "mount namespace INODE" (as lsns shows it), then for a walked one its
 * process and cgroup, for a listed one what shows at its "/" if that is not our_root. */
void ns_name(const struct ns *ns, uint64_t top, const char *our_root, char *dst, size_t size);

#endif
