#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int read_whole(int fd, struct buf *out, bool one_go)
{
	size_t start = out->len;
	off_t off = 0;
	for (;;) {
		if (!buf_reserve(out, 4096)) {
			out->len = start;
			return -ENOMEM;
		}
		ssize_t n = pread(fd, out->data + out->len, out->cap - out->len - 1, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			out->len = start;
			return -e;
		}
		if (n == 0)
			return 0;
		size_t asked = out->cap - out->len - 1;
		out->len += (size_t)n;
		off += n;
		if (out->len - start > FILEIO_MAX) {
			out->len = start;
			return -EFBIG;
		}
		if (one_go && (size_t)n < asked)
			return 0;
	}
}

int fd_read_all(int fd, struct buf *out)
{
	return read_whole(fd, out, false);
}

int fd_read_one_go(int fd, struct buf *out)
{
	return read_whole(fd, out, true);
}

/* Their show() prints the whole file: single_open in procfs, and every cgroup file but the
 * task lists, which are walked a record at a time. */
static const char *const proc_one_go[] = { "meminfo", "stat", "uptime", "loadavg", "status", "cgroup" };
static const char *const cgroup_prefixes[] = { "memory.", "cpu.", "cpuacct.", "cpuset.", "io.", "blkio.", "pids." };

bool fileio_one_go(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	for (size_t i = 0; i < sizeof(cgroup_prefixes) / sizeof(*cgroup_prefixes); i++)
		if (strncmp(name, cgroup_prefixes[i], strlen(cgroup_prefixes[i])) == 0)
			return true;
	for (size_t i = 0; i < sizeof(proc_one_go) / sizeof(*proc_one_go); i++)
		if (strcmp(name, proc_one_go[i]) == 0)
			return true;
	return false;
}

int file_read_at(int dirfd, const char *path, struct buf *out)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	int r = read_whole(fd, out, fileio_one_go(path));
	close(fd);
	return r;
}

int file_read(const char *path, struct buf *out)
{
	return file_read_at(AT_FDCWD, path, out);
}

ssize_t file_read_small(int dirfd, const char *path, char *dst, size_t size)
{
	if (size == 0)
		return -EINVAL;
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < size - 1) {
		ssize_t n = read(fd, dst + got, size - 1 - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	dst[got] = '\0';
	return (ssize_t)got;
}
