/* The names of the live tree that the heal's fresh binds are cloned from (internal to
 * src/reinit/heal/).  The pass looks each up alone, before any child clones it, and holds it for
 * the pass.  This kernel (6.18) drops a FUSE name met by several first lookups at once, and
 * hands one of them the dropped name: with 16 processes, for 29-72% of new names over four runs
 * (bench/lookup-race; most likely a waiter revalidates the name before the first lookup has
 * marked it current, its epoch).  A clone rooted at a dropped name is refused (ENOENT, beneath
 * and over), which the pass's 16 children met in its first namespace now and then.  Looked up
 * once alone first: for none. */
#ifndef LXCFS_HEAL_FRESH_H
#define LXCFS_HEAL_FRESH_H

#include <stdbool.h>
#include <stddef.h>

struct fresh_name {
	char *rel; /* beneath the live tree: "proc", "proc/meminfo" */
	int fd;    /* O_PATH, held */
};

struct fresh {
	int mntfd, procfd;
	struct fresh_name *v;
	size_t n;
};

void fresh_init(struct fresh *f, int mntfd);
/* root (a mount's root in the tree, "/proc/meminfo") and each directory above it looked up, if
 * they were not yet, and held. */
void fresh_hold(struct fresh *f, const char *root);
void fresh_free(struct fresh *f);

/* Whether the name fd was opened at has left the kernel's cache of names since (the kernel's
 * own words, at the end of its path: " (deleted)"); the kernel refuses to mount on it, and a
 * clone rooted there goes nowhere.  procfd: a /proc of our pid namespace. */
bool fresh_dropped(int procfd, int fd);

#endif
