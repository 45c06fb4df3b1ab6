/* Which container is asking: caller pid -> its pid namespace -> that namespace's init -> the
 * init's cgroup.  Cached per pid namespace; no fork, no setns. */
#ifndef LXCFS_CONTAINER_H
#define LXCFS_CONTAINER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"

struct container {
	uint64_t ns_ino;
	pid_t init_pid;
	uint64_t init_start; /* clock ticks after boot; 0 if unreadable */
	struct cgview cg;
	/* private */
	int refs;
	int nsfd;
	uint64_t built_ns;
};

#define CONTAINER_BUCKETS 256

struct container_slot;
struct fdcache;
/* One process's cache of containers, by pid namespace. */
struct containers {
	int ready; /* containers_init ran: what containers_fini has to undo */
	const struct cg_layout *layout;
	struct fdcache *files; /* the context's: the views read through it */
	uint64_t host_ns;
	pthread_mutex_t lock;
	struct container_slot *bucket[CONTAINER_BUCKETS];
	unsigned count, max, cursor;
	int full_logged;
	int no_ns_ioctl; /* the kernel lacks NS_GET_TGID_FROM_PIDNS */
};

int containers_init(struct containers *cs, const struct cg_layout *l, struct fdcache *files);
/* At most max containers cached, each holding an fd (default 4096): from the fd limit. */
void containers_set_max(struct containers *cs, unsigned max);
/* Safe on a zeroed struct containers. */
void containers_fini(struct containers *cs);

/* The caller's container, referenced; NULL with *err = 0 when the caller sees host values (it
 * is in our pid namespace, or invisible to us: pid 0).  NULL with *err < 0 if the caller vanished
 * or its container cannot be determined. */
struct container *container_of_pid(struct containers *cs, pid_t pid, int *err);
void container_put(struct container *c);

/* Exposed for tests: init of the pid namespace with inode ns_ino that pid belongs to. */
pid_t container_find_init(struct containers *cs, pid_t pid, int nsfd, uint64_t ns_ino);

#endif
