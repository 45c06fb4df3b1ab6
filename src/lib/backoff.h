/* Waits that double while failures come in a row: a thing that keeps failing is tried less and
 * less often, up to a bound, and one that failed once after a long good run is tried again soon. */
#ifndef LXCFS_BACKOFF_H
#define LXCFS_BACKOFF_H

#include <stdint.h>

struct backoff {
	unsigned first_ms, most_ms; /* the wait after a first failure, and the longest */
	uint64_t failed_ms;         /* when the last failure was (0: none yet) */
	unsigned wait_ms;           /* the wait that followed it */
};

#define BACKOFF_INIT(first, most) { .first_ms = (first), .most_ms = (most) }

/* A failure at now_ms (a monotonic clock): the wait before the next try.  It doubles from
 * first_ms up to most_ms while failures are in a row; a failure later than the last one's wait
 * plus most_ms (something lived that long in between) is not in a row, and waits first_ms. */
unsigned backoff_failed(struct backoff *b, uint64_t now_ms);

#endif
