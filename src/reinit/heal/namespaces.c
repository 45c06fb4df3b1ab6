#include "reinit/heal/namespaces.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <linux/magic.h>

#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mntns.h"
#include "lib/parse.h"
#include "lib/procfs.h"
#include "fs/fault.h"

static size_t slot_of(const struct ns_set *w, ino_t ino)
{
	size_t m = w->nslot - 1, i = (size_t)(((uint64_t)ino * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & m;
	while (w->slot[i] && w->v[w->slot[i] - 1].ino != ino)
		i = (i + 1) & m;
	return i;
}

/* The namespace of ino, added (read through pid until a better reader comes) if it is new: its
 * index, or -1 without memory. */
static ssize_t add_ns(struct ns_set *w, ino_t ino, pid_t pid)
{
	if (2 * (w->n + 1) >= w->nslot) {
		size_t nslot = w->nslot ? 2 * w->nslot : 1024, *old = w->slot, oldn = w->nslot;
		if (!(w->slot = calloc(nslot, sizeof(*w->slot)))) {
			w->slot = old;
			return -1;
		}
		w->nslot = nslot;
		for (size_t i = 0; i < oldn; i++)
			if (old[i])
				w->slot[slot_of(w, w->v[old[i] - 1].ino)] = old[i];
		free(old);
	}
	size_t i = slot_of(w, ino);
	if (w->slot[i])
		return (ssize_t)(w->slot[i] - 1);
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		struct ns *v = reallocarray(w->v, cap, sizeof(*v));
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n] = (struct ns){ .ino = ino, .fd = -1, .pid = pid, .mounts = BUF_INIT };
	w->slot[i] = ++w->n;
	return (ssize_t)(w->n - 1);
}

void ns_set_free(struct ns_set *w)
{
	for (size_t k = 0; k < w->n; k++)
		buf_free(&w->v[k].mounts);
	free(w->v);
	free(w->slot);
}

/* --- the walk of /proc --- */

/* Whether pid's root is its namespace's: a chrooted process (postfix's daemons, say) reads in
 * its mountinfo only the mounts beneath its root, and would hide the container's binds. */
static bool sees_whole(pid_t pid)
{
	char p[64], t[2];
	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	return readlink(p, t, sizeof(t)) == 1 && t[0] == '/';
}

/* Whether pid is the first process of its pid namespace: a container's init.  In the walker's
 * own pid namespace only its pid 1 is one, which the link of the process's pid namespace says in
 * one readlink, without the status file (the host's processes; a namespace whose init the walk
 * cannot read, or has not met yet, asks this of each of its processes). */
static bool first_of_pidns(const struct ns_set *w, pid_t pid)
{
	uint64_t pidns;
	if (w->own_pidns && proc_ns_inode(pid, "pid", &pidns) == 0 && pidns == w->own_pidns)
		return pid == 1;
	pid_t inner, ppid;
	return proc_status_ids(pid, &inner, &ppid) == 0 && inner == 1;
}

/* One process of the walk, which goes up the pids.  A namespace is read through, and named by,
 * the init of a pid namespace in it (a container's), ready the moment the walk meets it; one
 * with none (a service's own, one made by unshare) through its lowest pid whose root is the
 * namespace's, once the walk is done.  Not simply the lowest pid: pids wrap, and a process
 * lxc-attach put in later may then come first, in a cgroup of its own.  Nor the oldest process:
 * that takes a read of every process's stat for its start time (on a host of a thousand
 * containers of twenty processes, 20,000 reads) and the whole walk before the first heal. */
static int walk_process(pid_t pid, void *arg)
{
	struct ns_set *w = arg;
	uint64_t ino;
	w->met++;
	if (proc_ns_inode(pid, "mnt", &ino) < 0)
		return 0; /* gone */
	ssize_t k = add_ns(w, (ino_t)ino, pid);
	if (k < 0)
		return 1;
	struct ns *ns = &w->v[k];
	if (ns->init || !sees_whole(pid))
		return 0;
	if (!ns->whole) {
		ns->pid = pid;
		ns->whole = true;
	}
	if (!first_of_pidns(w, pid))
		return 0;
	ns->pid = pid;
	ns->init = true;
	if (w->ready)
		w->ready(w, (size_t)k, w->arg);
	return 0;
}

void ns_walk(struct ns_set *w)
{
	/* (only where /proc numbers pids as our pid namespace does: its pid 1 is then our init) */
	char self[32];
	ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (atoi(self) != getpid() || proc_ns_inode(getpid(), "pid", &w->own_pidns) < 0)
		w->own_pidns = 0;
	proc_each_pid(walk_process, w);
	for (size_t k = 0; k < w->n; k++)
		if (!w->v[k].init && w->ready)
			w->ready(w, k, w->arg);
}

/* An unmount in one namespace can take our top binds in others with it (peers), and a namespace
 * read after that would show only what was beneath: a release reads them all first. */
void ns_read_mounts(struct ns_set *w)
{
	char p[64];
	for (size_t k = 0; k < w->n; k++) {
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)w->v[k].pid);
		if (file_read_at(AT_FDCWD, p, &w->v[k].mounts) < 0)
			buf_free(&w->v[k].mounts); /* gone: ns_each_fuse finds it so, as without */
	}
}

