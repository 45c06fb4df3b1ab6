/* /proc/uptime, loadavg, diskstats, slabinfo and the pressure files. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/loadavg.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/options.h"
#include "lib/parse.h"
#include "fs/render.h"

static double boottime_now(const struct rctx *c)
{
	if (c->host->boottime)
		return c->host->boottime();
	return (double)clock_ns(CLOCK_BOOTTIME) / 1e9;
}

/* cpu time the container has used, in seconds. */
static int busy_seconds(const struct cgview *cg, double *out)
{
	uint64_t v;
	if (cg->dir[CG_CPUACCT] && !cg->hier[CG_CPUACCT]->v2 &&
	    cg_read_u64(cg, CG_CPUACCT, "cpuacct.usage", false, &v) == 0) {
		*out = (double)v / 1e9;
		return 0;
	}
	struct buf b = BUF_INIT;
	int r = -ENOENT;
	if (cg->dir[CG_CPUACCT] && cg->hier[CG_CPUACCT]->v2 && cg_read(cg, CG_CPUACCT, "cpu.stat", &b) == 0 &&
	    kv_get_u64(b.data, b.len, "usage_usec", &v) == 0) {
		*out = (double)v / 1e6;
		r = 0;
	}
	buf_free(&b);
	return r;
}

int render_uptime(const struct rctx *c, struct buf *out)
{
	if (!c->cg)
		return host_proc_read(c, "uptime", out);
	long hz = sysconf(_SC_CLK_TCK);
	if (!c->init_start || hz <= 0)
		return host_proc_read(c, "uptime", out);
	double up = boottime_now(c) - (double)c->init_start / (double)hz;
	if (up < 0)
		up = 0;
	/* Like the kernel's, idle is summed over the cpus the container has. */
	struct cpuset cpus;
	unsigned n = container_cpus(c, &cpus) == 0 ? cpuset_count(&cpus) : 1;
	double busy = 0, idle = up * (n ? n : 1);
	if (busy_seconds(c->cg, &busy) == 0)
		idle = idle > busy ? idle - busy : 0;
	buf_printf(out, "%.2f %.2f\n", up, idle);
	return 0;
}

/* With -l, the container's own averages (loadavg.c), printed as the kernel prints the host's:
 * "1min 5min 15min running/total newest-pid". */
int render_loadavg(const struct rctx *c, struct buf *out)
{
	if (!c->cg || !c->opt || !c->opt->loadavg)
		return host_proc_read(c, "loadavg", out);
	/* Any hierarchy lists the container's tasks; the cpu one is where they are counted. */
	static const enum cg_ctrl pick[] = { CG_CPU, CG_CPUACCT, CG_MEMORY, CG_CPUSET, CG_BLKIO };
	const char *dir = NULL;
	bool v2 = false;
	for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]) && !dir; i++)
		if (c->cg->dir[pick[i]]) {
			dir = c->cg->dir[pick[i]];
			v2 = c->cg->hier[pick[i]]->v2;
		}
	struct loadavg_val v;
	int r = dir && c->loadavg ? loadavg_get(c->loadavg, dir, v2, &v) : -ENOENT;
	if (r < 0) {
		log_debug("no load average for %s: %s", dir ? dir : "(no cgroup)", strerror(-r));
		return host_proc_read(c, "loadavg", out);
	}
	for (int i = 0; i < 3; i++) {
		uint64_t a = v.avg[i] + LOAD_FIXED_1 / 200; /* rounded to hundredths, as the kernel */
		buf_printf(out, "%" PRIu64 ".%02" PRIu64 " ", a >> LOAD_FSHIFT,
			   ((a & (LOAD_FIXED_1 - 1)) * 100) >> LOAD_FSHIFT);
	}
	buf_printf(out, "%u/%u %u\n", v.running, v.total, v.last_pid);
	return 0;
}

int render_slabinfo(const struct rctx *c, struct buf *out)
{
	/* Per-cgroup slab accounting (v1 memory.kmem.slabinfo) reads empty on recent kernels. */
	size_t start = out->len;
	if (c->cg && c->cg->dir[CG_MEMORY] && !c->cg->hier[CG_MEMORY]->v2 &&
	    cg_read(c->cg, CG_MEMORY, "memory.kmem.slabinfo", out) == 0 && out->len > start)
		return 0;
	out->len = start;
	return host_proc_read(c, "slabinfo", out);
}

