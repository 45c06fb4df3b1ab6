/* The rebind tier: nothing survived (keeper and worker gone, the connection with them), so the
 * containers' bind mounts of the old lxcfs are dead (ENOTCONN).  Each one is replaced, in its own
 * mount namespace, by a fresh bind of the same path of the new mount (open_tree(OPEN_TREE_CLONE)
 * + move_mount, Linux >= 5.2).
 *
 * Which dead lxcfs mounts are ours to heal (see claim.h for why a device number alone proves
 * nothing):
 *   - those of a device named in the request: the one found dead at our mountpoint at start,
 *     or one the operator names (`lxcfs --rebind --dead-dev MAJ:MIN`);
 *   - those of a device claimed for our mountpoint (the mounts our predecessors made);
 *   - on the operator's word only (`--orphans`): binds of a path inside a tree whose device no
 *     instance claims and nothing in our namespace mounts (upstream's unit unmounts on stop).
 * Left alone, and logged when dead: another instance's devices (mounted in our namespace at
 * another path, or claimed for another mountpoint), unclaimed orphans unless asked, whole-tree
 * mounts of an unknown device (a nested lxcfs's own mount?), live mounts, other filesystems. */
#ifndef LXCFS_REBIND_H
#define LXCFS_REBIND_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "reinit/proto.h" /* REBIND_EXIT_PARTIAL */

struct rebind_stats {
	unsigned namespaces; /* mount namespaces that held candidates */
	unsigned healed;
	unsigned failed;
	unsigned left; /* dead, but not ours to heal */
	unsigned still_open; /* files of the replaced lxcfs still open when the wait ended */
	unsigned unvisited;  /* namespaces not entered: their lxcfs mounts were all of other live
				instances (a host of per-container instances has one per container) */
	unsigned met;        /* processes walked in /proc, or namespaces listed by the kernel */
	bool listed;
	double walk_ms;      /* from the pass's start to the last namespace found */
};

struct rebind_req {
	const dev_t *devs; /* devices proven ours: found dead at mnt, or named by the operator */
	size_t ndevs;
	bool orphans;      /* also take unclaimed orphans */
	const char *claim_dir;
	/* A live lxcfs being replaced (`lxcfs --replace`): its mounts move to ours although they
	 * answer, each in one step (beneath it, then it goes), so its readers never see a gap. */
	dev_t live;
	/* Instead of healing: every mount of ours but mnt itself is detached (`lxcfs --release`), and
	 * any dead lxcfs mount it covered, so the path shows what is beneath: the kernel's file. */
	bool release;
};

/* Heals the dead lxcfs mounts that are ours (above) in every mount namespace from the live lxcfs
 * mount at mnt, and drops the claims of devices mounted nowhere any more.  With req->live, waits
 * (bounded) until the files open on that device's mounts are closed.  0, or -errno if mnt is
 * not a live lxcfs mount (stats then untouched). */
int rebind_all(const char *mnt, const struct rebind_req *req, struct rebind_stats *stats);

/* Runs `worker --rebind [--dead-dev MAJ:MIN] mnt` in a child: its pid, or -errno.  Exit status
 * 0: all healed (or nothing to heal), REBIND_EXIT_PARTIAL: some could not be, 1: mnt is not a live lxcfs mount. */
pid_t rebind_start(const char *worker, const char *mnt, dev_t pred);

#endif
