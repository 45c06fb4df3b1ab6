#include "reinit/holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/procfs.h"

struct list {
	struct holder *v;
	size_t n;
};

static int add(struct list *l, pid_t pid, int fd)
{
	struct holder *more = reallocarray(l->v, l->n + 1, sizeof(*more));
	if (!more)
		return -ENOMEM;
	l->v = more;
	l->v[l->n++] = (struct holder){ .pid = pid, .fd = fd };
	return 0;
}

static int note_fuse_fd(pid_t pid, int fd, const char *target, void *arg)
{
	return strcmp(target, "/dev/fuse") == 0 ? add(arg, pid, fd) : 0;
}

/* The descriptors of /dev/fuse that pid holds. */
static int fuse_fds_of(pid_t pid, struct list *out)
{
	return proc_each_fd(pid, note_fuse_fd, out);
}

bool holders_has_fuse(pid_t pid)
{
	struct list l = { 0 };
	bool has = fuse_fds_of(pid, &l) == 0 && l.n > 0;
	free(l.v);
	return has;
}

static int fuse_fds_of_other(pid_t pid, void *out)
{
	return pid == getpid() ? 0 : fuse_fds_of(pid, out);
}

/* Every descriptor of /dev/fuse in another process (only: that process alone): the candidates. */
static int fuse_fds(pid_t only, struct list *out)
{
	if (only)
		return only == getpid() ? 0 : fuse_fds_of(only, out);
	return proc_each_pid(fuse_fds_of_other, out);
}

static long fdinfo_flags(pid_t pid, int fd)
{
	return proc_fdinfo(pid, fd, "flags:", 8);
}

static int find(int fd, pid_t only, struct holder **out, bool kcmp)
{
	struct list cand = { 0 }, same = { 0 };
	*out = NULL;
	int r = fuse_fds(only, &cand);
	for (size_t i = 0; r == 0 && kcmp && i < cand.n; i++) {
		long k = syscall(SYS_kcmp, getpid(), cand.v[i].pid, KCMP_FILE, fd, cand.v[i].fd);
		if (k < 0 && errno == ENOSYS)
			kcmp = false;
		else if (k == 0)
			r = add(&same, cand.v[i].pid, cand.v[i].fd);
	}
	if (r == 0 && !kcmp) {
		same.n = 0;
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0 || (fl & O_APPEND) || fcntl(fd, F_SETFL, fl | O_APPEND) < 0) {
			r = fl < 0 ? -errno : -ENOTSUP;
		} else {
			long *seen = calloc(cand.n + 1, sizeof(*seen));
			for (size_t i = 0; seen && i < cand.n; i++)
				seen[i] = fdinfo_flags(cand.v[i].pid, cand.v[i].fd);
			fcntl(fd, F_SETFL, fl);
			for (size_t i = 0; seen && r == 0 && i < cand.n; i++) {
				long after = fdinfo_flags(cand.v[i].pid, cand.v[i].fd);
				if (seen[i] >= 0 && (seen[i] & O_APPEND) && after >= 0 && !(after & O_APPEND))
					r = add(&same, cand.v[i].pid, cand.v[i].fd);
			}
			if (!seen)
				r = -ENOMEM;
			free(seen);
		}
	}
	free(cand.v);
	if (r < 0) {
		free(same.v);
		return r;
	}
	*out = same.v;
	return (int)same.n;
}

int holders_find(int fd, pid_t only, struct holder **out)
{
	return find(fd, only, out, true);
}

int holders_find_by_flags(int fd, struct holder **out)
{
	return find(fd, 0, out, false);
}

static bool fd_gone(void *path)
{
	return access(path, F_OK) != 0; /* a zombie holds no fd */
}

/* sig to pid, then whether its descriptor fd is gone within ms. */
static bool signal_and_wait(pid_t pid, int fd, int sig, int ms)
{
	char path[64];
	kill(pid, sig);
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	return wait_until(fd_gone, path, ms, 2);
}

void holder_end(pid_t pid, int fd)
{
	signal_and_wait(pid, fd, SIGKILL, 2000);
}

void holder_stop(pid_t pid, int fd, int grace_ms)
{
	if (!signal_and_wait(pid, fd, SIGTERM, grace_ms))
		holder_end(pid, fd);
}

/* Whether a thread of pid sits in read(2)/readv(2) on fd (a stopped one shows the call it will
 * restart). */
static bool reading(pid_t pid, int fd)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	struct dirent *e;
	bool yes = false;
	while (d && !yes && (e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		char p[320], text[256];
		snprintf(p, sizeof(p), "/proc/%d/task/%s/syscall", (int)pid, e->d_name);
		if (file_read_small(AT_FDCWD, p, text, sizeof(text)) < 0)
			continue;
		char *end;
		long nr = strtol(text, &end, 10);
		if (end == text || (nr != SYS_read && nr != SYS_readv))
			continue;
		yes = strtol(end, NULL, 16) == fd;
	}
	if (d)
		closedir(d);
	return yes;
}

static bool a_worker(pid_t pid)
{
	char path[64], text[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	ssize_t n = file_read_small(AT_FDCWD, path, text, sizeof(text));
	return n > 0 && strcmp(text, "lxcfs-worker") == 0;
}

static void comm_of(pid_t pid, char *dst, size_t size)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (file_read_small(AT_FDCWD, path, dst, size) <= 0)
		snprintf(dst, size, "?");
	dst[strcspn(dst, "\n")] = '\0';
}

int holders_end_readers(int fd, const pid_t *keep, size_t nkeep)
{
	struct holder *h;
	int n = holders_find(fd, 0, &h);
	if (n < 0)
		return n;
	int ended = 0;
	for (int i = 0; i < n; i++) {
		bool spared = h[i].pid == 1;
		for (size_t k = 0; k < nkeep && !spared; k++)
			spared = keep[k] == h[i].pid;
		bool done = false; /* a process with several descriptors is listed once per descriptor */
		for (int j = 0; j < i && !done; j++)
			done = h[j].pid == h[i].pid;
		if (spared || done)
			continue;
		char comm[32];
		comm_of(h[i].pid, comm, sizeof(comm));
		bool worker = a_worker(h[i].pid);
		if (!worker && !reading(h[i].pid, h[i].fd)) {
			log_info("pid %d (%s) holds the connection but does not read it (an fd store?): left",
				 (int)h[i].pid, comm);
			continue;
		}
		log_warn("pid %d (%s) %s the connection: ended before the reset, or it could take the new "
			 "FUSE_INIT", (int)h[i].pid, comm, worker ? "is an earlier worker of" : "reads");
		holder_end(h[i].pid, h[i].fd);
		ended++;
	}
	free(h);
	return ended;
}
