/* A container's memory numbers, from v1 or v2 files, in bytes: what meminfo and swaps show. */
#ifndef LXCFS_MEMSTAT_H
#define LXCFS_MEMSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/render.h"

struct memstat {
	uint64_t limit;    /* min over the cgroup and its ancestors; UINT64_MAX = none */
	uint64_t usage;
	bool has_swap;     /* swap accounting present and not disabled with -u */
	uint64_t swap_limit;
	uint64_t swap_usage;
	/* memory.stat, normalised to v2 meaning */
	uint64_t file, anon_thp, shmem, file_mapped, file_dirty, file_writeback;
	uint64_t active_anon, inactive_anon, active_file, inactive_file, unevictable;
	uint64_t slab_reclaimable, slab_unreclaimable;
	uint64_t zswap, zswapped; /* v2 only, and 0 with --disable-zswap (upstream's meaning) */
};

/* 0, or -ENOENT when the container has no memory cgroup we can read (callers show the host). */
int memstat_read(const struct rctx *c, struct memstat *m);

#endif
