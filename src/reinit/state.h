/* The state a worker leaves to its successor: one memfd, created by the keeper, mapped by every
 * worker.  Versioned: a binary that cannot read it refuses to take over.
 *
 *   header   generation, restart record, file-handle serial, the INIT exchange, features
 *   journal  one slot per request thread; a request is read straight into its slot, so a
 *            request the dead worker read but did not answer is still there for the next
 *   snaps    what an open rendered at offset 0, for its later offsets
 *
 * Everything is plain data at fixed offsets; counters shared between processes are updated
 * with atomics.  Any process may die halfway through a write, and a stray write may hit the
 * memfd, so nothing in it is trusted blindly: the layout and the INIT record carry a checksum
 * (`sum`), the layout a process uses is its own copy taken at attach, slots and entries are
 * checked one by one before use (serve.c, openfile.c). */
#ifndef LXCFS_STATE_H
#define LXCFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reinit/initrec.h"
#include "version.h"

#ifndef LXCFS_STATE_VERSION
#define LXCFS_STATE_VERSION 1
#endif

#define STATE_MAGIC "LXCFSST\0"
#define STATE_SLOTS 48
#define STATE_SLOT_DATA (128u * 1024 + 4096) /* a request buffer: max_write plus headers */
#define STATE_SNAPS 1024
#define STATE_SNAP_DATA (64u * 1024 - 64)
#define STATE_VSIZES 1024

/* Features the worker found in the kernel, for status and recovery. */
#define STATE_FEAT_RESEND (1u << 0)

struct state_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t total_size;
	uint32_t nslots, slot_size;
	uint64_t slots_off;
	uint32_t nsnaps, snap_size;
	uint64_t snaps_off;
	/* written by the keeper */
	uint64_t generation; /* of the newest worker */
	uint32_t restarts;
	int32_t last_status; /* wait status of the last worker death */
	int64_t last_death;  /* CLOCK_REALTIME seconds */
	int32_t last_pid;
	int32_t keeper_pid;
	int32_t worker_pid;
	uint32_t sum; /* of the layout fields and the INIT record (state_seal); 0: from a binary
			 before checksums, checked field by field only */
	/* written by workers */
	uint64_t fh_serial;
	uint32_t features;
	char worker_version[32];
	uint32_t kept_renders; /* renders too big for an entry, in the newest worker's memory */
	uint64_t vsize[STATE_VSIZES]; /* largest render seen per static node id */
	struct initrec init;
};

/* A slot is claimed in two steps (FREE -> CLAIMING -> CLAIMED) so that nobody ever sees it
 * claimed under its previous owner's generation. */
enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_CLAIMING = 2 };

struct state_slot {
	uint32_t state;
	uint32_t tries; /* workers that started processing this request */
	uint64_t gen;   /* generation of the worker that claimed the slot */
	uint64_t key;   /* unique of the request without the resend bit; 0 while idle */
	uint32_t len;   /* bytes of the request; 0 while idle or reading */
	uint32_t pad;
	uint64_t pad2[5];
	uint8_t data[]; /* read() writes the request here */
};

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

/* Where the sections are: the same for every state of this version, kept in each process's own
 * memory so that a damaged header can never send it out of bounds. */
struct state_layout {
	uint64_t hdr_size, total_size, slots_off, snaps_off;
	uint32_t nslots, slot_size, nsnaps, snap_size;
};

struct state {
	int fd;
	size_t size;
	struct state_hdr *hdr;
	struct state_layout lay;
};

/* A generation past this is damage, not history (one restart a millisecond for a century is
 * about 2^41). */
#define STATE_MAX_GENERATION (UINT64_C(1) << 48)

/* Keeper: a new sealed memfd with a fresh header.  0 or -errno. */
int state_create(struct state *s);
/* Maps an inherited state fd; validates layout and version.  Returns 0, or -EPROTO for another
 * version, -EINVAL for garbage (with why in *why). */
int state_attach(struct state *s, int fd, const char **why);
/* Maps only the header (the keeper's view). */
int state_attach_header(struct state *s, int fd, const char **why);
void state_detach(struct state *s);
/* Checks a header without mapping anything more: magic, version, layout, checksum, INIT record,
 * generation.  0, -EPROTO (another version) or -EINVAL (damaged; why says what). */
int state_check_header(const struct state_hdr *h, uint64_t fd_size, const char **why);
/* The same for an attached state (its fd's size is known). */
int state_check(const struct state *s, const char **why);
/* Recomputes the checksum after the layout or the INIT record changed (by one writer: the keeper
 * while no worker runs, or the worker that records the INIT exchange). */
void state_seal(struct state_hdr *h);
/* Puts this version's layout back into a damaged header (the INIT record is not rebuilt). */
void state_relayout(struct state_hdr *h);

struct state_slot *state_slot(const struct state *s, unsigned i);
struct state_snap *state_snap(const struct state *s, unsigned i);
/* Snapshot entries holding a render, counted from the memfd itself (the keeper maps only the
 * header): a count kept by workers beside the table could drift from it under races. */
unsigned state_snaps_in_use(const struct state *s);
/* Walks a state in offset order, page by page, knowing which pages were never written: a hole
 * of the memfd reads as zeros, but reading it through the mapping makes shmem allocate it. */
struct state_runs {
	uint64_t data, hole; /* the run of written pages last found: [data, hole) */
};
#define STATE_RUNS_INIT { 0, 0 }
/* Whether the page holding off was ever written (when the memfd cannot say: yes).  Calls with
 * a growing off cost two lseeks per run of written pages. */
bool state_written(const struct state *s, uint64_t off, struct state_runs *r);
/* The checksum a snapshot entry carries (never 0): a render is served from an entry only if it
 * matches, so a stray write there is never served as file content. */
uint64_t state_snap_sum(uint64_t fh, const void *data, uint32_t len);

#endif
