/* Inputs for the memfd targets (state, history): byte 0 chooses the base, a valid region as the
 * daemon makes it (odd) or zeros (even); the rest is a list of edits, each a 3-byte
 * little-endian offset (taken modulo the region), a length byte and that many bytes. */
#ifndef LXCFS_FUZZ_PATCH_H
#define LXCFS_FUZZ_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Lays region out from data: the base byte 0 chooses, then the edits.  false for an empty input. */
static inline bool fz_patch(uint8_t *region, const uint8_t *pristine, size_t rsize, const uint8_t *data,
			    size_t size)
{
	if (size == 0)
		return false;
	if (data[0] & 1)
		memcpy(region, pristine, rsize);
	else
		memset(region, 0, rsize);
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
	return true;
}

#endif
