/* The cost of a snapshot entry's checksum (state_snap_sum), which every read at offset 0 pays
 * once (its render is kept) and every read past offset 0 that returns data pays again (the
 * entry is checked before it is served).  Run by bench/snapsum; prints microseconds per sum
 * for a typical container render (4 KiB) and the largest an entry holds. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "reinit/state.h"

static double us_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e6 + (double)(b.tv_nsec - a->tv_nsec) / 1e3;
}

static volatile uint64_t sink;

int main(void)
{
	static char data[STATE_SNAP_DATA];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + 3);
	const uint32_t sizes[] = { 4096, STATE_SNAP_DATA };
	for (int s = 0; s < 2; s++) {
		int n = s ? 20000 : 300000;
		uint64_t x = 0;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < n; i++)
			x += state_snap_sum((uint64_t)i, data, sizes[s]);
		double us = us_since(&t0);
		sink = x; /* the sums are used: the loop is not optimized away */
		printf("state_snap_sum of %5u bytes: %.2f us (%.2f ns a byte)\n", sizes[s], us / n, us * 1e3 / n / sizes[s]);
	}
	return 0;
}
