/* Test-only fault hooks, compiled in with -Dfault_hooks=true (the test builds), absent from a
 * release build.  Set in the environment of the daemon; a keeper passes them to its workers.
 *   LXCFS_FAULT_SLEEP=NAME:MS   the render of file NAME (e.g. meminfo) sleeps MS milliseconds;
 *                               NAME "keep": the keeping of every render for its open file does
 *   LXCFS_FAULT_CRASH=NAME      the render of file NAME aborts the worker, every time
 *   LXCFS_FAULT_HIDE_FILE=PATH  while PATH exists, a lookup of the name it holds fails with
 *                               ENOENT (a bound path that a new daemon no longer has)
 *   LXCFS_FAULT_CRASH_ONCE=PATH while PATH holds the name of a point (fault_point), the worker
 *                               removes PATH and aborts there: one death, not a crash loop
 *   LXCFS_FAULT_SNAP_IDLE=S     a kept render untouched for S seconds is reclaimed (default 300)
 *   LXCFS_FAULT_REBIND_BOUND_MS=MS  the rebind's bound for a namespace of proven mounts (30000)
 *   LXCFS_FAULT_REBIND_RUNNERS=N    the rebind's children healing those at once (16)
 *   LXCFS_FAULT_REBIND_WALK_PROC=1  the rebind finds namespaces by a walk of /proc, not the
 *                               kernel's list (as before Linux 6.13)
 *   LXCFS_FAULT_REBIND_DROP=N       the first file bind a child of the rebind clones has its
 *                               fresh tree's root dropped from the kernel's cache of names (by
 *                               fault_drop_name) before it is put in, at each clone, N times in
 *                               all: the kernel then refuses to mount it (ENOENT)
 *   LXCFS_FAULT_STANDBY_DROP_MS=MS  a standby that finds its keeper gone waits MS before it
 *                               looks whether its watcher took over (a death seen first by the
 *                               watcher, every time instead of now and then)
 *   LXCFS_FAULT_REAP_STANDBY_FIRST_MS=MS  a keeper about to reap its dead serving worker waits
 *                               up to MS for the standby to end, and reaps it first (the order
 *                               the reap otherwise leaves to chance)
 *   LXCFS_FAULT_JOURNAL_SLOTS=N  the worker claims only the journal's first N slots (a journal
 *                               full while others hold it) */
#ifndef LXCFS_FAULT_H
#define LXCFS_FAULT_H

#include "version.h"

#include <stdbool.h>
#include <stdlib.h>

#if LXCFS_FAULT_HOOKS
void fault_render(const char *name);
bool fault_hidden(const char *name);
void fault_point(const char *name);
/* The kernel made to drop the dentry of rel (a file, beneath dirfd in an lxcfs mount) from its
 * cache as it does when a lookup's revalidation fails: the worker refuses the name
 * (LXCFS_FAULT_HIDE_FILE) past the entry's validity, and rel is looked up.  Takes 1.1 s. */
bool fault_drop_name(int dirfd, const char *rel);
/* The number in the environment variable var, else dflt.  (Inline: the keeper, which links
 * nothing of src/fs, reads its own hooks with it.) */
static inline long fault_long(const char *var, long dflt)
{
	const char *s = getenv(var);
	return s && *s ? atol(s) : dflt;
}
#else
static inline void fault_render(const char *name)
{
	(void)name;
}
static inline bool fault_hidden(const char *name)
{
	(void)name;
	return false;
}
static inline void fault_point(const char *name)
{
	(void)name;
}
static inline bool fault_drop_name(int dirfd, const char *rel)
{
	(void)dirfd;
	(void)rel;
	return false;
}
static inline long fault_long(const char *var, long dflt)
{
	(void)var;
	return dflt;
}
#endif

#endif
