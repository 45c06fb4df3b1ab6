/* The host's sys/devices/system/cpu, passed through below the virtual tree.  Ids come from
 * tree_dynamic_ino(); this module remembers which path each id stands for and can rebuild that
 * memory by walking the host directory (a new process serves ids an old one handed out). */
#ifndef LXCFS_CPUTREE_H
#define LXCFS_CPUTREE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "lib/buf.h"

#define CPUTREE_SHARDS 64

struct cputree_entry;
/* Which path each id stands for, and the host directory they are below. */
struct cputree {
	int rootfd;
	int ready; /* cputree_init ran: what cputree_fini has to undo */
	pthread_mutex_t lock[CPUTREE_SHARDS];
	struct cputree_entry *head[CPUTREE_SHARDS];
	pthread_mutex_t walk_lock;
	time_t last_walk;
	size_t nentries;
};

int cputree_init(struct cputree *t, const char *hostdir);
/* Safe on a zeroed struct cputree. */
void cputree_fini(struct cputree *t);

/* Path of a node relative to the host cpu dir ("" for the dir itself).  -ESTALE if unknown. */
int cputree_path(struct cputree *t, uint64_t ino, char *rel, size_t size);
/* Child name of directory node parent (INO_SYS_CPU or a dynamic dir). */
int cputree_lookup(struct cputree *t, uint64_t parent, const char *name, uint64_t *ino, struct stat *st);
int cputree_stat(struct cputree *t, uint64_t ino, struct stat *st);
int cputree_readlink(struct cputree *t, uint64_t ino, char *dst, size_t size);
int cputree_read(struct cputree *t, uint64_t ino, off_t off, size_t size, struct buf *out);

typedef bool (*cputree_entry_fn)(void *arg, const char *name, uint64_t ino, mode_t type);
/* Calls fn for each entry of directory node ino (without "." and ".."). */
int cputree_list(struct cputree *t, uint64_t ino, cputree_entry_fn fn, void *arg);

#endif
