#include "cgroup/container.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/fdcache.h"
#include "lib/fileio.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/procfs.h"
#include "lib/parse.h"

/* Linux 6.11: translate a pid of the namespace behind an nsfs fd into ours. */
#ifndef NS_GET_TGID_FROM_PIDNS
#define NS_GET_TGID_FROM_PIDNS _IOR(0xb7, 0x7, int)
#endif

/* How long a container's cgroup path is trusted before /proc/<init>/cgroup is read again.
 * LXC places init before it runs anything, so this only matters for inits moved later. */
#define CGROUP_TTL_NS (1000ull * 1000 * 1000)
#define MAX_CONTAINERS 4096
#define SWEEP_STEP 32 /* cached containers checked at each new one, in turn */
#define BUCKETS CONTAINER_BUCKETS

struct container_slot {
	struct container *c;
	struct container_slot *next;
};

void containers_set_max(struct containers *cs, unsigned max)
{
	cs->max = max < 1 ? 1 : max > MAX_CONTAINERS ? MAX_CONTAINERS : max;
}

int containers_init(struct containers *cs, const struct cg_layout *l, struct fdcache *files)
{
	*cs = (struct containers){ .layout = l, .files = files, .max = MAX_CONTAINERS, .ready = 1 };
	pthread_mutex_init(&cs->lock, NULL);
	cs->layout = l;
	return proc_ns_inode(getpid(), "pid", &cs->host_ns);
}

static void container_free(struct container *c)
{
	cgview_free(&c->cg);
	if (c->nsfd >= 0)
		close(c->nsfd);
	free(c);
}

void container_put(struct container *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		container_free(c);
}

void containers_fini(struct containers *cs)
{
	if (!cs->ready)
		return;
	pthread_mutex_lock(&cs->lock);
	for (int i = 0; i < BUCKETS; i++) {
		struct container_slot *s = cs->bucket[i];
		while (s) {
			struct container_slot *n = s->next;
			container_put(s->c);
			free(s);
			s = n;
		}
		cs->bucket[i] = NULL;
	}
	cs->count = 0;
	pthread_mutex_unlock(&cs->lock);
}

static bool is_init_of(pid_t pid, uint64_t ns_ino)
{
	uint64_t ino;
	pid_t inner, ppid;
	return proc_ns_inode(pid, "pid", &ino) == 0 && ino == ns_ino && proc_status_ids(pid, &inner, &ppid) == 0 &&
	       inner == 1;
}

pid_t container_find_init(struct containers *cs, pid_t pid, int nsfd, uint64_t ns_ino)
{
	if (nsfd >= 0 && !__atomic_load_n(&cs->no_ns_ioctl, __ATOMIC_RELAXED)) {
		int r = ioctl(nsfd, NS_GET_TGID_FROM_PIDNS, 1);
		if (r > 0)
			return r;
		if (errno == ENOTTY || errno == EINVAL)
			__atomic_store_n(&cs->no_ns_ioctl, 1, __ATOMIC_RELAXED);
	}
	/* Older kernels: init is usually the caller's oldest ancestor in the same namespace... */
	for (pid_t cur = pid; cur > 0;) {
		uint64_t ino;
		pid_t inner, ppid;
		if (proc_ns_inode(cur, "pid", &ino) < 0 || ino != ns_ino || proc_status_ids(cur, &inner, &ppid) < 0)
			break;
		if (inner == 1)
			return cur;
		cur = ppid;
	}
	/* ...but not for a process that entered with setns (lxc-attach): look at everyone. */
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	pid_t found = -ESRCH;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long p = strtol(de->d_name, &end, 10);
		if (*end || p <= 0)
			continue;
		if (is_init_of((pid_t)p, ns_ino)) {
			found = (pid_t)p;
			break;
		}
	}
	closedir(d);
	return found;
}

