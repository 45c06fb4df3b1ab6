/* Early renders.  A reader opens a file and reads it at once; between our answer to its OPEN and
 * its READ reaching us, it wakes, returns to user space and makes the read() (tens of µs on a
 * VM, most of a cat).  The OPEN's thread renders in that time, after its reply, and keeps the
 * render for the open (openfile_keep); the READ at offset 0 that follows, from the same caller
 * and soon enough, is served from it instead of rendering.  The values are those of the open's
 * moment: a reader cannot tell them from values read inside its read.
 *
 * This table only says which opens have an early render, and in what state: one entry per
 * open between its OPEN and its first READ (or RELEASE), fixed in size, in the worker's memory
 * (a successor has none: its READs render, as before).  An open that finds its entry taken
 * simply gets no early render. */
#ifndef LXCFS_EARLY_H
#define LXCFS_EARLY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <fuse_lowlevel.h>

#include "fs/openfile.h"
#include "reinit/state_journal.h"

#define EARLY_SLOTS 64
/* An early render older than this at its READ is not served: the reader was not reading "at
 * once", and it gets values of its read's moment. */
#define EARLY_FRESH_MS 10

/* A READ at offset 0 that came while its early render was under way, handed to the rendering
 * thread to answer (no wait, no wake-up); slot: the journal slot that holds it (fs/serve.h). */
struct early_reader {
	fuse_req_t req;
	size_t size;
	struct state_slot *slot;
};

struct early_slot {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	uint64_t fh; /* 0: free */
	int state;   /* enum early_state (early.c) */
	pid_t pid;   /* the opener: only its READ is served the render */
	uint64_t ready_ns;
	struct early_reader reader; /* .req NULL: none */
};

struct early {
	struct early_slot slot[EARLY_SLOTS];
};

/* On a zeroed table: every entry free. */
void early_init(struct early *e);

/* Before the OPEN's reply: claims the entry of fh for the opener pid.  false: no early render
 * for this open (its entry is taken). */
bool early_claim(struct early *e, struct openfiles *of, uint64_t fh, pid_t pid);
/* After the reply, with the render made (r: its result): keeps it for fh in of unless the open's
 * READ or RELEASE gave up waiting for it meanwhile, then wakes whoever waits.  A failed render
 * is not kept.  true if a READ was handed over meanwhile (*rd): the caller answers it, with the
 * render or r's error, then frees its slot (serve_answered). */
bool early_done(struct early *e, struct openfiles *of, uint64_t fh, const struct buf *content, int r,
		struct early_reader *rd);

enum early_verdict {
	EARLY_NONE,   /* no early render for this READ: it renders (or reads what fh kept) */
	EARLY_SERVE,  /* what fh kept is the early render, for this READ to serve */
	EARLY_HANDED, /* the rendering thread answers this READ: nothing to do */
};
/* At a READ of fh by pid at offset off (req, size: the READ).  A render still being made for
 * this caller takes a READ at offset 0 over (serve_hand_over), or is waited for.  The entry is
 * freed unless handed; an early render that may not be served is forgotten, so that no later
 * offset of fh serves it either. */
enum early_verdict early_take(struct early *e, struct openfiles *of, uint64_t fh, pid_t pid, off_t off,
			      fuse_req_t req, size_t size);
/* At the RELEASE of fh, before its render is forgotten: a render still being made is dropped
 * when it ends. */
void early_release(struct early *e, uint64_t fh);

#endif
