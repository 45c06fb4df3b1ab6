/* Reading whole small files (procfs, cgroupfs, sysfs) into a buffer, bounded. */
#ifndef LXCFS_FILEIO_H
#define LXCFS_FILEIO_H

#include <stdbool.h>
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
/* As fd_read_all, for a file the kernel makes in one go (see fileio_one_go): a read that comes
 * back short of the buffer is the end, and the read at EOF, which costs the kernel about as much
 * as making the file again (1.3-1.4 us), is saved. */
int fd_read_one_go(int fd, struct buf *out);
/* Whether path names a file whose whole text the kernel makes in one call: a cgroup
 * controller's file (not a task list) or one of the /proc files we read that way.  A
 * seq_file of many records can stop short of the buffer before its end; those are left out. */
bool fileio_one_go(const char *path);
/* Reads path into a small fixed buffer, NUL-terminated, trailing newline kept. -errno on error. */
ssize_t file_read_small(int dirfd, const char *path, char *dst, size_t size);

#endif
