/* st_size of virtual files: at least what any caller's render holds (twice the largest render
 * seen, as a power of two, at least a page).  Tools size buffers from it, and it must not be 0:
 * a splice of a file of size 0 ends before asking us anything (busybox cat would print nothing
 * instead of falling back to read()). */
#ifndef LXCFS_VSIZE_H
#define LXCFS_VSIZE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/render.h"

struct state;
struct vsize {
	uint64_t *seen; /* in the context's state, per static node id */
};
/* The largest renders seen live in the state: a successor reports the same sizes. */
void vsize_init(struct vsize *v, struct state *st);
/* Renders every virtual file once as the host sees it (host_view: no container), to start
 * from real sizes. */
void vsize_prime(struct vsize *v, const struct rctx *host_view);
void vsize_note(struct vsize *v, uint64_t ino, size_t len);
uint64_t vsize_get(const struct vsize *v, uint64_t ino);

#endif
