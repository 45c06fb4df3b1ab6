/* What the two files of a keeper's worker share: served.c (START, the request loop) and
 * standby.c (PRIME: the standby that takes over at the serving worker's death).  One process,
 * one context: these are that process's, not a library's. */
#ifndef LXCFS_SERVED_H
#define LXCFS_SERVED_H

#include <pthread.h>
#include <stdbool.h>

#include "fs/ctx.h"
#include "lib/options.h"
#include "reinit/initrec.h"
#include "reinit/proto.h"

/* What START (or PRIME) hands over, and what this worker made of it. */
struct takeover {
	const struct msg *m;
	int fd;
	uint64_t gen;
	bool reinit;
	int replayed;     /* serve_replay_init: 1 replayed, 0 no INIT on record (a new connection) */
	int lifeline;     /* our own, for READY (-1: none asked, or none made) */
	enum recovery how;
	struct initrec init_seen; /* the INIT record prepare replayed (a standby checks it is unchanged) */
};

/* The serving context (fs/ctx.h) and the state it serves from; the keeper's control socket;
 * the main thread, named as ps shows it. */
extern struct lxcfs lx;
extern struct state st;
extern int ctl;
extern pthread_t main_thread;

/* What only reads the state, done while a predecessor may still serve (warm: the warm-up a
 * standby does), our lifeline, the request threads parked.  0, or the exit code. */
int prepare(struct options *opt, struct takeover *t, bool warm);
/* The rest, once the predecessor is gone (how: what the log says it did, NULL for the usual).
 * 0, or the exit code. */
int engage(struct options *opt, struct takeover *t, const char *how);

/* PRIME: 0 (serving, or to serve: READY next), 1 (dropped: stop), or the exit code.  *early:
 * it took over at the death, and RECOVER is done already.  start: where START is received. */
int stand_by(struct options *opt, struct takeover *t, struct msg *start, bool *early);

#endif
