#include <stdint.h>

#include "check.h"
#include "fixture.h"
#include "lib/parse.h"

static struct options opt;

static char *render(render_fn fn, const struct cgview *cg, uint64_t init_start)
{
	struct rctx c = { .host = &fx_host, .opt = &opt, .cg = cg, .init_pid = cg ? 4242 : 0, .init_start = init_start };
	struct buf b = BUF_INIT;
	int r = fn(&c, &b);
	CHECK_INT(r, 0);
	CHECK(!b.oom);
	char *copy = strdup(buf_cstr(&b));
	buf_free(&b);
	return copy;
}

static uint64_t kb(const char *text, const char *key)
{
	uint64_t v = UINT64_MAX;
	if (meminfo_get_kb(text, strlen(text), key, &v) < 0)
		fprintf(stderr, "no %s in meminfo\n", key);
	return v;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void meminfo_v1(void)
{
	struct cg_layout l;
	struct cgview v;
	fixture_layout_v1(&l);
	fixture_view(&v, &l, "/lxc/c1");
	char *m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 204800); /* min(256 MiB, parent's 200 MiB) */
	CHECK_U64(kb(m, "MemFree"), 102400);  /* usage 100 MiB */
	CHECK_U64(kb(m, "Cached"), 40960);
	CHECK_U64(kb(m, "MemAvailable"), 143360);
	CHECK_U64(kb(m, "Buffers"), 0);
	CHECK_U64(kb(m, "Active(anon)"), 43008);
	CHECK_U64(kb(m, "Inactive(anon)"), 10240);
	CHECK_U64(kb(m, "Active"), 63488);
	CHECK_U64(kb(m, "Inactive"), 30720);
	CHECK_U64(kb(m, "Shmem"), 2048);
	CHECK_U64(kb(m, "AnonPages"), 51200);
	CHECK_U64(kb(m, "Mapped"), 8192);
	CHECK_U64(kb(m, "Dirty"), 1024);
	CHECK_U64(kb(m, "AnonHugePages"), 4096); /* total_rss_huge, not swallowed by total_rss */
	CHECK_U64(kb(m, "SwapTotal"), 102400);   /* memsw 300 MiB - memory 200 MiB */
	CHECK_U64(kb(m, "SwapFree"), 92160);     /* 10 MiB of swap used */
	CHECK_U64(kb(m, "Slab"), 0);
	CHECK_U64(kb(m, "Zswap"), 0); /* v1 accounts no zswap: 0, as upstream, not the host's */
	CHECK_U64(kb(m, "Zswapped"), 0);
	/* the kernel's layout, and untouched host lines */
	CHECK(has_line(m, "MemTotal:         204800 kB"));
	CHECK(has_line(m, "KernelStack:        5000 kB"));
	CHECK(has_line(m, "HugePages_Total:       0"));
	CHECK(has_line(m, "DirectMap4k:      100000 kB"));
	free(m);

	opt.swap_off = true;
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "SwapTotal"), 0);
	CHECK_U64(kb(m, "SwapFree"), 0);
	free(m);
	m = render(render_swaps, &v, 0);
	CHECK_STR(m, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	free(m);
	opt.swap_off = false;

	m = render(render_swaps, &v, 0);
	CHECK_STR(m, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"
		     "none                                    virtual\t102400\t\t10240\t\t0\n");
	free(m);
	cgview_free(&v);

	/* garbage: an unparsable limit and memory.stat give a sane view, never a crash */
	fixture_view(&v, &l, "/lxc/c2");
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 204800);
	CHECK_U64(kb(m, "MemFree"), 203776);
	CHECK_U64(kb(m, "Cached"), 0);
	CHECK_U64(kb(m, "SwapTotal"), 0); /* no memsw files: no swap to show */
	free(m);
	cgview_free(&v);

	/* the limits memory.stat states (the kernel's minimum over every ancestor) are taken
	 * without a walk: c3 has no limit file, and the walk would find lxc's 200 MiB */
	fixture_view(&v, &l, "/lxc/c3");
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 102400);
	CHECK_U64(kb(m, "SwapTotal"), 51200); /* memsw 150 MiB - memory 100 MiB */
	CHECK_U64(kb(m, "SwapFree"), 40960);
	free(m);
	cgview_free(&v);
	/* an unparsable one is left to the walk: min(c4's 256 MiB, lxc's 200 MiB) */
	fixture_view(&v, &l, "/lxc/c4");
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 204800);
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);
}

