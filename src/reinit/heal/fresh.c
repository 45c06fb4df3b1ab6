/* The names of the live tree that fresh binds are cloned from: looked up by the pass alone and
 * held (see fresh.h). */
#include "reinit/heal/fresh.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/mount.h"

void fresh_init(struct fresh *f, int mntfd)
{
	*f = (struct fresh){ .mntfd = mntfd, .procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC) };
}

bool fresh_dropped(int procfd, int fd)
{
	static const char mark[] = " (deleted)";
	char link[48], path[PATH_MAX];
	snprintf(link, sizeof(link), "thread-self/fd/%d", fd);
	ssize_t n = readlinkat(procfd, link, path, sizeof(path) - 1);
	if (n < (ssize_t)sizeof(mark) - 1)
		return false;
	path[n] = '\0';
	return strcmp(path + n - (sizeof(mark) - 1), mark) == 0;
}

/* rel looked up beneath the tree as a child's clone looks it up; a name dropped meanwhile (by a
 * lookup of someone else's racing ours) is looked up again, once. */
static int open_name(const struct fresh *f, const char *rel)
{
	for (int tries = 0;; tries++) {
		int fd = mount_open_beneath(f->mntfd, rel);
		if (fd < 0 || tries == 1 || f->procfd < 0 || !fresh_dropped(f->procfd, fd))
			return fd;
		close(fd);
	}
}

static void hold(struct fresh *f, const char *rel, size_t len)
{
	for (size_t i = 0; i < f->n; i++)
		if (strlen(f->v[i].rel) == len && strncmp(f->v[i].rel, rel, len) == 0)
			return;
	struct fresh_name *more = reallocarray(f->v, f->n + 1, sizeof(*more));
	char *copy = strndup(rel, len);
	if (more)
		f->v = more;
	if (!more || !copy) {
		free(copy);
		return; /* not held: its children may meet the race, and clone again if they do */
	}
	int fd = open_name(f, copy);
	if (fd < 0) {
		free(copy);
		return; /* not in the new tree: said by the child that needs it */
	}
	f->v[f->n++] = (struct fresh_name){ .rel = copy, .fd = fd };
}

void fresh_hold(struct fresh *f, const char *root)
{
	const char *rel = root + strspn(root, "/");
	for (const char *slash = strchr(rel, '/'); slash; slash = strchr(slash + 1, '/'))
		hold(f, rel, (size_t)(slash - rel));
	if (*rel)
		hold(f, rel, strlen(rel));
}

void fresh_free(struct fresh *f)
{
	for (size_t i = 0; i < f->n; i++) {
		close(f->v[i].fd);
		free(f->v[i].rel);
	}
	free(f->v);
	if (f->procfd >= 0)
		close(f->procfd);
	*f = (struct fresh){ .mntfd = -1, .procfd = -1 };
}
