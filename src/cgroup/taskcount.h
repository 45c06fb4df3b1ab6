/* How many tasks of a container's cgroup tree count towards its load: what the load average
 * engine samples every 5 s.  Two ways to the same numbers:
 *  - the kernel pass (taskcount_bpf.c): one BPF iterator counts every tracked cgroup at once,
 *    with no file opened per task: a cgroup iterator over the containers' own tasks (6.7+), or
 *    a task iterator over the host's tasks; it needs BTF;
 *  - the scan (taskcount_scan.c): the cgroups' thread lists and one /proc/<tid>/stat per thread;
 *    used for a container's first read and wherever the kernel pass cannot load. */
#ifndef LXCFS_TASKCOUNT_H
#define LXCFS_TASKCOUNT_H

#include <stdbool.h>
#include <stdint.h>

struct task_count {
	uint32_t running; /* R */
	uint32_t active;  /* R and D: what the load average counts */
	uint32_t total;
	uint32_t newest; /* the highest tid's pid in its own namespace (the last of its NSpid) */
};

struct fdcache;
/* Counts dir's tree by reading procdir (the host's /proc), through files (NULL: plain reads).
 * -ENOENT once the cgroup is gone.  keep_fds: each thread's stat file stays open in the fd
 * cache for the next sample (the periodic scan); a one-off count (a container's first read,
 * maybe counted in the kernel from then on) closes them. */
int taskcount_scan(const char *procdir, struct fdcache *files, const char *dir, bool v2, bool keep_fds, struct task_count *c);

/* One cgroup tree of a kernel pass. */
struct taskcount_req {
	const char *dir;
	bool v2;       /* for the scan: cgroup.threads rather than tasks */
	unsigned slot; /* the caller's stable number for this cgroup, below 4096 */
	uint64_t tag;  /* the caller's name for dir (a hash): a slot given another dir is looked up again */
	struct task_count count;
	int err; /* 0, or -errno for this directory: -ENOENT, it is gone; any other, the pass has
		  * no count of it (new under that name, outside the walk...): scan it */
};

struct taskcount_bpf;
/* Loads the program: the cgroup iterator if by_cgroup and the kernel has it, else the task
 * iterator.  The loaded program with *what naming it, or NULL with *what saying what is
 * missing; the scan serves then.  A loaded program is not thread-safe: one thread (the engine)
 * uses it. */
struct taskcount_bpf *taskcount_bpf_init(bool by_cgroup, const char **what);
/* Counts every req in one pass; cgroups not asked for again are forgotten.  0, or -errno when
 * the pass itself failed (each req's err is then set too). */
int taskcount_bpf_pass(struct taskcount_bpf *tb, struct taskcount_req *req, unsigned n);
/* Unloads it; NULL is fine. */
void taskcount_bpf_fini(struct taskcount_bpf *tb);

#endif
