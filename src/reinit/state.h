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
 * checked one by one before use (by their owners' checks, which serve.c and openfile.c call).
 * Each section is described once, by its owner (state_section.h lists them). */
#ifndef LXCFS_STATE_H
#define LXCFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "reinit/initrec.h"
#include "reinit/state_journal.h"
#include "reinit/state_snaps.h"
#include "reinit/state_vsize.h"
#include "version.h"

#ifndef LXCFS_STATE_VERSION
#define LXCFS_STATE_VERSION 1
#endif

#define STATE_MAGIC "LXCFSST\0"

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

/* The keeper's part: each of these is the whole body of one of its steps. */
/* Copies a sound header whose INIT exchange is complete into *copy (sealing it first if a
 * binary before checksums left it unsealed): the copy a later repair starts from.  true if
 * copied; *copy is untouched otherwise. */
bool state_save_header(const struct state *s, struct state_hdr *copy);
/* Before a new worker needs it: a damaged header gets this version's layout, the INIT record of
 * saved (the keeper's copy; NULL: the record as found, the worker's replay checks it), the
 * generation given, and a new seal.  0: it was sound, nothing done.  1: repaired; *damage says
 * what was wrong, *how from what ("the keeper's copy", or "this version's layout, the INIT
 * record as found").  -EINVAL: still damaged; *how says why. */
int state_repair_header(struct state *s, const struct state_hdr *saved, uint64_t generation, const char **damage,
			const char **how);
/* Replaces s (header mapped, as the keeper holds it) by a new, empty state that carries what
 * outlives a state (the restart record) from s if sound, else from saved (may be NULL).  The
 * old state is unmapped and its fd closed.  0 or -errno (then s is as it was). */
int state_renew(struct state *s, const struct state_hdr *saved);
/* Copies the carried sections (the restart record) from one header to another. */
void state_carry(struct state_hdr *to, const struct state_hdr *from);
/* Records a worker's death in the restart record. */
void state_note_death(struct state_hdr *h, int status, pid_t pid);

/* Walks a state in offset order, page by page, knowing which pages were never written: a hole
 * of the memfd reads as zeros, but reading it through the mapping makes shmem allocate it. */
struct state_runs {
	uint64_t data, hole; /* the run of written pages last found: [data, hole) */
};
#define STATE_RUNS_INIT { 0, 0 }
/* Whether the page holding off was ever written (when the memfd cannot say: yes).  Calls with
 * a growing off cost two lseeks per run of written pages. */
bool state_written(const struct state *s, uint64_t off, struct state_runs *r);
/* Maps the written pages of what a takeover touches into this process (a read of each; holes
 * are left alone): a standby does it ahead of need, so that its takeover does not fault them in
 * one by one (about 1 ms for the header and the journal on 2 cpus under PVM, measured).  Of the
 * snapshot entries only each one's first page (a new open writes it): hashed by handle, a long
 * life writes all of them (64 MiB), and every page mapped here is one more to unmap when this
 * process dies.  How many were touched. */
unsigned state_prefault(const struct state *s);

#endif
