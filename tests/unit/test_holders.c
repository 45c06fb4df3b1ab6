/* holders_find: children holding the same open file of /dev/fuse are found, by kcmp and by the
 * flags, and an unrelated open of /dev/fuse is not. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reinit/holders.h"
#include "check.h"

static pid_t hold(int fd)
{
	pid_t pid = fork();
	if (pid == 0) {
		(void)fd; /* inherited */
		pause();
		_exit(0);
	}
	return pid;
}

static int count_of(const struct holder *h, int n, pid_t pid)
{
	int c = 0;
	for (int i = 0; i < n; i++)
		c += h[i].pid == pid;
	return c;
}

int main(void)
{
	int ours = open("/dev/fuse", O_RDWR);
	if (ours < 0) {
		printf("SKIP: no /dev/fuse\n");
		return 77;
	}
	pid_t a = hold(ours);
	int other = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	CHECK(other >= 0);
	close(ours);
	ours = -1;
	/* now only the child holds the first file; re-get it from the other side: the child b
	 * holds "other" too, a different open file */
	pid_t b = hold(other);
	int mine = open("/dev/fuse", O_RDWR | O_CLOEXEC); /* a third file, ours alone */
	CHECK(mine >= 0);
	usleep(100000);
	for (int by = 0; by < 2; by++) {
		struct holder *h;
		int n = by ? holders_find_by_flags(other, &h) : holders_find(other, 0, &h);
		CHECK(n >= 1);
		CHECK(count_of(h, n, b) == 1);
		CHECK(count_of(h, n, a) == 0);
		free(h);
		n = by ? holders_find_by_flags(mine, &h) : holders_find(mine, 0, &h);
		CHECK(n == 0);
		free(h);
		CHECK((fcntl(other, F_GETFL) & O_APPEND) == 0); /* the probe left the flags as they were */
	}
	/* one process only: the one holding it, or one that holds another file */
	struct holder *h;
	CHECK_INT(holders_find(other, b, &h), 1);
	free(h);
	CHECK_INT(holders_find(other, a, &h), 0);
	free(h);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	CHECK_DONE();
}
