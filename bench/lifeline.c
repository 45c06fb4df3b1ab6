/* How soon a lifeline (src/lib/lifeline.c) tells a death, against how soon a parent can reap it:
 * a child with a lifeline, THREADS more threads holding slots and MB of touched memory (a
 * worker's shape) is SIGKILLed N times; each time, the time from kill() to lifeline_watch()
 * returning, and to waitpid() returning.  Prints p50/p90/max of both.
 *   lifeline N THREADS MB */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/lifeline.h"

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void *holder(void *arg)
{
	(void)arg;
	lifeline_hold();
	for (;;)
		pause();
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("%-22s p50 %.3f ms  p90 %.3f ms  max %.3f ms\n", what, v[n / 2], v[n * 9 / 10], v[n - 1]);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: lifeline N THREADS MB\n");
		return 2;
	}
	int n = atoi(argv[1]), threads = atoi(argv[2]);
	size_t bytes = (size_t)atoi(argv[3]) << 20;
	double *told = calloc((size_t)n, sizeof(double)), *reaped = calloc((size_t)n, sizeof(double));
	double *killed_at = mmap(NULL, sizeof(double), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	for (int i = 0; i < n; i++) {
		int p[2];
		if (pipe(p) < 0)
			return 1;
		pid_t pid = fork();
		if (pid == 0) {
			int fd = lifeline_create();
			char *m = malloc(bytes + 1);
			for (size_t o = 0; o < bytes; o += 4096)
				m[o] = 1;
			for (int t = 0; t < threads; t++) {
				pthread_t tid;
				pthread_create(&tid, NULL, holder, NULL);
			}
			usleep(20000); /* the threads hold their slots */
			char num[16];
			int len = snprintf(num, sizeof(num), "%d", fd);
			if (write(p[1], num, (size_t)len) != len)
				_exit(1);
			for (;;)
				pause();
		}
		close(p[1]);
		char num[16] = { 0 }, path[64];
		if (read(p[0], num, sizeof(num) - 1) <= 0)
			return 1;
		close(p[0]);
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid, num);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		pid_t killer = fork();
		if (killer == 0) {
			usleep(20000); /* the watch below is waiting by then */
			*killed_at = now_ms();
			kill(pid, SIGKILL);
			_exit(0);
		}
		int end = lifeline_watch(fd);
		told[i] = now_ms() - *killed_at;
		waitpid(pid, NULL, 0);
		reaped[i] = now_ms() - *killed_at;
		waitpid(killer, NULL, 0);
		close(fd);
		if (end != LIFELINE_DIED) {
			fprintf(stderr, "the watch said %d, not a death\n", end);
			return 1;
		}
	}
	printf("%d SIGKILLs of a child with %d more threads and %s MB touched:\n", n, threads, argv[3]);
	report("kill -> lifeline tells", told, n);
	report("kill -> waitpid", reaped, n);
	return 0;
}
