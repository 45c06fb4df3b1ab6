#include "lib/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int fd_read_all(int fd, struct buf *out)
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
		out->len += (size_t)n;
		off += n;
		if (out->len - start > FILEIO_MAX) {
			out->len = start;
			return -EFBIG;
		}
	}
}

int file_read_at(int dirfd, const char *path, struct buf *out)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	int r = fd_read_all(fd, out);
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
