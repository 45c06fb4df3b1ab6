#include "lib/procfs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/parse.h"

int proc_each_pid(int (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d)))
		if (isdigit((unsigned char)e->d_name[0]))
			r = fn((pid_t)atoi(e->d_name), arg);
	closedir(d);
	return r;
}

int proc_each_fd(pid_t pid, int (*fn)(pid_t pid, int fd, const char *target, void *arg), void *arg)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	struct dirent *e;
	int r = 0;
	while (r == 0 && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char target[256];
		ssize_t n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue; /* closed meanwhile */
		target[n] = '\0';
		r = fn(pid, atoi(e->d_name), target, arg);
	}
	closedir(d);
	return r;
}

int proc_ns_inode(pid_t pid, const char *kind, uint64_t *ino)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kind);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	size_t k = strlen(kind);
	char *end;
	if (strncmp(link, kind, k) != 0 || strncmp(link + k, ":[", 2) != 0 || !isdigit((unsigned char)link[k + 2]))
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(link + k + 2, &end, 10);
	if (errno || strcmp(end, "]") != 0)
		return -EINVAL;
	*ino = v;
	return 0;
}

long proc_fdinfo(pid_t pid, int fd, const char *key, int base)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return -1;
	size_t klen = strlen(key);
	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		if (strncmp(l, key, klen) == 0)
			return strtol(l + klen, NULL, base);
	return -1;
}

int proc_status_ids(pid_t pid, pid_t *inner, pid_t *ppid)
{
	char path[64];
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int r = file_read(path, &b);
	if (r < 0)
		goto out;
	const char *s = buf_cstr(&b);
	long pp, in;
	r = status_ppid(s, &pp);
	if (r < 0)
		goto out;
	*ppid = (pid_t)pp;
	r = status_nspid(s, &in);
	if (r == 0)
		*inner = (pid_t)in;
out:
	buf_free(&b);
	return r;
}
