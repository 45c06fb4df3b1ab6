#include "mount.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

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
