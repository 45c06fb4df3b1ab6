/* The reinit tier: a worker that cannot resume the connection (another state format, another
 * INIT answer) resets it through our kernel series instead, and revalidates the bind mounts.
 * Files opened before fail with EIO then, by design; new opens work. */
#ifndef LXCFS_REINIT_H
#define LXCFS_REINIT_H

#include <stdint.h>

#include "linux/fuse_reinit.h" /* kernel/uapi: the one definition, shared with the kernel series */

/* FUSE_REINIT_HAS_* this kernel offers on fd; 0 when it has none.  Changes nothing. */
uint32_t reinit_features(int fd);
/* FUSE_DEV_IOC_REINIT on the connection of fd.  0 or -errno. */
int reinit_connection(int fd);
/* FUSE_DEV_IOC_BM_REVAL.  0 or -errno (the first root that failed; every root is tried). */
int reinit_revalidate_binds(int fd);

#endif
