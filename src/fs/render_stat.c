/* /proc/stat: the host's cpu lines cut to the container's cpuset, with the container's own cpu
 * time per cpu where the cgroup accounts it (v1 cpuacct per cpu, v2 cpu.stat spread evenly). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/parse.h"
#include "fs/render.h"

#define STAT_FIELDS 10 /* user nice system idle iowait irq softirq steal guest guest_nice */

struct cpu_usage {
	uint64_t *user, *system; /* ticks, indexed by cpu */
	unsigned n;
};

static void usage_free(struct cpu_usage *u)
{
	free(u->user);
	free(u->system);
	memset(u, 0, sizeof(*u));
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	return ns / (1000000000u / (uint64_t)hz);
}

/* cpu.stat counts microseconds; one beyond 2^64 ns (585 years) is garbage: saturated, not
 * wrapped into a small plausible figure. */
static uint64_t us_to_ticks(uint64_t us)
{
	return ns_to_ticks(us > UINT64_MAX / 1000 ? UINT64_MAX : us * 1000);
}

static int usage_alloc(struct cpu_usage *u, unsigned ncpu)
{
	u->n = ncpu;
	u->user = calloc(ncpu ? ncpu : 1, sizeof(uint64_t));
	u->system = calloc(ncpu ? ncpu : 1, sizeof(uint64_t));
	if (u->user && u->system)
		return 0;
	usage_free(u);
	return -ENOMEM;
}

/* cgroup v2 accounts cpu time per cgroup, not per cpu (cpu.stat user_usec, system_usec): the
 * totals are exact, their split over the container's cpus is even (the remainder of a tick
 * goes to the lowest cpus). */
static int read_usage_v2(const struct cgview *cg, const struct cpuset *cpus, unsigned ncpu, struct cpu_usage *u)
{
	struct buf b = BUF_INIT;
	uint64_t us, sy;
	unsigned n = cpuset_count(cpus);
	int r = cg_read(cg, CG_CPUACCT, "cpu.stat", &b);
	if (r == 0 && (kv_get_u64(b.data, b.len, "user_usec", &us) < 0 ||
		       kv_get_u64(b.data, b.len, "system_usec", &sy) < 0))
		r = -ENOENT;
	buf_free(&b);
	if (r < 0 || n == 0)
		return -ENOENT;
	if (usage_alloc(u, ncpu) < 0)
		return -ENOMEM;
	uint64_t ut = us_to_ticks(us), st = us_to_ticks(sy);
	unsigned i = 0;
	for (int c = cpuset_next(cpus, 0); c >= 0 && (unsigned)c < ncpu; c = cpuset_next(cpus, (unsigned)c + 1), i++) {
		u->user[c] = ut / n + (i < ut % n);
		u->system[c] = st / n + (i < st % n);
	}
	return 0;
}

/* v1: cpuacct.usage_all ("cpu user system" then one line per cpu), else cpuacct.usage_percpu
 * (one total per cpu, counted as user time); v2: cpu.stat.  -ENOENT when the cgroup has none. */
static int read_usage(const struct cgview *cg, const struct cpuset *cpus, unsigned ncpu, struct cpu_usage *u)
{
	memset(u, 0, sizeof(*u));
	if (!cg || !cg->dir[CG_CPUACCT])
		return -ENOENT;
	if (cg->hier[CG_CPUACCT]->v2)
		return read_usage_v2(cg, cpus, ncpu, u);
	struct buf b = BUF_INIT;
	int r = cg_read(cg, CG_CPUACCT, "cpuacct.usage_all", &b);
	bool all = r == 0;
	if (!all) {
		buf_reset(&b);
		r = cg_read(cg, CG_CPUACCT, "cpuacct.usage_percpu", &b);
	}
	if (r < 0) {
		buf_free(&b);
		return -ENOENT;
	}
	if (usage_alloc(u, ncpu) < 0) {
		buf_free(&b);
		return -ENOMEM;
	}
	const char *s = buf_cstr(&b);
	r = 0;
	if (all) {
		const char *nl = strchr(s, '\n');
		if (strncmp(s, "cpu user system", 15) != 0 || !nl)
			r = -EINVAL;
		for (const char *p = nl ? nl + 1 : ""; r == 0 && *p;) {
			char *end;
			unsigned long cpu = strtoul(p, &end, 10);
			unsigned long long us = strtoull(end, &end, 10), sy = strtoull(end, &end, 10);
			if (end == p || (*end != '\n' && *end != '\0')) {
				r = -EINVAL;
				break;
			}
			if (cpu < u->n) {
				u->user[cpu] = ns_to_ticks(us);
				u->system[cpu] = ns_to_ticks(sy);
			}
			p = *end ? end + 1 : end;
		}
	} else {
		const char *p = s;
		for (unsigned cpu = 0; cpu < u->n; cpu++) {
			while (*p == ' ')
				p++;
			if (!isdigit((unsigned char)*p))
				break;
			char *end;
			u->user[cpu] = ns_to_ticks(strtoull(p, &end, 10));
			p = end;
		}
	}
	buf_free(&b);
	if (r < 0)
		usage_free(u);
	return r;
}

