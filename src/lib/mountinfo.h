/* /proc/PID/mountinfo, one line at a time: what the rebind tier and the start-up check need to
 * know of a mount (ids, device, root inside its filesystem, mount point, type). */
#ifndef LXCFS_MOUNTINFO_H
#define LXCFS_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct mntent_info {
	int id, parent;
	unsigned major, minor;
	char root[PATH_MAX];       /* the path inside the filesystem that is mounted, unescaped */
	char mountpoint[PATH_MAX]; /* relative to the reader's root, unescaped */
	char fstype[64];
	char source[256];
	char superopts[256]; /* "" if too long: only cgroup mounts' are read (their controllers) */
};

/* Parses one line.  false on anything malformed (the caller skips it: the kernel writes this
 * file, but a truncated or unexpected line must not become a wrong mount). */
bool mountinfo_parse(const char *line, size_t len, struct mntent_info *out);

/* Calls fn for every well-formed line of dirfd/path (e.g. AT_FDCWD, "/proc/self/mountinfo");
 * fn returns false to stop.  0 or -errno. */
int mountinfo_each(int dirfd, const char *path, bool (*fn)(const struct mntent_info *m, void *arg), void *arg);
/* The same over a copy of such a file, len bytes at text.  0 or -ENOMEM. */
int mountinfo_each_text(const char *text, size_t len, bool (*fn)(const struct mntent_info *m, void *arg), void *arg);

/* True for the mounts lxcfs makes (ours and upstream's): type fuse.lxcfs. */
bool mountinfo_is_lxcfs(const struct mntent_info *m);

#endif
