/* Which container is asking: caller pid -> its pid namespace -> that namespace's init -> the
 * init's cgroup.  Cached per pid namespace; no fork, no setns. */
#ifndef LXCFS_CONTAINER_H
#define LXCFS_CONTAINER_H

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

int containers_init(const struct cg_layout *l);
/* At most max containers cached, each holding an fd (default 4096): from the fd limit. */
void containers_set_max(unsigned max);

void containers_fini(void);

/* The caller's container, referenced; NULL with *err = 0 when the caller sees host values (it
 * is in our pid namespace, or invisible to us: pid 0).  NULL with *err < 0 if the caller vanished
 * or its container cannot be determined. */
struct container *container_of_pid(pid_t pid, int *err);
void container_put(struct container *c);

/* Exposed for tests: init of the pid namespace with inode ns_ino that pid belongs to. */
pid_t container_find_init(pid_t pid, int nsfd, uint64_t ns_ino);

#endif