/* Parses "cpuN v1 v2 ..." into cpu and up to STAT_FIELDS values. */
static bool cpu_line(const char *l, size_t n, unsigned *cpu, uint64_t *v, int *nv)
{
	if (n < 4 || memcmp(l, "cpu", 3) != 0 || !isdigit((unsigned char)l[3]))
		return false;
	char tmp[512];
	if (n >= sizeof(tmp))
		return false;
	memcpy(tmp, l, n);
	tmp[n] = '\0';
	char *end;
	unsigned long c = strtoul(tmp + 3, &end, 10);
	if (c >= CPUSET_MAX || (*end != ' ' && *end != '\t'))
		return false;
	*cpu = (unsigned)c;
	*nv = 0;
	for (char *p = end; *nv < STAT_FIELDS;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			break;
		v[(*nv)++] = strtoull(p, &p, 10);
	}
	return true;
}

int render_stat(const struct rctx *c, struct buf *out)
{
	struct buf host = BUF_INIT;
	struct cpuset cpus;
	int r = host_and_cpus(c, host_proc_read(c, "stat", &host), &host, out, &cpus);
	if (r <= 0)
		return r;
	unsigned ncpu = 0;
	for (int i = cpuset_next(&cpus, 0); i >= 0; i = cpuset_next(&cpus, (unsigned)i + 1))
		ncpu = (unsigned)i + 1;
	struct cpu_usage use;
	bool have_use = read_usage(c->cg, &cpus, ncpu, &use) == 0;

	struct buf lines = BUF_INIT, rest = BUF_INIT;
	uint64_t sum[STAT_FIELDS] = { 0 };
	size_t pos = 0, ll;
	const char *line;
	while (next_line(host.data, host.len, &pos, &line, &ll)) {
		unsigned cpu;
		uint64_t v[STAT_FIELDS] = { 0 };
		int nv;
		if (ll >= 4 && memcmp(line, "cpu ", 4) == 0)
			continue; /* the total is recomputed below */
		if (!cpu_line(line, ll, &cpu, v, &nv)) {
			buf_append(&rest, line, ll);
			buf_puts(&rest, "\n");
			continue;
		}
		if (!cpuset_has(&cpus, cpu))
			continue;
		if (have_use && nv >= 4 && cpu < use.n) {
			/* The container's own time; what others used on this cpu counts as idle to it. */
			uint64_t all = 0, mine = use.user[cpu] + use.system[cpu];
			for (int i = 0; i < nv; i++)
				if (i != 3)
					all += v[i];
			uint64_t idle = v[3] + (all > mine ? all - mine : 0);
			uint64_t nw[STAT_FIELDS] = { use.user[cpu], 0, use.system[cpu], idle };
			memcpy(v, nw, sizeof(v));
			nv = STAT_FIELDS;
		}
		buf_puts(&lines, "cpu");
		buf_put_u64(&lines, cpu, 0);
		for (int i = 0; i < nv; i++) {
			buf_puts(&lines, " ");
			buf_put_u64(&lines, v[i], 0);
			sum[i] += v[i];
		}
		buf_puts(&lines, "\n");
	}
	buf_puts(out, "cpu ");
	for (int i = 0; i < STAT_FIELDS; i++) {
		buf_puts(out, " ");
		buf_put_u64(out, sum[i], 0);
	}
	buf_puts(out, "\n");
	buf_append(out, lines.data, lines.len);
	buf_append(out, rest.data, rest.len);
	buf_free(&lines);
	buf_free(&rest);
	buf_free(&host);
	if (have_use)
		usage_free(&use);
	return 0;
}
