/* Where cgroup controllers live (v1, hybrid, v2) and how to read one container's cgroup files.
 * The last stage of the request path: renderers ask, this reads the files. */
#ifndef LXCFS_CGROUP_H
#define LXCFS_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "cgroup/cpuset.h"

enum cg_ctrl { CG_MEMORY, CG_CPUSET, CG_CPU, CG_CPUACCT, CG_BLKIO, CG_N };

/* A hierarchy a controller is mounted on. */
struct cg_hier {
	char *mnt;  /* mount point, e.g. /sys/fs/cgroup/memory */
	char *root; /* the mount's root inside the hierarchy ("/" unless mounted in a cgroupns) */
	bool v2;
};

struct cg_layout {
	struct cg_hier ctrl[CG_N]; /* mnt == NULL: controller not available */
	struct cg_hier unified;    /* the cgroup2 mount, if any */
};

/* Parses mountinfo text.  A v2 controller is taken from the unified mount only if its
 * cgroup.controllers (read below the mount point) lists it and no v1 hierarchy has it. */
int cg_layout_parse(struct cg_layout *l, const char *mountinfo, size_t len);
int cg_layout_discover(struct cg_layout *l);
void cg_layout_free(struct cg_layout *l);
const char *cg_ctrl_name(enum cg_ctrl c);

struct fdcache;
/* One container's cgroup: an absolute directory per controller. */
struct cgview {
	char *dir[CG_N]; /* NULL: unknown for this container */
	const struct cg_hier *hier[CG_N];
	struct fdcache *files; /* where its files are read through: the context's fd cache; NULL
				* (as cgview_from_text leaves it) reads without keeping fds */
};

/* Builds the view from /proc/<pid>/cgroup text; strips a trailing "/init.scope".
 * Paths outside a hierarchy's mount root or containing ".." are rejected (dir stays NULL). */
int cgview_from_text(struct cgview *v, const struct cg_layout *l, const char *text, size_t len);
void cgview_free(struct cgview *v);
bool cgview_is_root(const struct cgview *v, enum cg_ctrl c);

int cg_read(const struct cgview *v, enum cg_ctrl c, const char *file, struct buf *out);
int cg_read_u64(const struct cgview *v, enum cg_ctrl c, const char *file, bool allow_max, uint64_t *out);
/* Minimum of a limit file over the cgroup and all its ancestors up to the mount root.  "max" and
 * missing levels count as unlimited (UINT64_MAX); -ENOENT if no level has the file. */
int cg_limit_min(const struct cgview *v, enum cg_ctrl c, const char *file, uint64_t *out);
/* The cpu bandwidth limit in whole cpus, rounded up: the smallest quota/period over the cgroup
 * and its ancestors (v2 cpu.max, v1 cpu.cfs_quota_us over cpu.cfs_period_us).  -ENOENT when
 * nothing limits it. */
int cg_cpu_quota_cpus(const struct cgview *v, unsigned *out);
/* Effective cpus of the cgroup (cpuset.effective_cpus / cpuset.cpus.effective, else cpuset.cpus
 * of the nearest ancestor that has one). */
int cg_cpuset(const struct cgview *v, struct cpuset *out);

#endif
