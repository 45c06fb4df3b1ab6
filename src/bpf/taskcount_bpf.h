/* What the task counting program and its loader share: map key, counts and limits. */
#ifndef LXCFS_TASKCOUNT_BPF_H
#define LXCFS_TASKCOUNT_BPF_H

#define TC_MAX_TRACKED 4096 /* cgroups counted in one pass (a power of 2) */
#define TC_MAX_HIERS 4      /* hierarchies in one pass (v2, or the v1 ones loadavg uses) */
#define TC_MAX_DEPTH 32     /* levels walked up from a task's cgroup */

struct tc_key {
	__u64 id;           /* the cgroup's kernfs id: its directory's inode number */
	__u32 hierarchy_id; /* 0: the cgroup2 hierarchy */
	__u32 pad;
};

struct tc_count {
	__u32 gen; /* the pass that wrote it */
	__u32 running, active, total;
	__u32 newest, newest_ns; /* highest tid, and its pid in its own namespace */
};

struct tc_hier {
	__u32 hierarchy_id;
	__u32 ssid; /* a subsystem index on that v1 hierarchy (unused for 0) */
};

#endif
