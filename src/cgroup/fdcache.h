/* Open files kept for re-reading.  procfs and cgroupfs files regenerate their content on a read
 * at offset 0, so one pread on a kept fd replaces open+read+close (1.9 us -> 0.3 us for a cgroup
 * file here).  A kept fd of a removed cgroup fails with ENODEV and is reopened once; bounded, the
 * least recently used fd of a shard goes first. */
#ifndef LXCFS_FDCACHE_H
#define LXCFS_FDCACHE_H

#include <pthread.h>
#include <stdint.h>

#include "lib/buf.h"

#define FDCACHE_SHARDS 64

struct fdcache_kept;
/* One process's kept files.  Every reader takes a pointer to it; NULL reads without keeping
 * anything (unit tests, fuzzers, one-off counts). */
struct fdcache {
	pthread_mutex_t lock[FDCACHE_SHARDS];
	struct fdcache_kept *head[FDCACHE_SHARDS];
	unsigned count[FDCACHE_SHARDS];
	uint64_t clock[FDCACHE_SHARDS];
	unsigned per_shard;
	int emfile_logged; /* once per episode of running out of fds */
};

void fdcache_init(struct fdcache *f, unsigned max_fds);
/* Safe on a zeroed struct fdcache. */
void fdcache_fini(struct fdcache *f);
/* Appends the whole content of path to out.  0 or -errno. */
int fdcache_read(struct fdcache *f, const char *path, struct buf *out);
/* Like fdcache_read, but content younger than max_age_ms is served from memory: for host files
 * that are costly to generate and whose changes do not matter at that scale. */
int fdcache_read_aged(struct fdcache *f, const char *path, unsigned max_age_ms, struct buf *out);
/* Same into a small NUL-terminated buffer (single values). */
int fdcache_read_small(struct fdcache *f, const char *path, char *dst, size_t size);
/* Closes every kept file below dir (a cgroup that is gone, or whose container is). */
void fdcache_drop_under(struct fdcache *f, const char *dir);

#endif