static void meminfo_v2(void)
{
	struct cg_layout l;
	struct cgview v;
	fixture_layout_v2(&l);
	fixture_view(&v, &l, "/lxc/c1");
	char *m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 262144);
	CHECK_U64(kb(m, "MemFree"), 210944);
	CHECK_U64(kb(m, "Cached"), 20480);
	CHECK_U64(kb(m, "MemAvailable"), 231424);
	CHECK_U64(kb(m, "Active"), 30720);
	CHECK_U64(kb(m, "Inactive"), 20480);
	CHECK_U64(kb(m, "AnonPages"), 29696);
	CHECK_U64(kb(m, "Mapped"), 4096);
	CHECK_U64(kb(m, "Dirty"), 2048);
	CHECK_U64(kb(m, "Writeback"), 1024);
	CHECK_U64(kb(m, "AnonHugePages"), 2048);
	CHECK_U64(kb(m, "SReclaimable"), 512);
	CHECK_U64(kb(m, "SUnreclaim"), 256);
	CHECK_U64(kb(m, "Slab"), 768);
	CHECK_U64(kb(m, "SwapTotal"), 102400);
	CHECK_U64(kb(m, "SwapFree"), 92160);
	CHECK_U64(kb(m, "Zswap"), 1024); /* the cgroup's, not the host's 3000 */
	CHECK_U64(kb(m, "Zswapped"), 3072);
	CHECK(has_line(m, "Zswapped:           3072 kB"));
	free(m);
	opt.zswap_off = true; /* --disable-zswap */
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "Zswap"), 0);
	CHECK_U64(kb(m, "Zswapped"), 0);
	CHECK_U64(kb(m, "SwapTotal"), 102400);
	free(m);
	opt.zswap_off = false;
	cgview_free(&v);

	/* "max" everywhere: the host's total; an empty memory.stat: zeros */
	fixture_view(&v, &l, "/lxc/c3");
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 8000000);
	CHECK_U64(kb(m, "MemFree"), 7998976);
	CHECK_U64(kb(m, "Cached"), 0);
	CHECK_U64(kb(m, "SwapTotal"), 0);
	free(m);
	cgview_free(&v);

	/* a cgroup that does not exist: the host's file, unchanged */
	fixture_view(&v, &l, "/lxc/nonexistent");
	m = render(render_meminfo, &v, 0);
	CHECK_U64(kb(m, "MemTotal"), 8000000);
	CHECK_U64(kb(m, "MemFree"), 6000000);
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);
}

static void cpus(void)
{
	struct cg_layout l;
	struct cgview v;
	fixture_layout_v1(&l);
	fixture_view(&v, &l, "/lxc/c1");
	char *m = render(render_cpuinfo, &v, 0);
	/* host cpus 1 and 3, renumbered 0 and 1, everything else of their blocks kept */
	CHECK(strncmp(m, "processor\t: 0\nvendor_id\t: GenuineIntel\n", 38) == 0);
	CHECK(has_line(m, "processor\t: 1"));
	CHECK(!has_line(m, "processor\t: 2"));
	CHECK(has_line(m, "apicid\t\t: 1"));
	CHECK(has_line(m, "apicid\t\t: 3"));
	CHECK(!has_line(m, "apicid\t\t: 0"));
	CHECK(!has_line(m, "apicid\t\t: 2"));
	free(m);
	m = render(render_cpu_online, &v, 0);
	CHECK_STR(m, "1,3\n");
	free(m);

	m = render(render_stat, &v, 0);
	/* cpuacct.usage_all: cpu1 2 s user 1 s system, cpu3 0.5 s user; what else ran is idle */
	CHECK_STR(m, "cpu  250 0 100 52920 0 0 0 0 0 0\n"
		     "cpu1 200 0 100 26335 0 0 0 0 0 0\n"
		     "cpu3 50 0 0 26585 0 0 0 0 0 0\n"
		     "intr 123456 0 1 2\n"
		     "ctxt 987654\n"
		     "btime 1700000000\n"
		     "processes 4321\n"
		     "procs_running 2\n"
		     "procs_blocked 0\n"
		     "softirq 5555 1 2 3\n");
	free(m);

	/* started 500 s after boot, now 1000 s: up 500 s; idle over 2 cpus minus 3.5 s used */
	m = render(render_uptime, &v, 50000);
	CHECK_STR(m, "500.00 996.50\n");
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);

	fixture_layout_v2(&l);
	fixture_view(&v, &l, "/lxc/c1");
	m = render(render_stat, &v, 0);
	/* cpu.stat: 3 s user, 2 s system, all on its one cpu; the rest of cpu2's time is idle */
	const char *want = "cpu  300 0 200 26135 0 0 0 0 0 0\ncpu2 300 0 200 26135 0 0 0 0 0 0\nintr ";
	CHECK(strncmp(m, want, strlen(want)) == 0);
	free(m);
	m = render(render_uptime, &v, 50000);
	CHECK_STR(m, "500.00 495.00\n");
	free(m);
	m = render(render_cpu_online, &v, 0);
	CHECK_STR(m, "2\n");
	free(m);
	cgview_free(&v);
	/* four cpus: 103 user and 47 system ticks spread evenly, the totals exact */
	fixture_view(&v, &l, "/lxc/c4");
	m = render(render_stat, &v, 0);
	CHECK(strncmp(m, "cpu  103 0 47 ", 14) == 0);
	CHECK(strstr(m, "\ncpu0 26 0 12 ") && strstr(m, "\ncpu2 26 0 12 ") && strstr(m, "\ncpu3 25 0 11 "));
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);

	/* the host sees the host */
	m = render(render_cpu_online, NULL, 0);
	CHECK_STR(m, "0-3\n");
	free(m);
	m = render(render_uptime, NULL, 0);
	CHECK_STR(m, "1000.00 3900.00\n");
	free(m);
	m = render(render_cpuinfo, NULL, 0);
	CHECK(has_line(m, "processor\t: 3"));
	free(m);
}

