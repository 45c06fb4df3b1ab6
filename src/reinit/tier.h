/* The recovery tiers (design.md sections 3-5), as one value: which way the next worker takes the
 * connection over.  Decided in one place (tier_decide) from what the kernel and the state offer. */
#ifndef LXCFS_TIER_H
#define LXCFS_TIER_H

enum tier {
	TIER_RESUME, /* the state is sound: the next worker resumes it, no read fails */
	TIER_REINIT, /* it is not, and the kernel has our series: the next worker resets the
			connection (FUSE_DEV_IOC_REINIT + BM_REVAL) */
	TIER_REBIND, /* neither: the connection is ended, mounted afresh, and the rebind tier heals
			the containers' dead mounts of it */
	TIER_N,
};

#include <stdbool.h>
#include <stdint.h>

const char *tier_name(enum tier t); /* "resume", "reinit", "rebind" */

/* What the decision is made from. */
struct tier_facts {
	uint32_t reinit_mask;   /* FUSE_REINIT_HAS_* of this kernel (reinit.h) */
	int exit_code;          /* how the last worker exited (WORKER_EXIT_*), -1: killed, or none */
	bool reinit_unready;    /* it was resetting the connection and died before it was ready */
	unsigned unresumable;   /* workers in a row that exited WORKER_EXIT_UNRESUMABLE, it included */
	bool reinit_requested;  /* an upgrade asked for by `lxcfs --reinit` */
	bool probe_refused;     /* an upgrade whose binary on disk cannot resume the state */
};

/* Which way the next worker takes the connection over.  For an upgrade (which never gives the
 * connection up) TIER_REBIND means: refused, the running worker serves on. */
enum tier tier_decide(const struct tier_facts *f);

#endif
