/* Child processes and bounded waits, written once: how every binary starts another (the worker,
 * the upgrade probe, the rebind tier) and how long anything may wait for something. */
#ifndef LXCFS_CHILD_H
#define LXCFS_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spawn {
	const char *path;
	char *const *argv;
	const int *keep; /* fds the child inherits (their close-on-exec cleared in the child only) */
	size_t nkeep;
	int out, err; /* the child's stdout and stderr, or -1 to share ours */
};

/* fork + exec with an empty signal mask (callers take signals from a blocked mask, which a child
 * must not inherit).  The child's pid, or -errno; an exec failure is logged by the child, which
 * then exits 127. */
pid_t spawn_child(const struct spawn *s);

/* Waits for pid to end, at most timeout_ms (< 0: for ever); past that it is SIGKILLed and
 * reaped.  0 (status in *status, if given), -ETIMEDOUT (killed), or -errno. */
int child_wait(pid_t pid, int timeout_ms, int *status);

/* Polls done(arg) every step_ms until it is true or timeout_ms passed.  Whether it became true. */
bool wait_until(bool (*done)(void *arg), void *arg, int timeout_ms, int step_ms);

#endif
