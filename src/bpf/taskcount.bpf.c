/* The load average's task count, taken in the kernel.  Each tracked cgroup's tasks (its own and
 * its descendants') are counted in one pass, by one of two programs:
 *  - count_cgroups (6.7 and later): a cgroup iterator walks a hierarchy from its root; in the
 *    cgroups at or below a tracked one it walks the cgroup's own task list (the css_task kfuncs).
 *    Tasks outside the containers are never looked at, nor is a task looked up by pid.
 *  - count_tasks (5.8 and later): a task iterator over every task of the host, each task's
 *    cgroup and its ancestors looked up.
 * Userspace names the cgroups in `slots`, bumps `gen`, reads the iterator to its end, then reads
 * `counts` from the mapped global data: no system call per cgroup or per task.
 *
 * Only the fields read here are declared; CO-RE relocates them against the running kernel's
 * BTF, so one object serves every kernel that has BTF and task iterators. */
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

struct bpf_iter__cgroup {
	void *meta;
	struct cgroup *cgroup;
} PAI;

/* The css_task kfuncs (6.7): weak, so the object still loads count_tasks where they are missing. */
struct bpf_iter_css_task {
	__u64 opaque[1];
} __attribute__((aligned(8)));
extern int bpf_iter_css_task_new(struct bpf_iter_css_task *it, struct cgroup_subsys_state *css,
				 unsigned int flags) __attribute__((weak)) __ksym;
extern struct task_struct *bpf_iter_css_task_next(struct bpf_iter_css_task *it) __attribute__((weak)) __ksym;
extern void bpf_iter_css_task_destroy(struct bpf_iter_css_task *it) __attribute__((weak)) __ksym;

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
 * counts after the pass.  A slot whose gen is not the pass's: count_tasks saw no task in it;
 * count_cgroups did not visit it. */
struct tc_count counts[TC_MAX_TRACKED];
struct tc_hier hiers[TC_MAX_HIERS];
__u32 nhiers; /* (count_tasks only: count_cgroups walks the hierarchy its link names) */
__u32 gen;
/* Set here: a subsystem index that did not lead to the hierarchy userspace named. */
__u32 mismatch;

/* What one task adds to the counts of the tracked cgroups it is in. */
struct task_load {
	__u32 running, active, tid;
	struct task_struct *t;
};

/* 0 for the tasks no container lists: zombies and kernel threads */
static __always_inline int task_load(struct task_struct *t, struct task_load *l)
{
	/* plain loads through the task's pointers: the verifier makes them fault-safe loads, far
	 * cheaper than a helper call each */
	if (t->exit_state || (t->flags & PF_KTHREAD))
		return 0;
	__u32 state = t->__state;
	l->running = state == TASK_RUNNING;
	l->active = l->running || ((state & TASK_UNINTERRUPTIBLE) && !(state & (TASK_NOLOAD | TASK_FROZEN)));
	l->tid = (__u32)t->pid;
	l->t = t;
	return 1;
}

/* the pid a task has in its own (innermost) namespace, as the last of NSpid: a helper call
 * (numbers[] is indexed by a variable), so done once per count, not per task */
static __always_inline __u32 ns_pid(struct pid *p)
{
	unsigned int level = p ? p->level : 0;
	int nr = 0;
	if (p && level < 64)
		bpf_core_read(&nr, sizeof(nr), &p->numbers[level].nr);
	return (__u32)nr;
}

/* Adds the task to c; the highest tid's struct pid goes to *newest (its ns pid is read later). */
static __always_inline void add_load(struct tc_count *c, const struct task_load *l, struct pid **newest)
{
	c->total++;
	c->running += l->running;
	c->active += l->active;
	if (l->tid > c->newest) {
		c->newest = l->tid;
		*newest = l->t->thread_pid;
	}
}

static __always_inline __u32 *slot_of(struct cgroup *cg, __u32 hierarchy_id)
{
	struct tc_key key = { .id = cg->kn->id, .hierarchy_id = hierarchy_id };
	return bpf_map_lookup_elem(&slots, &key);
}

