#include "fault.h"

#if LXCFS_FAULT_HOOKS
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

void fault_render(const char *name)
{
	const char *s = getenv("LXCFS_FAULT_SLEEP");
	size_t n = strlen(name);
	if (s && strncmp(s, name, n) == 0 && s[n] == ':') {
		long ms = atol(s + n + 1);
		log_info("fault hook: render of %s sleeps %ld ms", name, ms);
		nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 }, NULL);
	}
	const char *c = getenv("LXCFS_FAULT_CRASH");
	if (c && strcmp(c, name) == 0) {
		log_info("fault hook: render of %s crashes the worker", name);
		abort();
	}
}
#endif
