#include "lib/child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

pid_t spawn_child(const struct spawn *s)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (s->out >= 0)
		dup2(s->out, STDOUT_FILENO);
	if (s->err >= 0)
		dup2(s->err, STDERR_FILENO);
	for (size_t i = 0; i < s->nkeep; i++) {
		int fl = s->keep[i] >= 0 ? fcntl(s->keep[i], F_GETFD) : -1;
		if (fl >= 0)
			fcntl(s->keep[i], F_SETFD, fl & ~FD_CLOEXEC);
	}
	execv(s->path, s->argv);
	log_cmdline_error("cannot run %s: %s", s->path, strerror(errno));
	_exit(127);
}

/* Sleeps until pid ends or the deadline passes, woken by the kernel through a pidfd (Linux >=
 * 5.3).  Without one the caller's loop polls every millisecond: a rebind pass waits for a child
 * per namespace, and that millisecond was a third of its time per namespace. */
static void sleep_until_exit(pid_t pid, uint64_t deadline)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return;
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline)
			break;
		uint64_t left = deadline - now;
		int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r != 0 && !(r < 0 && errno == EINTR))
			break;
	}
	close(pfd);
}

int child_wait(pid_t pid, int timeout_ms, int *status)
{
	int st = 0;
	uint64_t deadline = timeout_ms < 0 ? 0 : mono_ms() + (uint64_t)timeout_ms;
	if (timeout_ms > 0)
		sleep_until_exit(pid, deadline);
	for (;;) {
		pid_t r = waitpid(pid, &st, timeout_ms < 0 ? 0 : WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (timeout_ms >= 0 && mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			if (status)
				*status = st;
			return -ETIMEDOUT;
		}
		if (r == 0)
			sleep_ms(1);
	}
	if (status)
		*status = st;
	return 0;
}

bool wait_until(bool (*done)(void *arg), void *arg, int timeout_ms, int step_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		if (done(arg))
			return true;
		if (mono_ms() >= deadline)
			return false;
		sleep_ms((unsigned)(step_ms > 0 ? step_ms : 1));
	}
}