static int render_pressure(const struct rctx *c, enum cg_ctrl ctrl, const char *file, const char *host,
			   struct buf *out)
{
	size_t start = out->len;
	if (c->cg && cg_read(c->cg, ctrl, file, out) == 0 && out->len > start)
		return 0;
	out->len = start;
	return host_proc_read(c, host, out);
}

int render_pressure_cpu(const struct rctx *c, struct buf *out)
{
	return render_pressure(c, CG_CPU, "cpu.pressure", "pressure/cpu", out);
}

int render_pressure_io(const struct rctx *c, struct buf *out)
{
	return render_pressure(c, CG_BLKIO, "io.pressure", "pressure/io", out);
}

int render_pressure_memory(const struct rctx *c, struct buf *out)
{
	return render_pressure(c, CG_MEMORY, "memory.pressure", "pressure/memory", out);
}

/* The kernel's 17 diskstats counters of one device. */
enum {
	DS_READS, DS_RMERGED, DS_RSECT, DS_RTICKS, DS_WRITES, DS_WMERGED, DS_WSECT, DS_WTICKS, DS_INFLIGHT,
	DS_IOTICKS, DS_WEIGHTED, DS_DISCARDS, DS_DMERGED, DS_DSECT, DS_DTICKS, DS_FLUSHES, DS_FTICKS, DS_N
};

/* Value of "<dev> <op> N" in a v1 blkio file. */
static uint64_t v1_value(const struct buf *b, const char *dev, const char *op)
{
	char key[96];
	snprintf(key, sizeof(key), "%s %s", dev, op);
	uint64_t v = 0;
	kv_get_u64(b->data, b->len, key, &v);
	return v;
}

/* Value of "key=N" on the "<dev> ..." line of io.stat. */
static uint64_t v2_value(const struct buf *b, const char *dev, const char *key)
{
	size_t pos = 0, ll, dl = strlen(dev), kl = strlen(key);
	const char *line;
	while (next_line(b->data, b->len, &pos, &line, &ll)) {
		if (ll <= dl || memcmp(line, dev, dl) != 0 || line[dl] != ' ')
			continue;
		for (const char *p = line + dl; p + kl + 1 < line + ll; p++) {
			/* a digit must follow: strtoull would skip the newline and read the next line */
			if (p[0] == ' ' && memcmp(p + 1, key, kl) == 0 && p[1 + kl] == '=')
				return p + 2 + kl < line + ll && isdigit((unsigned char)p[2 + kl]) ?
					       strtoull(p + 2 + kl, NULL, 10) : 0;
		}
	}
	return 0;
}

struct blkio_files {
	bool v2, cfq;
	struct buf serviced, bytes, merged, service_time, wait_time; /* v2: serviced holds io.stat */
};

static void blkio_free(struct blkio_files *f)
{
	buf_free(&f->serviced);
	buf_free(&f->bytes);
	buf_free(&f->merged);
	buf_free(&f->service_time);
	buf_free(&f->wait_time);
}

static int blkio_read(const struct cgview *cg, struct blkio_files *f)
{
	memset(f, 0, sizeof(*f));
	if (!cg->dir[CG_BLKIO])
		return -ENOENT;
	f->v2 = cg->hier[CG_BLKIO]->v2;
	if (f->v2)
		return cg_read(cg, CG_BLKIO, "io.stat", &f->serviced);
	/* CFQ-era files carry times and merges; kernels without CFQ have the throttle counters. */
	f->cfq = cg_read(cg, CG_BLKIO, "blkio.io_serviced_recursive", &f->serviced) == 0 &&
		 cg_read(cg, CG_BLKIO, "blkio.io_service_bytes_recursive", &f->bytes) == 0;
	if (f->cfq) {
		cg_read(cg, CG_BLKIO, "blkio.io_merged_recursive", &f->merged);
		cg_read(cg, CG_BLKIO, "blkio.io_service_time_recursive", &f->service_time);
		cg_read(cg, CG_BLKIO, "blkio.io_wait_time_recursive", &f->wait_time);
		return 0;
	}
	buf_reset(&f->serviced);
	buf_reset(&f->bytes);
	if (cg_read(cg, CG_BLKIO, "blkio.throttle.io_serviced_recursive", &f->serviced) < 0 ||
	    cg_read(cg, CG_BLKIO, "blkio.throttle.io_service_bytes_recursive", &f->bytes) < 0)
		return -ENOENT;
	return 0;
}

