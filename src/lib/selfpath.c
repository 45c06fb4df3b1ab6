#include "lib/selfpath.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "version.h"

void self_path(char *dst, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", dst, size - 1);
	dst[n > 0 ? n : 0] = '\0';
	/* a package upgrade replaced the file we run from: its path is where the new one is */
	static const char deleted[] = " (deleted)";
	size_t len = strlen(dst), dl = sizeof(deleted) - 1;
	if (len > dl && strcmp(dst + len - dl, deleted) == 0)
		dst[len - dl] = '\0';
}

void worker_binary(const char *self, char *dst, size_t size)
{
	const char *slash = strrchr(self, '/');
	int dirlen = slash ? (int)(slash - self) : 0;
	snprintf(dst, size, "%.*s/lxcfs-worker", dirlen, self);
	if (access(dst, X_OK) != 0)
		snprintf(dst, size, "%s/lxcfs/lxcfs-worker", LXCFS_LIBEXECDIR);
}