/* --- the kernel's list --- */

/* What shows at "/" in the namespace id (top: that mount), as "SOURCE:ROOT".  0 or -errno. */
static int root_name(uint64_t id, uint64_t top, char *dst, size_t size)
{
	char src[256], root[PATH_MAX];
	int r = mntns_root_of(id, top, src, sizeof(src), root, sizeof(root));
	if (r == 0)
		snprintf(dst, size, "%s:%s", src, root);
	return r;
}

struct found_ours {
	int id;
	dev_t dev;
	bool found;
};

static bool is_ours(const struct mntent_info *m, void *arg)
{
	struct found_ours *f = arg;
	f->found |= m->id == f->id && makedev(m->major, m->minor) == f->dev && mountinfo_is_lxcfs(m);
	return !f->found;
}

bool ns_can_list(int our_id, dev_t ours, char *our_root, size_t size)
{
	char pidns[32];
	ssize_t n = readlink("/proc/self/ns/pid", pidns, sizeof(pidns) - 1);
	pidns[n > 0 ? n : 0] = '\0';
	if (strcmp(pidns, "pid:[4026531836]") != 0 || fault_long("LXCFS_FAULT_REBIND_WALK_PROC", 0))
		return false; /* (the host's: PROC_PID_INIT_INO, fixed) */
	struct mntns me;
	struct found_ours f = { our_id, ours, false };
	uint64_t top = 0;
	if (mntns_self(&me) < 0)
		return false;
	if (mntns_each_of(me.id, FUSE_SUPER_MAGIC, is_ours, &f, &top) == 0 && f.found && top)
		root_name(me.id, top, our_root, size);
	mntns_close(&me);
	return f.found;
}

int ns_list(struct ns_set *w)
{
	struct mntns it;
	int r = mntns_first(&it);
	if (r < 0)
		return r;
	w->listed = true;
	do {
		ssize_t k = add_ns(w, (ino_t)it.ino, 0);
		w->met++;
		if (k < 0) {
			r = -ENOMEM;
			break;
		}
		w->v[k].id = it.id;
		w->v[k].fd = it.fd;
		if (w->ready)
			w->ready(w, (size_t)k, w->arg);
		w->v[k].fd = -1;
	} while ((r = mntns_next(&it)) == 0);
	mntns_close(&it);
	if (r != -ENOENT)
		log_error("rebind: the list of mount namespaces ended after %u: %s; the others are not healed", w->met,
			  strerror(-r));
	return 0;
}

