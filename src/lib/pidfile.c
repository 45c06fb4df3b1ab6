#include "lib/pidfile.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"

int pidfile_acquire(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int e = errno;
		log_error("cannot open pidfile %s: %s", path, strerror(e));
		return -e;
	}
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EAGAIN || e == EACCES) {
			struct flock who = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
			if (fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
				log_error("another lxcfs (pid %d) is already running with pidfile %s", (int)who.l_pid,
					  path);
			else
				log_error("another lxcfs is already running with pidfile %s", path);
			close(fd);
			return -EEXIST;
		}
		log_error("cannot lock pidfile %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		int e = errno;
		log_error("cannot write pidfile %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

void pidfile_release(const char *path, int fd)
{
	if (fd < 0)
		return;
	unlink(path);
	close(fd);
}

pid_t pidfile_holder(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	bool locked = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
	close(fd);
	return locked ? fl.l_pid : 0;
}