static void device_stats(const struct blkio_files *f, const char *dev, uint64_t *s)
{
	memset(s, 0, DS_N * sizeof(*s));
	if (f->v2) {
		s[DS_READS] = v2_value(&f->serviced, dev, "rios");
		s[DS_RSECT] = v2_value(&f->serviced, dev, "rbytes") / 512;
		s[DS_WRITES] = v2_value(&f->serviced, dev, "wios");
		s[DS_WSECT] = v2_value(&f->serviced, dev, "wbytes") / 512;
		s[DS_DISCARDS] = v2_value(&f->serviced, dev, "dios");
		s[DS_DSECT] = v2_value(&f->serviced, dev, "dbytes") / 512;
		return;
	}
	s[DS_READS] = v1_value(&f->serviced, dev, "Read");
	s[DS_WRITES] = v1_value(&f->serviced, dev, "Write");
	s[DS_DISCARDS] = v1_value(&f->serviced, dev, "Discard");
	s[DS_RSECT] = v1_value(&f->bytes, dev, "Read") / 512;
	s[DS_WSECT] = v1_value(&f->bytes, dev, "Write") / 512;
	s[DS_DSECT] = v1_value(&f->bytes, dev, "Discard") / 512;
	if (!f->cfq)
		return;
	/* CFQ times are in ns; diskstats wants ms. */
	s[DS_RMERGED] = v1_value(&f->merged, dev, "Read");
	s[DS_WMERGED] = v1_value(&f->merged, dev, "Write");
	s[DS_DMERGED] = v1_value(&f->merged, dev, "Discard");
	s[DS_RTICKS] = (v1_value(&f->service_time, dev, "Read") + v1_value(&f->wait_time, dev, "Read")) / 1000000;
	s[DS_WTICKS] = (v1_value(&f->service_time, dev, "Write") + v1_value(&f->wait_time, dev, "Write")) / 1000000;
	s[DS_DTICKS] =
		(v1_value(&f->service_time, dev, "Discard") + v1_value(&f->wait_time, dev, "Discard")) / 1000000;
	s[DS_IOTICKS] = v1_value(&f->service_time, dev, "Total") / 1000000;
}

int render_diskstats(const struct rctx *c, struct buf *out)
{
	struct blkio_files f;
	if (!c->cg || blkio_read(c->cg, &f) < 0) {
		if (c->cg)
			blkio_free(&f);
		return host_proc_read(c, "diskstats", out);
	}
	struct buf host = BUF_INIT;
	int r = host_proc_read(c, "diskstats", &host);
	size_t pos = 0, ll;
	const char *line;
	while (r == 0 && next_line(host.data, host.len, &pos, &line, &ll)) {
		unsigned maj, min;
		char name[72], dev[32];
		char tmp[256];
		if (ll >= sizeof(tmp))
			continue;
		memcpy(tmp, line, ll);
		tmp[ll] = '\0';
		if (sscanf(tmp, "%u %u %71s", &maj, &min, name) != 3)
			continue;
		snprintf(dev, sizeof(dev), "%u:%u", maj, min);
		uint64_t s[DS_N];
		device_stats(&f, dev, s);
		bool any = false;
		for (int i = 0; i < DS_N; i++)
			any |= s[i] != 0;
		if (!any)
			continue; /* devices the container never used */
		buf_printf(out, "%4u %7u %s", maj, min, name);
		for (int i = 0; i < DS_N; i++)
			buf_printf(out, " %" PRIu64, s[i]);
		buf_puts(out, "\n");
	}
	buf_free(&host);
	blkio_free(&f);
	return r;
}
