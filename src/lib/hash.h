/* FNV-1a: a small, stable hash for table slots and for checksums of plain data shared between
 * processes (not against an adversary: only root writes what it sums). */
#ifndef LXCFS_HASH_H
#define LXCFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A32_INIT UINT32_C(2166136261)
#define FNV1A64_INIT UINT64_C(0xcbf29ce484222325)

static inline uint32_t fnv1a32(uint32_t h, const void *data, size_t n)
{
	for (const unsigned char *c = data, *e = c + n; c < e; c++)
		h = (h ^ *c) * UINT32_C(16777619);
	return h;
}

static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t n)
{
	for (const unsigned char *c = data, *e = c + n; c < e; c++)
		h = (h ^ *c) * UINT64_C(0x100000001b3);
	return h;
}

#endif