/* --enable-cfs: the quota (min over ancestors, rounded up) cuts the cpuset to its first cpus. */
static void cfs(void)
{
	struct cg_layout l;
	struct cgview v;
	opt.cfs = true;
	fixture_layout_v1(&l);
	fixture_view(&v, &l, "/lxc/c1"); /* cpuset 1,3; quota 0.5 cpu under a parent's 1.5 */
	char *m = render(render_cpu_online, &v, 0);
	CHECK_STR(m, "1\n");
	free(m);
	m = render(render_cpuinfo, &v, 0);
	CHECK(has_line(m, "processor\t: 0"));
	CHECK(!has_line(m, "processor\t: 1"));
	CHECK(has_line(m, "apicid\t\t: 1"));
	free(m);
	m = render(render_stat, &v, 0);
	CHECK(strstr(m, "\ncpu1 ") != NULL);
	CHECK(strstr(m, "\ncpu3 ") == NULL);
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);

	static const struct {
		const char *cg, *online;
	} v2[] = {
		{ "/lxc/c3", "0\n" },         /* 0.5 cpu of the host's 0-3 */
		{ "/lxc/c4", "0-1\n" },       /* 1.5 cpus: 2 */
		{ "/lxc/c4/inner", "0-1\n" }, /* no limit of its own: its parent's */
		{ "/lxc/c5", "0-3\n" },       /* garbage in cpu.max: no limit, never a crash */
		{ "/lxc/c1", "2\n" },         /* no quota: its cpuset */
	};
	fixture_layout_v2(&l);
	for (size_t i = 0; i < sizeof(v2) / sizeof(v2[0]); i++) {
		fixture_view(&v, &l, v2[i].cg);
		m = render(render_cpu_online, &v, 0);
		if (strcmp(m, v2[i].online) != 0)
			fprintf(stderr, "cfs %s: %s", v2[i].cg, m);
		CHECK_STR(m, v2[i].online);
		free(m);
		cgview_free(&v);
	}
	opt.cfs = false;
	fixture_view(&v, &l, "/lxc/c3"); /* without --enable-cfs the quota changes nothing */
	m = render(render_cpu_online, &v, 0);
	CHECK_STR(m, "0-3\n");
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);
}

static void io_and_pressure(void)
{
	struct cg_layout l;
	struct cgview v;
	fixture_layout_v1(&l);
	fixture_view(&v, &l, "/lxc/c1");
	char *m = render(render_diskstats, &v, 0);
	CHECK_STR(m, "   8       0 sda 100 0 800 0 40 0 160 0 0 0 0 0 0 0 0 0 0\n");
	free(m);
	m = render(render_pressure_cpu, &v, 0); /* v1 has no pressure files: the host's */
	CHECK(strncmp(m, "some avg10=1.00", 15) == 0);
	free(m);
	m = render(render_slabinfo, &v, 0);
	CHECK(strncmp(m, "slabinfo - version: 2.1\n", 24) == 0);
	free(m);
	m = render(render_loadavg, &v, 0);
	CHECK_STR(m, "0.50 0.40 0.30 2/300 4321\n");
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);

	fixture_layout_v2(&l);
	fixture_view(&v, &l, "/lxc/c1");
	m = render(render_diskstats, &v, 0);
	CHECK_STR(m, "   8       0 sda 30 0 2048 0 20 0 4096 0 0 0 0 0 0 0 0 0 0\n");
	free(m);
	m = render(render_pressure_cpu, &v, 0);
	CHECK(strncmp(m, "some avg10=0.10", 15) == 0);
	free(m);
	m = render(render_pressure_io, &v, 0); /* the cgroup has no io.pressure: the host's */
	CHECK(strncmp(m, "some avg10=4.00", 15) == 0);
	free(m);
	cgview_free(&v);
	cg_layout_free(&l);
}

int main(int argc, char **argv)
{
	fixture_init(argc, argv);
	meminfo_v1();
	meminfo_v2();
	cpus();
	cfs();
	io_and_pressure();
	CHECK_DONE();
}
