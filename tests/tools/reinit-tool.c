/* Drives the kernel series' ioctls on a live connection, for the VM tests.
 *   reinit-tool features                 mask from FUSE_DEV_IOC_REINIT_FEATURES on a fresh /dev/fuse
 *   reinit-tool reinit PID FD            FUSE_DEV_IOC_REINIT on fd FD of process PID
 *   reinit-tool reinit-nocap PID FD      the same after dropping every capability
 *   reinit-tool race PID FD THREADS      THREADS threads issue it at once; prints "ok N busy N other N"
 *   reinit-tool bmreval PID FD           FUSE_DEV_IOC_BM_REVAL
 *   reinit-tool reader PID FD            reads requests of the connection and answers none (a
 *                                        stuck old worker's stand-in): prints "reading", then
 *                                        the opcode of each request it takes
 * The fd is taken with pidfd_getfd(): the same open file as the daemon's.  Prints "ok" or the
 * errno name; exits 0 when the ioctl succeeded. */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linux/fuse_reinit.h"

static int grab(const char *pid, const char *fd)
{
	int pfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
	if (pfd < 0) {
		perror("pidfd_open");
		exit(2);
	}
	int f = (int)syscall(SYS_pidfd_getfd, pfd, atoi(fd), 0);
	if (f < 0) {
		perror("pidfd_getfd");
		exit(2);
	}
	close(pfd);
	return f;
}

static int report(int r)
{
	printf("%s\n", r < 0 ? strerrorname_np(errno) : "ok");
	return r < 0 ? 1 : 0;
}

static int fd_shared;
static pthread_barrier_t bar;
static int results[64];

static void *racer(void *arg)
{
	int *res = arg;
	pthread_barrier_wait(&bar);
	*res = ioctl(fd_shared, FUSE_DEV_IOC_REINIT) < 0 ? errno : 0;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "features") == 0) {
		int f = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		__u32 mask = 0;
		if (f < 0 || ioctl(f, FUSE_DEV_IOC_REINIT_FEATURES, &mask) < 0)
			return report(-1);
		printf("%u\n", mask);
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "reinit") == 0)
		return report(ioctl(grab(argv[2], argv[3]), FUSE_DEV_IOC_REINIT));
	if (argc == 4 && strcmp(argv[1], "bmreval") == 0)
		return report(ioctl(grab(argv[2], argv[3]), FUSE_DEV_IOC_BM_REVAL));
	if (argc == 4 && strcmp(argv[1], "reinit-nocap") == 0) {
		int f = grab(argv[2], argv[3]);
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2] = { { 0 } };
		if (syscall(SYS_capset, &h, d) < 0) {
			perror("capset");
			return 2;
		}
		return report(ioctl(f, FUSE_DEV_IOC_REINIT));
	}
	if (argc == 5 && strcmp(argv[1], "race") == 0) {
		int n = atoi(argv[4]);
		if (n < 2 || n > 64)
			return 2;
		fd_shared = grab(argv[2], argv[3]);
		pthread_barrier_init(&bar, NULL, (unsigned)n);
		pthread_t t[64];
		for (int i = 0; i < n; i++)
			pthread_create(&t[i], NULL, racer, &results[i]);
		int ok = 0, busy = 0, other = 0;
		for (int i = 0; i < n; i++) {
			pthread_join(t[i], NULL);
			ok += results[i] == 0;
			busy += results[i] == EBUSY;
			other += results[i] != 0 && results[i] != EBUSY;
		}
		printf("ok %d busy %d other %d\n", ok, busy, other);
		return other ? 1 : 0;
	}
	if (argc == 4 && strcmp(argv[1], "reader") == 0) {
		static uint32_t buf[(1u << 20) / 4 + 1024]; /* more than max_write plus headers */
		int f = grab(argv[2], argv[3]);
		printf("reading\n");
		fflush(stdout);
		for (;;) {
			ssize_t n = read(f, buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == ENOENT))
				continue;
			if (n < 8) {
				printf("%s\n", n < 0 ? strerrorname_np(errno) : "short read");
				return 1;
			}
			printf("opcode %u\n", buf[1]); /* fuse_in_header: len, opcode, ... */
			fflush(stdout);
		}
	}
	fprintf(stderr, "usage: see the comment at the top of reinit-tool.c\n");
	return 2;
}
