/* The state's node sizes: the largest render seen per static node id, in the header, so a
 * successor reports the same st_size (fs/vsize.c uses them). */
#ifndef LXCFS_STATE_VSIZE_H
#define LXCFS_STATE_VSIZE_H

#include <stdbool.h>
#include <stdint.h>

#define STATE_VSIZES 1024
/* No render comes near this (cpuinfo of 8192 cpus is a few MiB): a larger size in the state is
 * damage, not a size. */
#define STATE_VSIZE_MAX (UINT64_C(1) << 30)

static inline bool state_vsize_sound(uint64_t size)
{
	return size <= STATE_VSIZE_MAX;
}

#endif
