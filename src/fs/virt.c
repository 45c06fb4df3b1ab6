#include "fs/virt.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

/* Process-wide on purpose, not in the context (fs/ctx.h): the setting is the daemon's, set by
 * the main thread's signal or control loop before any context exists (from VIRT_ENV) and kept
 * across contexts and re-executions; requests only read it. */
static int on = 1;

bool virt_on(void)
{
	return __atomic_load_n(&on, __ATOMIC_RELAXED);
}

void virt_set(bool want, const char *why)
{
	if (__atomic_exchange_n(&on, want, __ATOMIC_RELAXED) == (int)want)
		return;
	if (want)
		log_info("virtualization on (%s): each container sees its own values again", why);
	else
		log_info("virtualization off (%s): every file shows the host's values until the next SIGUSR2",
			 why);
}

bool virt_from_env(void)
{
	const char *v = getenv(VIRT_ENV);
	return !(v && strcmp(v, "off") == 0);
}
