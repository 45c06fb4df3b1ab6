/* The state's journal: one slot per request thread.  A request is read straight into its slot,
 * so a request the dead worker read but did not answer is still there for the next.  This
 * module owns the slot's layout and what makes a slot sound; serve.c claims, fills and replays
 * them. */
#ifndef LXCFS_STATE_JOURNAL_H
#define LXCFS_STATE_JOURNAL_H

#include <stdint.h>

#define STATE_SLOTS 48
#define STATE_SLOT_DATA (128u * 1024 + 4096) /* a request buffer: max_write plus headers */

/* A slot is claimed in two steps (FREE -> CLAIMING -> CLAIMED) so that nobody ever sees it
 * claimed under its previous owner's generation. */
enum { SLOT_FREE = 0, SLOT_CLAIMED = 1, SLOT_CLAIMING = 2 };
/* state_slot.blame */
enum slot_blame {
	SLOT_BLAME_COUNTS = 0,  /* the holder's death counts as a try of this request (a kill from
				 * outside: the request may be what made the worker hang or grow) */
	SLOT_BLAME_SPARED = 1,  /* the holder crashed on another request of its own */
	SLOT_BLAME_CRASHED = 2, /* the holder crashed answering this one */
};

struct state_slot {
	uint32_t state;
	uint32_t tries; /* workers that started processing this request */
	uint64_t gen;   /* generation of the worker that claimed the slot */
	uint64_t key;   /* unique of the request without the resend bit; 0 while idle */
	uint32_t len;   /* bytes of the request; 0 while idle or reading */
	/* Whether the death of the worker holding it is this request's (enum slot_blame): set by a
	 * fatal signal's handler, so that a crash on one request is not counted against the others
	 * in flight beside it.  0 (counts) is what binaries before it left here. */
	uint32_t blame;
	/* The open whose early render (fs/early.h) this slot's thread makes after answering its
	 * OPEN, bit 63 set if it crashed there; 0: none.  A crash there is the open's READ's. */
	uint64_t early_fh;
	uint64_t pad2[4];
	uint8_t data[]; /* read() writes the request here */
};

struct state;
struct fuse_in_header;

struct state_slot *state_slot(const struct state *s, unsigned i);

/* What a slot found by a new worker of generation gen, before its own threads claim any, is. */
enum state_slot_verdict {
	STATE_SLOT_SOUND,     /* free, or claimed by an older worker */
	STATE_SLOT_DAMAGED,   /* in no state a live worker leaves, never held a request (a claim
			       * cut short) */
	STATE_SLOT_DAMAGED_HELD, /* the same, and it may have held a request (now lost) */
};
/* Slots claimed, counted from the memfd itself (the keeper maps only the header): *in_use of any
 * generation, *dead those of a generation other than live[0] and live[1] (0: none), a worker gone
 * whose slots no recovery has answered and freed yet. */
void state_slots_count(const struct state *s, const uint64_t live[2], unsigned *in_use, unsigned *dead);
enum state_slot_verdict state_slot_check(const struct state_slot *sl, uint64_t gen);
/* The request a slot holds: published, or written by the kernel into a slot whose owner died
 * before it could publish it (the header is zeroed before every read, so a valid one is new).
 * NULL if what is there is no request that fits cap bytes. */
const struct fuse_in_header *state_slot_request(const struct state_slot *sl, uint32_t cap);

#endif
