/* Open files.  The fh we give the kernel describes itself (kind + serial, no pointer), so a
 * later process can serve handles an earlier one issued.  What a render produced at offset 0 is
 * kept per handle, in the shared state when it fits there, so later offsets of that open see the
 * same snapshot, even after the worker that rendered it is gone. */
#ifndef LXCFS_OPENFILE_H
#define LXCFS_OPENFILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "reinit/state.h"

enum fh_kind { FH_VFILE = 1, FH_HOSTFILE = 2 };

#define FH_SERIAL_BITS 48
#define FH_SERIAL_MASK ((UINT64_C(1) << FH_SERIAL_BITS) - 1)

#define OPENFILE_SHARDS 64

struct openfile_kept;
/* One process's open files: what it keeps of renders in its own memory, and where the shared
 * ones are. */
struct openfiles {
	struct state *st; /* the context's state */
	uint64_t gen;
	uint64_t idle_s;
	uint64_t swept_ms; /* boot_ms() of the last sweep the opens started */
	pthread_mutex_t lock[OPENFILE_SHARDS];
	struct openfile_kept *head[OPENFILE_SHARDS];
	pthread_mutex_t count_lock; /* the count and its published copy change together */
	unsigned kept;              /* entries on the lists, all shards */
	int full_logged;
	int damage_logged;
};

/* Serials and snapshots live in st (never NULL: a standalone daemon has a private state);
 * generation: this worker's, so that only the newest one publishes its counts. */
void openfile_init(struct openfiles *o, struct state *st, uint64_t generation);
/* Safe on a zeroed struct openfiles. */
void openfile_fini(struct openfiles *o);

uint64_t fh_make(struct openfiles *o, enum fh_kind kind);
enum fh_kind fh_kind(uint64_t fh);

/* Keeps a copy of content for the later offsets of fh.  Called before the reply that serves
 * it: once the kernel has the reply, the next READ or the RELEASE of fh may already be on
 * another thread. */
void openfile_keep(struct openfiles *o, uint64_t fh, const struct buf *content);
/* Copies [off, off+size) of what fh rendered into out.  false if fh rendered nothing here. */
bool openfile_slice(struct openfiles *o, uint64_t fh, off_t off, size_t size, struct buf *out);
void openfile_forget(struct openfiles *o, uint64_t fh);
/* Reclaims what handles left untouched for long (their RELEASE was lost with a dead worker, or
 * an older worker left them), and recounts the entries in use.  Runs at start and, while files
 * are opened, every idle_s / 10 at most. */
void openfile_sweep(struct openfiles *o);
/* Shared entries holding a render, and renders kept in this process's memory. */
void openfile_usage(struct openfiles *o, unsigned *snaps, unsigned *kept);

#endif
