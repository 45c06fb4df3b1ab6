/* Reading whole small files (procfs, cgroupfs, sysfs) into a buffer, bounded. */
#ifndef LXCFS_FILEIO_H
#define LXCFS_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "lib/buf.h"

/* Files bigger than this are refused (EFBIG): a renderer never serves a truncated file. */
#define FILEIO_MAX (16u << 20)

/* Appends the content of dirfd/path (dirfd may be AT_FDCWD) to out.  0 or -errno. */
int file_read_at(int dirfd, const char *path, struct buf *out);
int file_read(const char *path, struct buf *out);
/* Re-reads an already open seq_file from offset 0 (cheaper than open+read+close). */
int fd_read_all(int fd, struct buf *out);
/* Reads path into a small fixed buffer, NUL-terminated, trailing newline kept. -errno on error. */
ssize_t file_read_small(int dirfd, const char *path, char *dst, size_t size);

#endif
