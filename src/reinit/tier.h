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

const char *tier_name(enum tier t);

#endif