void ns_again(struct ns_set *w, void (*fn)(struct ns_set *w, size_t k, void *arg), void *arg)
{
	if (!w->listed) {
		for (size_t k = 0; k < w->n; k++)
			if (w->v[k].later)
				fn(w, k, arg);
		return;
	}
	struct mntns it;
	size_t k = 0;
	for (int r = mntns_first(&it); r == 0 && k < w->n; r = mntns_next(&it)) { /* both go by id */
		while (k < w->n && (!w->v[k].later || w->v[k].id < it.id))
			k++;
		if (k < w->n && w->v[k].id == it.id) {
			w->v[k].fd = it.fd;
			fn(w, k, arg);
			w->v[k].fd = -1;
		}
	}
	mntns_close(&it);
}

/* --- one namespace --- */

int ns_open(const struct ns *ns)
{
	if (!ns->pid)
		return ns->fd < 0 ? -1 : fcntl(ns->fd, F_DUPFD_CLOEXEC, 0);
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)ns->pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_ino != ns->ino)) {
		close(fd); /* the pid was reused meanwhile */
		fd = -1;
	}
	return fd;
}

void ns_each_fuse(const struct ns *ns, bool (*fn)(const struct mntent_info *m, void *arg), void *arg, uint64_t *top)
{
	char p[64];
	*top = 0;
	if (!ns->pid) {
		mntns_each_of(ns->id, FUSE_SUPER_MAGIC, fn, arg, top); /* (a namespace gone meanwhile has none) */
	} else if (ns->mounts.data) {
		mountinfo_each_text(ns->mounts.data, ns->mounts.len, fn, arg);
	} else {
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)ns->pid);
		mountinfo_each(AT_FDCWD, p, fn, arg);
	}
}

/* A walked namespace's process, and what that belongs to: its cgroup v2 path, else (the unified
 * hierarchy of a hybrid host has everyone at "/") its first hierarchy's that says more (LXC names
 * them lxc.payload.NAME). */
static void name_by_pid(ino_t ino, pid_t pid, char *dst, size_t size)
{
	char path[64];
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(dst, size, "mount namespace %lu (pid %d)", (unsigned long)ino, (int)pid);
	const char *best = NULL, *line;
	size_t pos = 0, len, bestlen = 0;
	int rank = 0; /* 3: v2 path, 2: another hierarchy's, 1: "/" */
	if (file_read(path, &b) == 0)
		while (next_line(b.data, b.len, &pos, &line, &len)) {
			const char *c1 = memchr(line, ':', len);
			const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
			if (!c2)
				continue;
			const char *p = c2 + 1;
			size_t plen = len - (size_t)(p - line);
			int r = plen == 1 && *p == '/' ? 1 : c1 == line + 1 && line[0] == '0' ? 3 : 2;
			if (r > rank) {
				rank = r;
				best = p;
				bestlen = plen;
			}
		}
	if (best)
		snprintf(dst, size, "mount namespace %lu (pid %d, cgroup %.*s)", (unsigned long)ino, (int)pid,
			 (int)bestlen, best);
	buf_free(&b);
}

/* A listed one has no process: what shows at its "/" names a container, as
 * "/dev/vda1:/var/lib/lxc/NAME/rootfs", LXD's ".../containers/NAME", a ZFS dataset
 * "POOL/containers/NAME:/". */
void ns_name(const struct ns *ns, uint64_t top, const char *our_root, char *dst, size_t size)
{
	char name[PATH_MAX + 256];
	if (ns->pid)
		name_by_pid(ns->ino, ns->pid, dst, size);
	else if (top && root_name(ns->id, top, name, sizeof(name)) == 0 && strcmp(name, our_root) != 0)
		snprintf(dst, size, "mount namespace %lu (root %s)", (unsigned long)ns->ino, name);
	else
		snprintf(dst, size, "mount namespace %lu", (unsigned long)ns->ino);
}
