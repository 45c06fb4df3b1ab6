/* First lookups of one FUSE name by several processes at once, as the rebind's 16 children make
 * them at the start of a pass: how often one of them is handed a name the kernel has already
 * dropped from its cache (its fd's path ends " (deleted)"), which the kernel then refuses to
 * mount (ENOENT).  With --alone-first, one process looks each name up alone before the others,
 * as the pass now does (src/reinit/heal/fresh.h).
 *
 *   lookup-race DIR ITERS PROCS FIRST [--alone-first]
 * DIR: a bench/floor --names mount; the names are nFIRST .. nFIRST+ITERS-1, each new to it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	pthread_barrier_t asked, answered;
	unsigned dropped, failed, names_hit;
	unsigned char hit[];
};

static int dropped(int fd)
{
	static const char mark[] = " (deleted)";
	char link[64], path[4096];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n < (ssize_t)sizeof(mark) - 1)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - (sizeof(mark) - 1), mark) == 0;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: lookup-race DIR ITERS PROCS FIRST [--alone-first]\n");
		return 2;
	}
	int iters = atoi(argv[2]), procs = atoi(argv[3]), first = atoi(argv[4]);
	int alone = argc > 5 && strcmp(argv[5], "--alone-first") == 0;
	int dir = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct shared *sh = mmap(NULL, sizeof(*sh) + (size_t)iters, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	if (dir < 0 || sh == MAP_FAILED || iters < 1 || procs < 1) {
		perror("lookup-race");
		return 1;
	}
	pthread_barrierattr_t a;
	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->asked, &a, (unsigned)procs);
	pthread_barrier_init(&sh->answered, &a, (unsigned)procs);
	for (int k = 0; k < procs; k++) {
		if (fork() != 0)
			continue;
		for (int i = 0; i < iters; i++) {
			char name[32];
			snprintf(name, sizeof(name), "n%d", first + i);
			int before = alone && k == 0 ? openat(dir, name, O_PATH | O_CLOEXEC) : -1;
			pthread_barrier_wait(&sh->asked);
			int fd = openat(dir, name, O_PATH | O_CLOEXEC);
			if (fd < 0) {
				__atomic_add_fetch(&sh->failed, 1, __ATOMIC_RELAXED);
			} else if (dropped(fd)) {
				__atomic_add_fetch(&sh->dropped, 1, __ATOMIC_RELAXED);
				sh->hit[i] = 1;
			}
			if (fd >= 0)
				close(fd);
			pthread_barrier_wait(&sh->answered);
			if (before >= 0)
				close(before);
		}
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	unsigned names_hit = 0;
	for (int i = 0; i < iters; i++)
		names_hit += sh->hit[i];
	printf("%2d processes, %d names, %s: %u of %d lookups handed a dropped name (%u names), %u failed\n", procs,
	       iters, alone ? "each looked up alone first" : "first lookups at once      ", sh->dropped, iters * procs,
	       names_hit, sh->failed);
	return 0;
}
