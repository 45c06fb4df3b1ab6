/* cgroup and host files as the renderers read them, through the same kept fds: each target
 * (FUZZ_KIND, set by meson) writes the input into its kind of file in a private copy of
 * tests/fixtures, then renders every file that reads it for v1 and v2 containers (and the host).
 * Targets of several files take the input's NUL-separated parts in the order listed. */
#include <errno.h>

#include "cgroup/cgroup.h"
#include "cgroup/fdcache.h"
#include "fuzz.h"
#include "lib/options.h"
#include "fs/render.h"

static struct fdcache fc; /* as a worker reads: through kept fds */

#define FUZZ_MEMORY_STAT 1
#define FUZZ_CPU_STAT 2
#define FUZZ_CPUACCT 3
#define FUZZ_CPU_MAX 4
#define FUZZ_CPUSET_FILE 5
#define FUZZ_IO_STAT 6
#define FUZZ_BLKIO 7
#define FUZZ_PRESSURE 8
#define FUZZ_HOST_PROC 9

/* Files of each kind, relative to the fixture copy.  A part that is absent (fewer parts in the
 * input) removes the file, so "file missing" paths are fuzzed too. */
static const char *const files[][8] = {
	[FUZZ_MEMORY_STAT] = { "v1/memory/lxc/c1/memory.stat", "v1/memory/lxc/c2/memory.stat",
			       "v2/lxc/c1/memory.stat", "v2/lxc/c3/memory.stat" },
	[FUZZ_CPU_STAT] = { "v2/lxc/c1/cpu.stat", "v2/lxc/c4/cpu.stat" },
	[FUZZ_CPUACCT] = { "v1/cpuacct/lxc/c1/cpuacct.usage_all", "v1/cpuacct/lxc/c1/cpuacct.usage_percpu",
			   "v1/cpuacct/lxc/c1/cpuacct.usage" },
	[FUZZ_CPU_MAX] = { "v2/lxc/c4/inner/cpu.max", "v2/lxc/c4/cpu.max", "v2/lxc/cpu.max",
			   "v1/cpu/lxc/c1/cpu.cfs_quota_us", "v1/cpu/lxc/c1/cpu.cfs_period_us",
			   "v1/cpu/lxc/cpu.cfs_quota_us", "v1/cpu/lxc/cpu.cfs_period_us" },
	[FUZZ_CPUSET_FILE] = { "v2/lxc/c1/cpuset.cpus.effective", "v1/cpuset/lxc/c1/cpuset.effective_cpus",
			       "v1/cpuset/cpuset.effective_cpus", "host/cpu/online" },
	[FUZZ_IO_STAT] = { "v2/lxc/c1/io.stat" },
	[FUZZ_BLKIO] = { "v1/blkio/lxc/c1/blkio.throttle.io_serviced_recursive",
			 "v1/blkio/lxc/c1/blkio.throttle.io_service_bytes_recursive",
			 "v1/blkio/lxc/c1/blkio.io_serviced_recursive", "v1/blkio/lxc/c1/blkio.io_service_bytes_recursive",
			 "v1/blkio/lxc/c1/blkio.io_merged_recursive", "v1/blkio/lxc/c1/blkio.io_service_time_recursive",
			 "v1/blkio/lxc/c1/blkio.io_wait_time_recursive" },
	[FUZZ_PRESSURE] = { "v2/lxc/c1/cpu.pressure", "v2/lxc/c1/io.pressure", "v2/lxc/c1/memory.pressure" },
	[FUZZ_HOST_PROC] = { "host/proc/meminfo", "host/proc/stat", "host/proc/cpuinfo", "host/proc/diskstats",
			     "host/proc/swaps", "host/proc/uptime", "host/proc/loadavg", "host/proc/slabinfo" },
};

/* Single-file kinds: the whole input goes to every file of the kind (one format, several places). */
static const int whole[] = { [FUZZ_MEMORY_STAT] = 1, [FUZZ_CPU_STAT] = 1, [FUZZ_IO_STAT] = 1, [FUZZ_PRESSURE] = 1,
			     [FUZZ_HOST_PROC] = 1, [FUZZ_CPUSET_FILE] = 1 };

static char root[300], paths[8][512];
static int nfiles;
static char proc[400], cpu[400];
static struct hostroot host;
static struct cg_layout l1, l2;
static struct options opt, opt_cfs;

