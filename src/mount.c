#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"

int fuse_mount_fd(const char *mnt, const char *extra, unsigned long flags)
{
	struct stat st;
	if (stat(mnt, &st) < 0) {
		if (errno != ENOENT || mkdir(mnt, 0755) < 0 || stat(mnt, &st) < 0) {
			int e = errno;
			log_error("mountpoint %s: %s", mnt, strerror(e));
			return -e;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("mountpoint %s is not a directory", mnt);
		return -ENOTDIR;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		log_error("cannot open /dev/fuse: %s", strerror(e));
		return -e;
	}
	char opts[1024];
	int n = snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other%s%s", fd,
			 extra && *extra ? "," : "", extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(opts)) {
		close(fd);
		return -E2BIG;
	}
	if (mount("lxcfs", mnt, "fuse.lxcfs", flags, opts) < 0) {
		int e = errno;
		log_error("mount of %s failed: %s", mnt, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

int fuse_unmount(const char *mnt)
{
	if (umount2(mnt, UMOUNT_NOFOLLOW) == 0)
		return 0;
	if (errno == EBUSY && umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
		return 0;
	int e = errno;
	if (e != EINVAL && e != ENOENT)
		log_warn("unmounting %s: %s", mnt, strerror(e));
	return -e;
}

long warn_request_timeout(const char *path)
{
	char text[32];
	if (file_read_small(AT_FDCWD, path ? path : "/proc/sys/fs/fuse/default_request_timeout", text,
			    sizeof(text)) < 0)
		return -1;
	long v = strtol(text, NULL, 10);
	if (v > 0)
		log_warn("fs.fuse.default_request_timeout is %ld: the kernel will abort the whole fuse "
			 "connection (every container's lxcfs mounts) if a request waits %ld s, as it can "
			 "while a worker restarts; set it to 0", v, v);
	return v;
}
