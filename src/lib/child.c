#include "lib/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

int child_wait(pid_t pid, int timeout_ms, int *status)
{
	int st = 0;
	uint64_t deadline = timeout_ms < 0 ? 0 : mono_ms() + (uint64_t)timeout_ms;
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