static double boottime(void)
{
	return 1000.0;
}

static void layout(struct cg_layout *l, bool v2)
{
	static const char *const ctrl[CG_N] = { "memory", "cpuset", "cpu", "cpuacct", "blkio" };
	memset(l, 0, sizeof(*l));
	for (int c = 0; c < CG_N; c++) {
		char p[600];
		if (v2)
			snprintf(p, sizeof(p), "%s/v2", root);
		else
			snprintf(p, sizeof(p), "%s/v1/%s", root, ctrl[c]);
		l->ctrl[c] = (struct cg_hier){ .mnt = strdup(p), .root = strdup("/"), .v2 = v2 };
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(root, sizeof(root), "%s", fz_fixture_copy());
	for (nfiles = 0; nfiles < 8 && files[FUZZ_KIND][nfiles]; nfiles++)
		snprintf(paths[nfiles], sizeof(paths[nfiles]), "%s/%s", root, files[FUZZ_KIND][nfiles]);
	snprintf(proc, sizeof(proc), "%s/host/proc", root);
	snprintf(cpu, sizeof(cpu), "%s/host/cpu", root);
	host = (struct hostroot){ .proc = proc, .cpu = cpu, .boottime = boottime };
	layout(&l1, false);
	layout(&l2, true);
	opt_cfs.cfs = true;
	fdcache_init(&fc, 256);
	return 0;
}

static void render_all(const struct cgview *cg, const struct options *o)
{
	static const render_fn fns[] = {
		render_meminfo,	      render_cpuinfo,	    render_stat,	    render_uptime,
		render_swaps,	      render_diskstats,	    render_loadavg,	    render_slabinfo,
		render_pressure_cpu,  render_pressure_io,   render_pressure_memory, render_cpu_online,
		render_cpu_present,   render_cpu_possible,  render_cpu_offline,
	};
	struct rctx c = { .host = &host, .opt = o, .cg = cg, .init_pid = cg ? 4242 : 0, .init_start = cg ? 5000 : 0,
			  .files = &fc };
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		struct buf b = BUF_INIT;
		int r = fns[i](&c, &b);
		if (r == 0 && !b.oom && b.len && memchr(b.data, '\0', b.len) && FUZZ_KIND != FUZZ_HOST_PROC &&
		    FUZZ_KIND != FUZZ_PRESSURE)
			abort(); /* a NUL in what we made up ourselves: a number or name went wrong */
		buf_free(&b);
	}
	if (cg) {
		unsigned n;
		struct cpuset set;
		cg_cpu_quota_cpus(cg, &n);
		cg_cpuset(cg, &set);
		container_cpus(&c, &set);
	}
}

static void view(const struct cg_layout *l, const char *path, const struct options *o)
{
	struct cgview v;
	char text[256];
	snprintf(text, sizeof(text), l->ctrl[0].v2 ? "0::%s\n" : "7:blkio:%s\n5:memory:%s\n3:cpuset:%s\n2:cpuacct:%s\n1:cpu:%s\n",
		 path, path, path, path, path);
	cgview_from_text(&v, l, text, strlen(text));
	v.files = &fc;
	render_all(&v, o);
	cgview_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int i = 0; i < nfiles; i++) {
		const uint8_t *p = data;
		size_t n = size;
		if (!whole[FUZZ_KIND]) {
			/* the part, or the file gone when the input has fewer parts */
			size_t zeros = 0;
			for (size_t k = 0; k < size; k++)
				zeros += data[k] == '\0';
			if ((size_t)i > zeros) {
				unlink(paths[i]);
				continue;
			}
			fz_part(data, size, i, &p, &n);
		}
		fz_write(paths[i], p, n);
	}
	/* content kept for a while (cpuinfo) must not outlive the input */
	fdcache_fini(&fc);
	fdcache_init(&fc, 256);
	render_all(NULL, &opt);
	for (int cfs = 0; cfs < 2; cfs++) {
		const struct options *o = cfs ? &opt_cfs : &opt;
		view(&l1, "/lxc/c1", o);
		view(&l1, "/lxc/c2", o);
		view(&l2, "/lxc/c1", o);
		view(&l2, "/lxc/c3", o);
		view(&l2, "/lxc/c4/inner", o);
	}
	return 0;
}
