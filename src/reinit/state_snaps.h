/* The state's snapshot entries: what an open rendered at offset 0, for its later offsets, so a
 * reader that spans a worker's death reads one consistent render.  This module owns the
 * entry's layout, its checksum and what makes an entry sound; openfile.c claims and fills
 * them. */
#ifndef LXCFS_STATE_SNAPS_H
#define LXCFS_STATE_SNAPS_H

#include <stdbool.h>
#include <stdint.h>

#define STATE_SNAPS 1024
#define STATE_SNAP_DATA (64u * 1024 - 64)

struct state_snap {
	uint64_t fh;   /* 0: free */
	uint32_t len;
	uint32_t lock; /* sequence lock: odd while written */
	uint64_t used; /* boot-time second of the last keep or read, plus one; 0: not stamped yet
			  (left by a worker from before stamping: openfile.c ages it from when it
			  is first seen) */
	uint64_t sum;  /* state_snap_sum of fh, len and data; 0: from a binary before sums */
	uint64_t pad[4];
	uint8_t data[];
};

struct state;

struct state_snap *state_snap(const struct state *s, unsigned i);
/* Snapshot entries holding a render, counted from the memfd itself (the keeper maps only the
 * header): a count kept by workers beside the table could drift from it under races. */
unsigned state_snaps_in_use(const struct state *s);
/* The checksum a snapshot entry carries (never 0): a render is served from an entry only if it
 * matches, so a stray write there is never served as file content. */
uint64_t state_snap_sum(uint64_t fh, const void *data, uint32_t len);
/* Whether the entry's first len bytes are the render of fh it was summed over (an entry
 * without a sum, from a binary before sums, is taken as sound).  The caller holds len from
 * one read of the entry, under its sequence lock. */
bool state_snap_sound(const struct state_snap *sn, uint64_t fh, uint32_t len);

#endif
