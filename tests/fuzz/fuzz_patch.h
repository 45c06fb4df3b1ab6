/* Inputs for the memfd targets (state, history): byte 0 chooses the base, a valid region as the
 * daemon makes it (odd) or zeros (even); the rest is a list of edits, each a 3-byte
 * little-endian offset (taken modulo the region), a length byte and that many bytes. */
#ifndef LXCFS_FUZZ_PATCH_H
#define LXCFS_FUZZ_PATCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void fz_patch(uint8_t *region, size_t rsize, const uint8_t *data, size_t size)
{
	size_t i = 1;
	while (i + 4 <= size) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8 | (size_t)data[i + 2] << 16) % rsize;
		size_t n = data[i + 3];
		i += 4;
		if (n > size - i)
			n = size - i;
		if (n > rsize - off)
			n = rsize - off;
		memcpy(region + off, data + i, n);
		i += n;
	}
}

#endif
