#include "reinit/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

bool probe_state(const char *path, int state_fd, char *why, size_t size)
{
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", state_fd);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return snprintf(why, size, "pipe: %s", strerror(errno)), false;
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none; /* the caller takes its signals from a mask the probe must not inherit */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		int fl = fcntl(state_fd, F_GETFD);
		if (fl >= 0)
			fcntl(state_fd, F_SETFD, fl & ~FD_CLOEXEC);
		dup2(p[1], 2);
		execl(path, "lxcfs-worker", "--check-state", fdarg, (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	ssize_t n = pid > 0 ? read(p[0], why, size - 1) : -1;
	close(p[0]);
	why[n > 0 ? n : 0] = '\0';
	char *nl = strchr(why, '\n');
	if (nl)
		*nl = '\0';
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	else
		snprintf(why, size, "fork: %s", strerror(errno));
	return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
