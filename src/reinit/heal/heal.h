/* What the rebind pass and its children share (internal to src/reinit/heal/): a dead mount to
 * heal, what healing a namespace came to, and the work done inside a namespace (inside.c). */
#ifndef LXCFS_HEAL_H
#define LXCFS_HEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A namespace holding only mounts proven ours cannot hang (their connection is dead: every call
 * fails at once), so its bound is only a safety net, wide enough for 16 children sharing a busy
 * machine: timed out there, a child's mounts would stay dead for no reason. */
#define NS_PROVEN_TIMEOUT_MS 30000

/* A candidate: an lxcfs mount of a namespace, found by the pass's scan. */
struct cand {
	int id;
	dev_t dev;
	char *root;
	char *mountpoint; /* a release's: where the scan saw it (it may be gone by the time the
			   * namespace is entered, and what it was stacked on left there) */
	char *why_left; /* NULL: ours to heal if dead */
	bool proven;    /* ours by proof or by the operator's word, not an orphan */
	int tree;       /* the fresh bind, cloned before entering the namespace */
	int tree_err;   /* why it could not be cloned */
	bool tree_private; /* made private before the move (else once in place) */
	bool hung;      /* its daemon did not answer in another namespace */
	bool live;      /* of the live lxcfs being replaced: moved although it answers */
	bool release;   /* ours, to be detached (lxcfs --release) */
};

/* What healing a namespace came to, as far as it got. */
struct ns_result {
	unsigned healed, failed, left;
	dev_t probing; /* the device of the mount being asked, 0 between mounts */
	unsigned ns;   /* a runner's: which namespace of the pass */
	bool done;     /* the namespace's total */
};

/* Where a child of the pass comes from: its own mount namespace (the fresh trees are cloned
 * there: the source of a clone must be in the caller's), the host's /proc (the namespace's may
 * belong to another pid namespace), and the live tree (an fd, and its path for the log). */
struct heal_home {
	int ns, proc, mnt;
	const char *path;
};

/* A child's home, opened where it stands (before any setns): its mount namespace and /proc. */
struct heal_home heal_home_open(int mntfd, const char *path);

/* In a child: clones the fresh trees (at home), enters the namespace nsfd, heals its candidates
 * cs[n]; res says how far it got, and goes to out (if >= 0) after each step, so that a child
 * killed for a hang still reports. */
void heal_in(const struct heal_home *home, int nsfd, struct cand *cs, size_t n, const char *who, int out,
	     struct ns_result *res);

#endif
