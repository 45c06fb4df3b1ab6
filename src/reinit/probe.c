#include "reinit/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/child.h"
#include "reinit/proto.h"

bool probe_state(const char *path, int state_fd, char *why, size_t size)
{
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", state_fd);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return snprintf(why, size, "pipe: %s", strerror(errno)), false;
	char *argv[] = { WORKER_NAME, MODE_CHECK_STATE, fdarg, NULL };
	pid_t pid = spawn_child(&(struct spawn){ .path = path, .argv = argv, .keep = &state_fd, .nkeep = 1,
						 .out = -1, .err = p[1] });
	close(p[1]);
	ssize_t n = pid > 0 ? read(p[0], why, size - 1) : -1;
	close(p[0]);
	why[n > 0 ? n : 0] = '\0';
	char *nl = strchr(why, '\n');
	if (nl)
		*nl = '\0';
	int status = -1;
	if (pid > 0)
		child_wait(pid, -1, &status);
	else
		snprintf(why, size, "fork: %s", strerror(-pid));
	return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
