/* First lookups of one FUSE name by several processes at once, as the rebind's 16 children make
 * them at the start of a pass, or containers starting together when they bind lxcfs's files: how
 * often one of them is handed a name the kernel has already dropped from its cache (its fd's path
 * ends " (deleted)"), which the kernel then refuses to mount (ENOENT).
 *
 *   lookup-race [--alone-first] [--bind] PROCS DIR ITERS FIRST   names nFIRST .. nFIRST+ITERS-1
 *   lookup-race [--alone-first] [--bind] PROCS DIR -- NAME...    the names given
 * DIR: a bench/floor --names mount (each nN new to it), or an lxcfs mount just made (NAME:
 * proc/meminfo ...).  All PROCS processes look up (or bind) one name at once, then the next.
 *   --alone-first  one process looks each name up alone before the others, as the pass does
 *                  (src/reinit/heal/fresh.h)
 *   --bind         each process bind-mounts the name (in a mount namespace of its own) instead,
 *                  and the binds refused are counted
 * Prints one line of counts; exits 1 if a bind was refused or a name handed dropped. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

struct shared {
	pthread_barrier_t asked, answered;
	unsigned dropped, failed;
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

/* One process's turn at a name: 1 if it was handed the name dropped (or its bind refused with
 * ENOENT), -1 if it failed otherwise. */
static int try_name(int dir, const char *dirpath, const char *name, const char *target)
{
	if (target) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dirpath, name);
		if (mount(path, target, NULL, MS_BIND, NULL) == 0)
			return umount2(target, MNT_DETACH), 0;
		return errno == ENOENT ? 1 : -1;
	}
	int fd = openat(dir, name, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int d = dropped(fd);
	close(fd);
	return d;
}

int main(int argc, char **argv)
{
	int alone = 0, bind = 0, a = 1;
	for (; a < argc && argv[a][0] == '-' && argv[a][1] == '-' && argv[a][2]; a++) {
		alone |= strcmp(argv[a], "--alone-first") == 0;
		bind |= strcmp(argv[a], "--bind") == 0;
	}
	if (argc - a < 4) {
		fprintf(stderr, "usage: lookup-race [--alone-first] [--bind] PROCS DIR (ITERS FIRST | -- NAME...)\n");
		return 2;
	}
	int procs = atoi(argv[a]);
	const char *dirpath = argv[a + 1];
	char **given = strcmp(argv[a + 2], "--") == 0 ? &argv[a + 3] : NULL;
	int iters = given ? argc - a - 3 : atoi(argv[a + 2]), first = given ? 0 : atoi(argv[a + 3]);
	int dir = open(dirpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct shared *sh = mmap(NULL, sizeof(*sh) + (size_t)iters, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				 -1, 0);
	if (dir < 0 || sh == MAP_FAILED || iters < 1 || procs < 1) {
		perror("lookup-race");
		return 2;
	}
	pthread_barrierattr_t ba;
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->asked, &ba, (unsigned)procs);
	pthread_barrier_init(&sh->answered, &ba, (unsigned)procs);
	for (int k = 0; k < procs; k++) {
		if (fork() != 0)
			continue;
		/* --bind: a namespace of its own, and in it a file to bind over */
		char target[64];
		snprintf(target, sizeof(target), "/tmp/lookup-race.%d.%d", (int)getppid(), k);
		if (bind && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			     close(open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) < 0))
			_exit(3);
		for (int i = 0; i < iters; i++) {
			char num[32];
			snprintf(num, sizeof(num), "n%d", first + i);
			const char *name = given ? given[i] : num;
			int before = alone && k == 0 ? openat(dir, name, O_PATH | O_CLOEXEC) : -1;
			pthread_barrier_wait(&sh->asked);
			int r = try_name(dir, dirpath, name, bind ? target : NULL);
			if (r > 0)
				sh->hit[i] = 1;
			if (r)
				__atomic_add_fetch(r > 0 ? &sh->dropped : &sh->failed, 1, __ATOMIC_RELAXED);
			pthread_barrier_wait(&sh->answered);
			if (before >= 0)
				close(before);
		}
		if (bind)
			unlink(target);
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
	unsigned names_hit = 0;
	for (int i = 0; i < iters; i++)
		names_hit += sh->hit[i];
	printf("%2d processes, %d names, %s: %u of %d %s (%u names), %u failed otherwise\n", procs, iters,
	       alone ? "each looked up alone first" : "first lookups at once      ", sh->dropped, iters * procs,
	       bind ? "binds refused (ENOENT)" : "lookups handed a dropped name", names_hit, sh->failed);
	return sh->dropped ? 1 : 0;
}
