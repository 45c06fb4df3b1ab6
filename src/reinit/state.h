/* The state a worker leaves to its successor: one memfd, created by the keeper, mapped by every
 * worker.  Versioned: a binary that cannot read it refuses to take over.
 *
 *   header   generation, restart record, file-handle serial, the INIT exchange, features
 *   journal  one slot per request thread; a request is read straight into its slot, so a
 *            request the dead worker read but did not answer is still there for the next
 *   snaps    what an open rendered at offset 0, for its later offsets
 *
 * Everything is plain data at fixed offsets; counters shared between processes are updated
 * with atomics. */
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
	uint32_t pad0;
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
	uint64_t pad[5];
	uint8_t data[];
};

struct state {
	int fd;
	size_t size;
	struct state_hdr *hdr;
};

/* Keeper: a new sealed memfd with a fresh header.  0 or -errno. */
int state_create(struct state *s);
/* Maps an inherited state fd; validates layout and version.  Returns 0, or -EPROTO for another
 * version, -EINVAL for garbage (with why in *why). */
int state_attach(struct state *s, int fd, const char **why);
/* Maps only the header (the keeper's view). */
int state_attach_header(struct state *s, int fd, const char **why);
void state_detach(struct state *s);
/* Checks a header without mapping anything more. */
int state_check_header(const struct state_hdr *h, uint64_t fd_size, const char **why);

struct state_slot *state_slot(const struct state *s, unsigned i);
struct state_snap *state_snap(const struct state *s, unsigned i);
/* Snapshot entries holding a render, counted from the memfd itself (the keeper maps only the
 * header): a count kept by workers beside the table could drift from it under races. */
unsigned state_snaps_in_use(const struct state *s);

#endif