static struct container *build(struct containers *cs, pid_t pid, uint64_t ns_ino, int *err)
{
	struct container *c = calloc(1, sizeof(*c));
	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	c->refs = 1;
	c->ns_ino = ns_ino;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	/* The open fd pins the namespace: its inode number cannot go to another container while
	 * we cache it under that number. */
	c->nsfd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (c->nsfd < 0 || fstat(c->nsfd, &st) < 0 || st.st_ino != ns_ino) {
		*err = c->nsfd < 0 ? -errno : -ESRCH;
		goto fail;
	}
	c->init_pid = container_find_init(cs, pid, c->nsfd, ns_ino);
	if (c->init_pid <= 0) {
		*err = c->init_pid < 0 ? c->init_pid : -ESRCH;
		goto fail;
	}
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)c->init_pid);
	if (file_read(path, &b) < 0 || stat_starttime(buf_cstr(&b), &c->init_start) < 0)
		c->init_start = 0;
	buf_reset(&b);
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)c->init_pid);
	int r = file_read(path, &b);
	if (r == 0)
		r = cgview_from_text(&c->cg, cs->layout, b.data, b.len);
	c->cg.files = cs->files;
	buf_free(&b);
	if (r < 0) {
		*err = r;
		goto fail;
	}
	c->built_ns = clock_ns(CLOCK_MONOTONIC);
	return c;
fail:
	container_free(c);
	return NULL;
}

static struct container_slot **find_slot(struct containers *cs, uint64_t ns_ino)
{
	struct container_slot **s = &cs->bucket[ns_ino % BUCKETS];
	while (*s && (*s)->c->ns_ino != ns_ino)
		s = &(*s)->next;
	return s;
}

/* The kept cgroup files of a container that is gone: nobody reads them again, and a cgroup that
 * was removed would hold its fds (and the kernel's memory for it) until evicted. */
static void drop_files(struct containers *cs, const struct container *c)
{
	for (int k = 0; k < CG_N; k++)
		if (c->cg.dir[k] && !cgview_is_root(&c->cg, (enum cg_ctrl)k))
			fdcache_drop_under(cs->files, c->cg.dir[k]);
}

/* Drops cached containers whose init has exited (their namespace fd and kept files with them),
 * looking at up to step of them from where the last call stopped (all when step is 0); lock
 * held.  Each new container checks a few, so the dead go within a few starts at any count. */
static void sweep_locked(struct containers *cs, unsigned step)
{
	unsigned seen = 0;
	for (int n = 0; n < BUCKETS && (!step || seen < step); n++) {
		int i = (int)((cs->cursor + (unsigned)n) % BUCKETS);
		if (step)
			cs->cursor = (unsigned)i + 1;
		for (struct container_slot **s = &cs->bucket[i]; *s; seen++) {
			uint64_t ino;
			if (proc_ns_inode((*s)->c->init_pid, "pid", &ino) < 0 || ino != (*s)->c->ns_ino) {
				struct container_slot *dead = *s;
				*s = dead->next;
				drop_files(cs, dead->c);
				container_put(dead->c);
				free(dead);
				cs->count--;
			} else {
				s = &(*s)->next;
			}
		}
	}
}

struct container *container_of_pid(struct containers *cs, pid_t pid, int *err)
{
	*err = 0;
	if (pid <= 0)
		return NULL; /* invisible to us: our own view is the only safe answer */
	uint64_t ns_ino;
	int r = proc_ns_inode(pid, "pid", &ns_ino);
	if (r < 0) {
		*err = r == -ENOENT ? -ESRCH : r;
		return NULL;
	}
	if (ns_ino == cs->host_ns)
		return NULL;

	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&cs->lock);
	struct container_slot **s = find_slot(cs, ns_ino);
	if (*s && now - (*s)->c->built_ns < CGROUP_TTL_NS) {
		struct container *c = (*s)->c;
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&cs->lock);
		return c;
	}
	pthread_mutex_unlock(&cs->lock);

	struct container *c = build(cs, pid, ns_ino, err);
	if (!c) {
		log_debug("cannot resolve container of pid %d: %s", (int)pid, strerror(-*err));
		return NULL;
	}
	/* build(cs) returned the caller's reference; the cache takes one of its own. */
	pthread_mutex_lock(&cs->lock);
	s = find_slot(cs, ns_ino);
	if (*s) {
		container_put((*s)->c);
		(*s)->c = c;
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	} else {
		sweep_locked(cs, cs->count >= cs->max ? 0 : SWEEP_STEP);
		struct container_slot *n = cs->count < cs->max ? malloc(sizeof(*n)) : NULL;
		if (n) {
			n->c = c;
			n->next = NULL;
			*find_slot(cs, ns_ino) = n;
			cs->count++;
			__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
			cs->full_logged = 0;
		} else if (!cs->full_logged) {
			/* served all the same, from a container looked up anew at each request */
			cs->full_logged = 1;
			log_warn("%u live containers fill the container cache (bounded by the fd limit): "
				 "others are looked up at every request", cs->count);
		}
	}
	pthread_mutex_unlock(&cs->lock);
	return c;
}
