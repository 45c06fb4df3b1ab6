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
/* The largest renders seen live in the state: a successor reports the same sizes. */
void vsize_init(struct state *st);
/* Renders every virtual file once as the host sees it, to start from real sizes. */
void vsize_prime(const struct hostroot *host, const struct options *opt);
void vsize_note(uint64_t ino, size_t len);
uint64_t vsize_get(uint64_t ino);

#endif
