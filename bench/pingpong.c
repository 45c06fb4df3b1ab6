/* Does work on one cpu slow a wake-up on the other?  A reader and a server ping-pong a byte over
 * two pipes; after each answer the server works spost µs more (as a thread rendering after its
 * reply would), and the reader works rpath µs before the next round (its own path).  Prints the
 * p50 of a round.  Pinned: reader on cpu rc, server on cpu sc (the same cpu: every wake-up is a
 * switch on it).  For README's Performance section, "Rendering at the OPEN".
 *   cc -O2 -o pingpong bench/pingpong.c && ./pingpong RPATH_US SPOST_US READER_CPU SERVER_CPU */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void spin_us(uint64_t us)
{
	uint64_t end = now_ns() + us * 1000;
	while (now_ns() < end)
		;
}

static void pin(int cpu)
{
	cpu_set_t s;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pingpong RPATH_US SPOST_US READER_CPU SERVER_CPU\n");
		return 2;
	}
	int rpath = atoi(argv[1]), spost = atoi(argv[2]), rc = atoi(argv[3]), sc = atoi(argv[4]), n = 20000;
	int a[2], b[2];
	char c = 0;
	if (pipe(a) < 0 || pipe(b) < 0)
		return 1;
	pid_t p = fork();
	if (p == 0) {
		close(a[1]);
		pin(sc);
		while (read(a[0], &c, 1) == 1) {
			if (write(b[1], &c, 1) != 1)
				_exit(1);
			spin_us((uint64_t)spost);
		}
		_exit(0);
	}
	pin(rc);
	uint64_t *v = malloc(sizeof(*v) * (size_t)n);
	for (int i = 0; i < n; i++) {
		uint64_t t = now_ns();
		if (write(a[1], &c, 1) != 1 || read(b[0], &c, 1) != 1)
			return 1;
		spin_us((uint64_t)rpath);
		v[i] = now_ns() - t;
	}
	close(a[1]);
	waitpid(p, NULL, 0);
	qsort(v, (size_t)n, sizeof(*v), cmp);
	printf("reader path %d us, server work after its answer %d us, cpus %d/%d: p50 %.1f us a round\n", rpath,
	       spost, rc, sc, (double)v[n / 2] / 1e3);
	free(v);
	return 0;
}
