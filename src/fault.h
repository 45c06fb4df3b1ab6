/* Test-only fault hooks, compiled in with -Dfault_hooks=true (the test builds), absent from a
 * release build.  Set in the environment of the daemon; a keeper passes them to its workers.
 *   LXCFS_FAULT_SLEEP=NAME:MS   the render of file NAME (e.g. meminfo) sleeps MS milliseconds
 *   LXCFS_FAULT_CRASH=NAME      the render of file NAME aborts the worker, every time */
#ifndef LXCFS_FAULT_H
#define LXCFS_FAULT_H

#include "version.h"

#if LXCFS_FAULT_HOOKS
void fault_render(const char *name);
#else
static inline void fault_render(const char *name)
{
	(void)name;
}
#endif

#endif
