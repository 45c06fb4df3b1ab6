/* st_size of virtual files.  Readers that trust st_size (sendfile, as busybox cat uses) stop
 * there, so it must be at least what any caller's render holds: twice the largest render seen,
 * as a power of two, at least a page.  The kernel shrinks its copy to the true length after a
 * short read; we raise it back at each open (FUSE_NOTIFY_STORE of nothing beyond the end). */
#ifndef LXCFS_VSIZE_H
#define LXCFS_VSIZE_H

#include <stddef.h>
#include <stdint.h>

#include "render.h"

/* Renders every virtual file once as the host sees it, to start from real sizes. */
void vsize_prime(const struct hostroot *host, const struct options *opt);
void vsize_note(uint64_t ino, size_t len);
uint64_t vsize_get(uint64_t ino);

#endif
