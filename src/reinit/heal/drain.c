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

struct open_file {
	pid_t pid;
	int fd;
};

/* The mount id of pid's descriptor fd (fdinfo: read from procfs alone, never from the file's own
 * filesystem, which may be one that hangs), or -1 if it is gone. */
static int mnt_id_of(pid_t pid, int fd)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return -1;
	const char *m = strstr(text, "\nmnt_id:");
	return m ? atoi(m + 8) : -1;
}

static bool in(const int *ids, size_t n, int id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Every descriptor on those mounts, host-wide: one pass over /proc; only these are looked at
 * again (nothing can open a file of a mount that is detached, or covered by ours). */
static size_t scan(const int *ids, size_t n, struct open_file **out)
{
	struct open_file *v = NULL;
	size_t count = 0;
	DIR *proc = opendir("/proc");
	struct dirent *p;
	while (proc && (p = readdir(proc))) {
		if (!isdigit((unsigned char)p->d_name[0]))
			continue;
		char path[64];
		pid_t pid = (pid_t)atoi(p->d_name);
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		DIR *d = opendir(path);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (!isdigit((unsigned char)e->d_name[0]))
				continue;
			int fd = atoi(e->d_name);
			if (!in(ids, n, mnt_id_of(pid, fd)))
				continue;
			struct open_file *more = reallocarray(v, count + 1, sizeof(*v));
			if (!more)
				break;
			v = more;
			v[count++] = (struct open_file){ pid, fd };
		}
		if (d)
			closedir(d);
	}
	if (proc)
		closedir(proc);
	*out = v;
	return count;
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
