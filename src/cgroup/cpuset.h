/* CPU lists ("0-3,8,10-11") as bitmaps: parse, test, count, format. */
#ifndef LXCFS_CPUSET_H
#define LXCFS_CPUSET_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

#define CPUSET_MAX 8192

struct cpuset {
	uint64_t bits[CPUSET_MAX / 64];
};

/* Accepts the kernel's list format, blanks and a trailing newline; "" is the empty set.
 * Garbage or a cpu >= CPUSET_MAX gives -EINVAL and leaves *set empty. */
int cpuset_parse(const char *s, struct cpuset *set);
bool cpuset_has(const struct cpuset *set, unsigned cpu);
void cpuset_add(struct cpuset *set, unsigned cpu);
unsigned cpuset_count(const struct cpuset *set);
bool cpuset_empty(const struct cpuset *set);
/* The lowest cpu >= from in set, or -1. */
int cpuset_next(const struct cpuset *set, unsigned from);
/* Keeps the n lowest cpus of set. */
void cpuset_keep_first(struct cpuset *set, unsigned n);
/* Kernel list format with ranges, no newline. */
bool cpuset_format(const struct cpuset *set, struct buf *out);

#endif
