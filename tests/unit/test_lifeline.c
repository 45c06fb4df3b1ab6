/* The lifeline (lib/lifeline.h), between real processes: a death is told as one, and only once
 * every holder has ended; an end on purpose is told as such; a file that is no lifeline is
 * refused. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "lib/lifeline.h"

enum how { KILLED, LET_GO, EXIT_HOLDING, MAIN_FIRST };

static int marker[2]; /* the last holder writes here just before its end */

static void *late_holder(void *arg)
{
	(void)arg;
	lifeline_hold();
	usleep(200 * 1000);
	if (write(marker[1], "x", 1) != 1)
		_exit(3);
	_exit(0); /* the whole process, holding its slot: a death for the watcher */
}

/* A child with a lifeline, ended as how says; the parent watches it through /proc. */
static int child(enum how how, int ready)
{
	int fd = lifeline_create();
	if (fd < 0)
		_exit(2);
	char num[16];
	int len = snprintf(num, sizeof(num), "%d", fd);
	if (write(ready, num, (size_t)len) != len)
		_exit(2);
	close(ready);
	pthread_t t;
	switch (how) {
	case KILLED:
		pause();
		break;
	case LET_GO:
		usleep(100 * 1000);
		lifeline_release();
		_exit(0);
	case EXIT_HOLDING:
		usleep(100 * 1000);
		_exit(0);
	case MAIN_FIRST:
		/* the first thread dies; another holder outlives it, and only its end may be told */
		if (pthread_create(&t, NULL, late_holder, NULL) != 0)
			_exit(2);
		usleep(50 * 1000);
		syscall(SYS_exit, 0);
	}
	_exit(0);
}

static int watch(enum how how)
{
	int p[2];
	if (pipe(p) < 0 || pipe(marker) < 0)
		return -100;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		close(marker[0]);
		child(how, p[1]);
	}
	close(p[1]);
	close(marker[1]);
	fcntl(marker[0], F_SETFL, O_NONBLOCK); /* a watch told too early finds nothing written */
	char num[16] = { 0 };
	if (read(p[0], num, sizeof(num) - 1) <= 0)
		return -101;
	close(p[0]);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, num);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -102;
	if (how == KILLED)
		kill(pid, SIGKILL);
	int end = lifeline_watch(fd);
	close(fd);
	if (how == MAIN_FIRST) {
		char c;
		/* told only after the last holder's write, which came just before its end */
		CHECK_INT(read(marker[0], &c, 1), 1);
	}
	close(marker[0]);
	waitpid(pid, NULL, 0);
	return end;
}

int main(void)
{
	CHECK_INT(watch(KILLED), LIFELINE_DIED);
	CHECK_INT(watch(LET_GO), LIFELINE_LET_GO);
	CHECK_INT(watch(EXIT_HOLDING), LIFELINE_DIED); /* an end without letting go is a death */
	CHECK_INT(watch(MAIN_FIRST), LIFELINE_DIED);
	/* not a lifeline: too small to hold one */
	char tmp[] = "/tmp/lifeline-test.XXXXXX";
	int fd = mkstemp(tmp);
	CHECK(fd >= 0);
	unlink(tmp);
	CHECK_INT(lifeline_watch(fd), -EINVAL);
	close(fd);
	/* in this process: one lifeline, the creating thread on slot 0 */
	int own = lifeline_create();
	CHECK(own >= 0);
	CHECK_INT(lifeline_create(), -EBUSY);
	lifeline_release();
	close(own);
	return check_failures ? 1 : 0;
}
