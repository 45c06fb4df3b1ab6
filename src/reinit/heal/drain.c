#include "reinit/heal/drain.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/procfs.h"

struct open_file {
	pid_t pid;
	int fd;
};

/* The mount id of pid's descriptor fd, or -1 if it is gone. */
static int mnt_id_of(pid_t pid, int fd)
{
	return (int)proc_fdinfo(pid, fd, "mnt_id:", 10);
}

static bool in(const int *ids, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

struct scan {
	const int *ids;
	size_t n, count;
	struct open_file *v;
};

static int note_fd(pid_t pid, int fd, const char *target, void *arg)
{
	struct scan *s = arg;
	if (!in(s->ids, s->n, mnt_id_of(pid, fd)))
		return 0;
	struct open_file *more = reallocarray(s->v, s->count + 1, sizeof(*s->v));
	if (!more)
		return 1;
	s->v = more;
	s->v[s->count++] = (struct open_file){ pid, fd };
	return 0;
}

static int note_pid(pid_t pid, void *arg)
{
	proc_each_fd(pid, note_fd, arg);
	return 0;
}

/* Every descriptor on those mounts, host-wide: one pass over /proc; only these are looked at
 * again (nothing can open a file of a mount that is detached, or covered by ours). */
static size_t scan(const int *ids, size_t n, struct open_file **out)
{
	struct scan s = { ids, n, 0, NULL };
	proc_each_pid(note_pid, &s);
	*out = s.v;
	return s.count;
}

struct still_open {
	const int *ids;
	size_t n, left;
	struct open_file *v;
};

/* Whether every file was closed; drops from the list those that were. */
static bool all_closed(void *arg)
{
	struct still_open *o = arg;
	size_t k = 0;
	for (size_t i = 0; i < o->left; i++)
		if (in(o->ids, o->n, mnt_id_of(o->v[i].pid, o->v[i].fd)))
			o->v[k++] = o->v[i];
	o->left = k;
	return k == 0;
}

size_t drain_wait(const int *ids, size_t n, int timeout_ms)
{
	if (!n)
		return 0;
	struct still_open o = { ids, n, 0, NULL };
	o.left = scan(ids, n, &o.v);
	wait_until(all_closed, &o, timeout_ms, 20);
	struct open_file *v = o.v;
	size_t left = o.left;
	for (size_t i = 0; i < left; i++) {
		char path[64], comm[64] = "?";
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)v[i].pid);
		if (file_read_small(AT_FDCWD, path, comm, sizeof(comm)) >= 0)
			comm[strcspn(comm, "\n")] = '\0';
		log_warn("replace: pid %d (%s) still has a file of the replaced lxcfs open (fd %d) after %d ms: "
			 "its next read of it fails", (int)v[i].pid, comm, v[i].fd, timeout_ms);
	}
	free(v);
	return left;
}
