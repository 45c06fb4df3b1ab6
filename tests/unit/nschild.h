/* A child in a mount namespace of its own, for the unit tests: it unshares, runs setup there
 * (NULL: nothing more), says how that went, then waits to be killed (child_end). */
#ifndef LXCFS_NSCHILD_H
#define LXCFS_NSCHILD_H

#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

/* 'y' (in place), 'n' (the unshare or setup failed: not root?), or 0 if no child could tell;
 * *pid: the child, or -1. */
static inline char child_in_own_mntns(bool (*setup)(void *arg), void *arg, pid_t *pid)
{
	int ready[2];
	char c = 0;
	*pid = -1;
	if (pipe(ready) < 0)
		return 0;
	*pid = fork();
	if (*pid == 0) {
		c = unshare(CLONE_NEWNS) == 0 && (!setup || setup(arg)) ? 'y' : 'n';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	if (*pid < 0 || read(ready[0], &c, 1) != 1)
		c = 0;
	close(ready[0]);
	close(ready[1]);
	return c;
}

static inline void child_end(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

#endif
