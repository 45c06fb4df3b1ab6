/* Renderers: one function per virtual file, from a container's cgroup view to file content.
 * They read through cgroup.h and the host's procfs; they never see FUSE. */
#ifndef LXCFS_RENDER_H
#define LXCFS_RENDER_H

#include <stdbool.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "cgroup/cgroup.h"

struct options;
struct fdcache;
struct loadavg;

/* Where the host's files are: "/proc" and "/sys/devices/system/cpu" in production, fixture
 * directories in unit tests. */
struct hostroot {
	const char *proc;
	const char *cpu;
	/* Seconds since boot (CLOCK_BOOTTIME); NULL = the real clock.  Tests pin it. */
	double (*boottime)(void);
};

struct rctx {
	const struct hostroot *host;
	const struct options *opt;
	const struct cgview *cg; /* NULL: the caller is the host, it sees host values */
	pid_t init_pid;          /* host pid of the container's init (0 for the host) */
	uint64_t init_start;     /* its start time, clock ticks after boot (0: unknown) */
	/* The context's modules renderers read through; NULL: plain reads (tests), no per-container
	 * load average */
	struct fdcache *files;
	struct loadavg *loadavg;
};

typedef int (*render_fn)(const struct rctx *c, struct buf *out);

/* Reads <host proc>/<name> into out through a kept fd; the shared fallback of every renderer. */
int host_proc_read(const struct rctx *c, const char *name, struct buf *out);
/* Same for <host cpu dir>/<name> (online, present...). */
int host_cpu_read(const struct rctx *c, const char *name, struct buf *out);

int render_meminfo(const struct rctx *c, struct buf *out);
int render_cpuinfo(const struct rctx *c, struct buf *out);
int render_stat(const struct rctx *c, struct buf *out);
int render_uptime(const struct rctx *c, struct buf *out);
int render_swaps(const struct rctx *c, struct buf *out);
int render_diskstats(const struct rctx *c, struct buf *out);
int render_loadavg(const struct rctx *c, struct buf *out);
int render_slabinfo(const struct rctx *c, struct buf *out);
int render_pressure_cpu(const struct rctx *c, struct buf *out);
int render_pressure_io(const struct rctx *c, struct buf *out);
int render_pressure_memory(const struct rctx *c, struct buf *out);
int render_cpu_online(const struct rctx *c, struct buf *out);
int render_cpu_present(const struct rctx *c, struct buf *out);
int render_cpu_possible(const struct rctx *c, struct buf *out);
int render_cpu_offline(const struct rctx *c, struct buf *out);

/* The cpus a container may use: its effective cpuset, or the host's online cpus. */
int container_cpus(const struct rctx *c, struct cpuset *out);
/* After a host file was read into *host (r: the read's result): 1 with the container's cpus in
 * *cpus, for the caller to render from both; 0 for a reader in no container, the host's file
 * copied to out as it is; or the error (host freed in both of these cases). */
int host_and_cpus(const struct rctx *c, int r, struct buf *host, struct buf *out, struct cpuset *cpus);

#endif