/* ---- count_cgroups: a cgroup iterator, the tasks of tracked trees only ---- */

/* The tracked cgroups cg is in (itself or an ancestor): for each, add `own` to its count, or with
 * own NULL, stop at the first and say there is one.  (No list of them is kept between walks: the
 * verifier would walk every length it could have.) */
static __always_inline int each_tracked(struct cgroup *cg, __u32 hid, __u32 g, const struct tc_count *own)
{
	struct cgroup *c = cg;
	for (int depth = 0; depth < TC_MAX_DEPTH && c; depth++) {
		struct cgroup_subsys_state *parent = c->self.parent;
		if (!parent)
			break; /* the root is the host's, never tracked */
		__u32 *slot = slot_of(c, hid);
		if (slot) {
			if (!own)
				return 1;
			struct tc_count *t = &counts[*slot & (TC_MAX_TRACKED - 1)];
			/* the walk is pre-order: a tracked cgroup's count was started, at its own
			 * visit, before any cgroup below it adds to it */
			if (t->gen == g) {
				t->total += own->total;
				t->running += own->running;
				t->active += own->active;
				if (own->newest > t->newest) {
					t->newest = own->newest;
					t->newest_ns = own->newest_ns;
				}
			}
		}
		c = parent->cgroup;
	}
	return 0;
}

SEC("?iter/cgroup")
int count_cgroups(struct bpf_iter__cgroup *ctx)
{
	struct cgroup *cg = ctx->cgroup;
	if (!cg || !cg->self.parent)
		return 0; /* the walk's end; the hierarchy's root, the host's */
	__u32 hid = (__u32)cg->root->hierarchy_id, g = gen;
	__u32 *slot = slot_of(cg, hid);
	if (slot)
		counts[*slot & (TC_MAX_TRACKED - 1)] = (struct tc_count){ .gen = g }; /* visited */
	else if (!each_tracked(cg->self.parent->cgroup, hid, g, NULL)) /* (cg: just looked up) */
		return 0; /* in no container: its tasks are not looked at */

	/* this cgroup's own tasks (every thread), counted once, then added where they count */
	struct tc_count own = { 0 };
	struct bpf_iter_css_task it;
	struct task_struct *t;
	struct task_load l;
	struct pid *newest = NULL; /* (the walk of one cgroup is one RCU read section: it stays) */
	bpf_iter_css_task_new(&it, &cg->self, 0);
	while ((t = bpf_iter_css_task_next(&it)))
		if (task_load(t, &l))
			add_load(&own, &l, &newest);
	bpf_iter_css_task_destroy(&it);
	/* read whether or not a task was seen: a test of own's counts after the loop would make
	 * the verifier tell every count apart inside it, and the loop would never settle */
	own.newest_ns = ns_pid(newest);
	each_tracked(cg, hid, g, &own);
	return 0;
}

/* ---- count_tasks: a task iterator over the host's tasks ---- */

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
	struct task_struct *t = ctx->task;
	struct task_load l;
	if (!t || !task_load(t, &l))
		return 0;
	__u32 g = gen;
	for (__u32 k = 0; k < TC_MAX_HIERS && k < nhiers; k++) {
		struct cgroup *cg = task_cgroup(t, &hiers[k]);
		for (int depth = 0; depth < TC_MAX_DEPTH && cg; depth++) {
			struct cgroup_subsys_state *parent = cg->self.parent;
			if (!parent)
				break; /* the root is the host's, never tracked: most tasks stop here */
			__u32 *slot = slot_of(cg, hiers[k].hierarchy_id);
			if (slot) {
				struct tc_count *c = &counts[*slot & (TC_MAX_TRACKED - 1)];
				if (c->gen != g)
					*c = (struct tc_count){ .gen = g };
				struct pid *newest = NULL;
				add_load(c, &l, &newest);
				if (newest)
					c->newest_ns = ns_pid(newest);
			}
			cg = parent->cgroup;
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
