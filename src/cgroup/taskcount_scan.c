/* The task count read from /proc: the cgroup tree's thread lists, then each thread's state from
 * a kept /proc/<tid>/stat (one pread per thread and sample). */
#include "cgroup/taskcount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/buf.h"
#include "cgroup/fdcache.h"
#include "lib/fileio.h"
#include "lib/parse.h"

#define MAX_DEPTH 32

struct scan {
	const char *procdir;
	bool v2;
	struct fdcache *files; /* the engine's fd cache, NULL: plain reads */
	bool keep; /* the stat files stay open for the next sample (the periodic scan) */
	struct task_count *c;
};

/* The state letter of a task ('?' if it is gone). */
static char task_state(const struct scan *s, unsigned tid)
{
	char path[PATH_MAX + 32], text[512];
	snprintf(path, sizeof(path), "%s/%u/stat", s->procdir, tid);
	if ((s->keep ? fdcache_read_small(s->files, path, text, sizeof(text)) : file_read_small(AT_FDCWD, path, text, sizeof(text))) < 0)
		return '?';
	const char *state = stat_field(text, 3);
	return state ? *state : '?';
}

/* Counts the tasks listed in dir's thread list, then in every cgroup below it. */
static void count_tree(const struct scan *s, char *dir, size_t len, size_t size, int depth)
{
	struct task_count *c = s->c;
	struct buf b = BUF_INIT;
	if ((size_t)snprintf(dir + len, size - len, "/%s", s->v2 ? "cgroup.threads" : "tasks") < size - len &&
	    fdcache_read(s->files, dir, &b) == 0) {
		const char *p = buf_cstr(&b), *end = p + b.len;
		while (p && p < end) {
			char *next;
			unsigned long tid = strtoul(p, &next, 10);
			if (next == p)
				break;
			p = next + (*next == '\n');
			char st = task_state(s, (unsigned)tid);
			if (st == '?')
				continue; /* exited meanwhile */
			c->total++;
			c->running += st == 'R';
			c->active += st == 'R' || st == 'D';
			if (tid > c->newest)
				c->newest = (uint32_t)tid;
		}
	}
	buf_free(&b);
	dir[len] = '\0';
	if (depth >= MAX_DEPTH)
		return;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.' || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		size_t n = (size_t)snprintf(dir + len, size - len, "/%s", e->d_name);
		if (n < size - len)
			count_tree(s, dir, len + n, size, depth + 1);
		dir[len] = '\0';
	}
	if (d)
		closedir(d);
}

/* The pid the container sees for a task: the last NSpid of its status. */
static uint32_t ns_pid(const char *procdir, uint32_t tid)
{
	char path[PATH_MAX + 32], text[2048];
	snprintf(path, sizeof(path), "%s/%u/status", procdir, tid);
	long pid;
	if (tid == 0 || file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return 0;
	return status_nspid(text, &pid) == 0 ? (uint32_t)pid : tid;
}

int taskcount_scan(const char *procdir, struct fdcache *files, const char *dir, bool v2, bool keep_fds, struct task_count *c)
{
	memset(c, 0, sizeof(*c));
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	char path[PATH_MAX];
	size_t len = (size_t)snprintf(path, sizeof(path), "%s", dir);
	if (len >= sizeof(path))
		return -ENAMETOOLONG;
	const struct scan sc = { .procdir = procdir, .files = files, .v2 = v2, .keep = keep_fds, .c = c };
	count_tree(&sc, path, len, sizeof(path), 0);
	c->newest = ns_pid(procdir, c->newest);
	return 0;
}
