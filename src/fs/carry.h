/* Deaths carried to a request that has yet to come: a small table, in the worker's memory, of
 * ids (an open's handle, a request's number) and the worker deaths the request that comes with
 * the id was already in flight at, each note good until a deadline.  Two uses (fs/serve.c): the
 * READ of an open whose early render crashed a predecessor, and the copy a RESEND queued of a
 * request whose answer from the journal the kernel refused under its old number.  A successor
 * has none of it: what it misses counts a death too few, never a reader's EIO too soon. */
#ifndef LXCFS_CARRY_H
#define LXCFS_CARRY_H

#include <pthread.h>
#include <stdint.h>

#define CARRY_MAX 32

struct carry {
	pthread_mutex_t lock;
	unsigned n; /* read without the lock first: zero is the common case, and needs no lock */
	struct {
		uint64_t id;
		uint32_t tries;
		uint64_t until_ms;
	} e[CARRY_MAX];
};

void carry_init(struct carry *c);
/* Notes tries for id until until_ms (a note already there for id keeps the larger count).  A
 * full table drops the note: that request counts its deaths from the journal alone. */
void carry_put(struct carry *c, uint64_t id, uint32_t tries, uint64_t until_ms);
/* The tries noted for id, taken out of the table; 0 if none (or past its deadline). */
uint32_t carry_take(struct carry *c, uint64_t id);

#endif
