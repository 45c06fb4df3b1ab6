/* A task in uninterruptible sleep (D), for the load average tests: the parent of a vfork()
 * waits for its child killably, which the kernel counts in the load like any D task.  The child
 * sleeps for the given seconds, then both end.  Prints the parent's pid first. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 30;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		/* only async-signal-safe calls between vfork and _exit */
		struct timespec ts = { (time_t)secs, 0 };
		nanosleep(&ts, NULL);
		_exit(0);
	}
	if (pid < 0)
		return 1;
	waitpid(pid, NULL, 0);
	return 0;
}
