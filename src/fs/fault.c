#include "fs/fault.h"

#if LXCFS_FAULT_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/serve.h"
#include "lib/fileio.h"
#include "lib/log.h"

void fault_render(const char *name)
{
	const char *s = getenv("LXCFS_FAULT_SLEEP");
	size_t n = strlen(name);
	if (s && strncmp(s, name, n) == 0 && s[n] == ':') {
		long ms = atol(s + n + 1);
		log_info("fault hook: render of %s sleeps %ld ms", name, ms);
		nanosleep(&(struct timespec){ .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 }, NULL);
	}
	const char *c = getenv("LXCFS_FAULT_CRASH");
	if (c && strcmp(c, name) == 0) {
		const struct fuse_in_header *in = serve_current_request();
		log_info("fault hook: render of %s crashes the worker (request %llu, opcode %u, thread %d)", name,
			 in ? (unsigned long long)in->unique : 0ULL, in ? in->opcode : 0, (int)gettid());
		abort();
	}
}

/* Whether the file named by the environment variable VAR holds NAME (one line). */
static bool file_names(const char *var, const char *name, const char **path)
{
	char text[256];
	*path = getenv(var);
	if (!*path || file_read_small(AT_FDCWD, *path, text, sizeof(text)) < 0)
		return false;
	text[strcspn(text, "\n")] = '\0';
	return strcmp(text, name) == 0;
}

bool fault_hidden(const char *name)
{
	const char *path;
	return file_names("LXCFS_FAULT_HIDE_FILE", name, &path);
}

void fault_point(const char *name)
{
	const char *path;
	if (file_names("LXCFS_FAULT_CRASH_ONCE", name, &path) && unlink(path) == 0) {
		log_info("fault hook: the worker crashes at %s", name);
		abort();
	}
}

bool fault_drop_name(int dirfd, const char *rel)
{
	const char *hide = getenv("LXCFS_FAULT_HIDE_FILE");
	const char *name = strrchr(rel, '/');
	name = name ? name + 1 : rel;
	if (!hide || !*name)
		return false;
	int fd = open(hide, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	bool ok = write(fd, name, strlen(name)) == (ssize_t)strlen(name);
	close(fd);
	/* past the entry's validity (ENTRY_TTL in ops.c): the next lookup asks the worker */
	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100000000 }, NULL);
	struct stat st;
	ok = ok && fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
	unlink(hide);
	log_info("fault hook: %s %s dropped from the kernel's cache of names", rel, ok ? "was" : "could not be");
	return ok;
}

#endif
