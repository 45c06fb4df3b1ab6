/* The load average's task count, taken in the kernel: one pass of a task iterator over every
 * task of the host, each task counted for every tracked cgroup it is in (its own cgroup or an
 * ancestor, in the hierarchy the cgroup belongs to).  Userspace names the cgroups in `slots`,
 * bumps `gen`, reads the iterator to its end, then reads `counts` from the mapped global data:
 * no system call per cgroup or per task.
 *
 * Only the fields read here are declared; CO-RE relocates them against the running kernel's
 * BTF, so one object serves every kernel that has BTF and task iterators (5.8 and later). */
/* the types bpf_helper_defs.h names (no kernel headers here: the kernel's own come by CO-RE) */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

enum { BPF_MAP_TYPE_HASH = 1 }; /* uapi: fixed forever */

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "taskcount_bpf.h"

#define PAI __attribute__((preserve_access_index))

struct kernfs_node {
	__u64 id;
} PAI;

struct cgroup_root {
	int hierarchy_id;
} PAI;

struct cgroup;

struct cgroup_subsys_state {
	struct cgroup *cgroup;
	struct cgroup_subsys_state *parent;
} PAI;

struct cgroup {
	struct cgroup_subsys_state self;
	struct kernfs_node *kn;
	struct cgroup_root *root;
} PAI;

struct css_set {
	struct cgroup_subsys_state *subsys[16];
	struct cgroup *dfl_cgrp;
} PAI;

struct upid {
	int nr;
	void *ns;
} PAI;

struct pid {
	unsigned int level;
	struct upid numbers[1];
} PAI;

struct task_struct {
	unsigned int __state;
	unsigned int flags;
	int exit_state;
	int pid;
	struct pid *thread_pid;
	struct css_set *cgroups;
} PAI;

struct bpf_iter__task {
	void *meta;
	struct task_struct *task;
} PAI;

/* The kernel's task states and flags (include/linux/sched.h), stable for years. */
#define TASK_RUNNING 0x0000
#define TASK_UNINTERRUPTIBLE 0x0002
#define TASK_NOLOAD 0x0400
#define TASK_FROZEN 0x8000
#define PF_KTHREAD 0x00200000

/* A tracked cgroup -> its slot in counts[].  Userspace keeps it in step with its entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TC_MAX_TRACKED);
	__type(key, struct tc_key);
	__type(value, __u32);
} slots SEC(".maps");

/* Global data, mapped by userspace: it sets the pass's generation and hierarchies, reads the
 * counts after the pass.  A slot whose gen is not the pass's saw no task. */
struct tc_count counts[TC_MAX_TRACKED];
struct tc_hier hiers[TC_MAX_HIERS];
__u32 nhiers;
__u32 gen;
/* Set here: a subsystem index that did not lead to the hierarchy userspace named. */
__u32 mismatch;

static struct cgroup *task_cgroup(struct task_struct *t, const struct tc_hier *h)
{
	struct css_set *cs = t->cgroups;
	if (!cs)
		return NULL;
	if (h->hierarchy_id == 0)
		return cs->dfl_cgrp;
	struct cgroup_subsys_state *css = NULL;
	/* One constant index per case, so each load stays a typed one; the cases past this
	 * kernel's number of subsystems (a relocated constant) are never taken, nor verified. */
	const __u32 nsubsys = bpf_core_field_size(cs->subsys) / sizeof(cs->subsys[0]);
#define SUBSYS(i)                               \
	case i:                                 \
		if (i < nsubsys)                \
			css = cs->subsys[i];    \
		break;
	switch (h->ssid) {
		SUBSYS(0) SUBSYS(1) SUBSYS(2) SUBSYS(3) SUBSYS(4) SUBSYS(5) SUBSYS(6) SUBSYS(7)
		SUBSYS(8) SUBSYS(9) SUBSYS(10) SUBSYS(11) SUBSYS(12) SUBSYS(13) SUBSYS(14) SUBSYS(15)
	}
#undef SUBSYS
	struct cgroup *cg = css ? css->cgroup : NULL;
	if (cg && cg->root->hierarchy_id != (int)h->hierarchy_id) {
		mismatch = 1;
		return NULL;
	}
	return cg;
}

SEC("iter/task")
int count_tasks(struct bpf_iter__task *ctx)
{
	/* plain loads through the task's pointers: the verifier turns them into fault-safe loads,
	 * far cheaper than a helper call each */
	struct task_struct *t = ctx->task;
	if (!t || t->exit_state || (t->flags & PF_KTHREAD))
		return 0; /* zombies and kernel threads are in no container's thread list */
	__u32 state = t->__state;
	int running = state == TASK_RUNNING;
	int active = running || ((state & TASK_UNINTERRUPTIBLE) && !(state & (TASK_NOLOAD | TASK_FROZEN)));
	__u32 tid = (__u32)t->pid, g = gen;

	for (__u32 k = 0; k < TC_MAX_HIERS && k < nhiers; k++) {
		struct cgroup *cg = task_cgroup(t, &hiers[k]);
		for (int depth = 0; depth < TC_MAX_DEPTH && cg; depth++) {
			struct cgroup_subsys_state *parent = cg->self.parent;
			if (!parent)
				break; /* the root is the host's, never tracked: most tasks stop here */
			struct tc_key key = { .id = cg->kn->id, .hierarchy_id = hiers[k].hierarchy_id };
			__u32 *slot = bpf_map_lookup_elem(&slots, &key);
			if (slot) {
				struct tc_count *c = &counts[*slot & (TC_MAX_TRACKED - 1)];
				if (c->gen != g)
					*c = (struct tc_count){ .gen = g };
				c->total++;
				c->running += running;
				c->active += active;
				if (tid > c->newest) {
					/* the pid the task has in its own (innermost) namespace, as NSpid */
					struct pid *p = t->thread_pid;
					unsigned int level = p ? p->level : 0;
					int nr = 0;
					if (p && level < 64)
						bpf_core_read(&nr, sizeof(nr), &p->numbers[level].nr);
					c->newest = tid;
					c->newest_ns = (__u32)nr;
				}
			}
			cg = parent->cgroup;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
