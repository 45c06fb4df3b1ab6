/* A PSI trigger reader, as systemd-oomd and the kernel's documentation use one: opens FILE
 * read-write, writes TRIGGER with its terminating NUL, prints "armed", then polls for POLLPRI
 * until N events came.  Prints "events N in S s" (exit 0), "timeout after K events" when a poll
 * waits TIMEOUT_MS in vain (exit 1), "POLLERR" (exit 2), or the failed call and its errno name
 * (exit 3).
 *   psi-wait FILE TRIGGER TIMEOUT_MS N */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *errname(int e)
{
	static const struct { int e; const char *n; } t[] = {
		{ EINVAL, "EINVAL" }, { EBUSY, "EBUSY" }, { EACCES, "EACCES" }, { ENOENT, "ENOENT" },
		{ EIO, "EIO" }, { ENOMEM, "ENOMEM" }, { EPERM, "EPERM" }, { ENOTCONN, "ENOTCONN" }, { EROFS, "EROFS" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].e == e)
			return t[i].n;
	return strerror(e);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: psi-wait FILE TRIGGER TIMEOUT_MS N\n");
		return 3;
	}
	int tmo = atoi(argv[3]), want = atoi(argv[4]), n = 0;
	int fd = open(argv[1], O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 3;
	}
	if (write(fd, argv[2], strlen(argv[2]) + 1) < 0) {
		printf("write: %s\n", errname(errno));
		return 3;
	}
	printf("armed\n");
	fflush(stdout);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (n < want) {
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		int r = poll(&p, 1, tmo);
		if (r < 0) {
			printf("poll: %s\n", errname(errno));
			return 3;
		}
		if (r == 0) {
			printf("timeout after %d events\n", n);
			return 1;
		}
		if (p.revents & POLLERR) {
			printf("POLLERR\n");
			return 2;
		}
		if (p.revents & POLLPRI) {
			n++;
			printf("event %d\n", n);
			fflush(stdout);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("events %d in %.1f s\n", n, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
