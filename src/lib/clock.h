/* The clocks, read one way.  Monotonic for deadlines and durations (never jumps), boottime for
 * what counts sleep too (uptime, load average ticks, the age of a kept render). */
#ifndef LXCFS_CLOCK_H
#define LXCFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000u;
}

static inline uint64_t boot_ms(void)
{
	return clock_ns(CLOCK_BOOTTIME) / 1000000u;
}

/* Milliseconds since a clock_ns(CLOCK_MONOTONIC) reading, with a fraction (for logs). */
static inline double mono_since_ms(uint64_t start_ns)
{
	return (double)(clock_ns(CLOCK_MONOTONIC) - start_ns) / 1e6;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0)
		;
}

#endif
