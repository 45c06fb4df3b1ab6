/* /proc/cpuinfo and sys/devices/system/cpu/online: the host's cpus cut to the container's cpuset. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cgroup/fdcache.h"
#include "lib/parse.h"
#include "fs/render.h"

/* "processor\t: N" (x86, arm): the start of a cpu's block. */
static bool processor_line(const char *l, size_t n, unsigned *cpu)
{
	static const char kw[] = "processor";
	size_t i = sizeof(kw) - 1;
	if (n <= i || memcmp(l, kw, i) != 0)
		return false;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i >= n || l[i++] != ':')
		return false;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i >= n || !isdigit((unsigned char)l[i]))
		return false;
	unsigned long v = 0;
	for (; i < n && isdigit((unsigned char)l[i]); i++) {
		v = v * 10 + (unsigned long)(l[i] - '0');
		if (v >= CPUSET_MAX)
			return false;
	}
	if (i != n)
		return false;
	*cpu = (unsigned)v;
	return true;
}

int render_cpuinfo(const struct rctx *c, struct buf *out)
{
	struct buf host = BUF_INIT;
	/* Generating cpuinfo samples every cpu's clock (9 us here); only "cpu MHz" changes. */
	char path[4096];
	snprintf(path, sizeof(path), "%s/cpuinfo", c->host->proc);
	struct cpuset cpus;
	int r = host_and_cpus(c, fdcache_read_aged(c->files, path, 1000, &host), &host, out, &cpus);
	if (r <= 0)
		return r;
	/* Blocks of cpus outside the set are dropped; the rest are numbered from 0. */
	bool printing = false;
	unsigned next = 0, cpu;
	size_t pos = 0, ll;
	const char *line;
	while (next_line(host.data, host.len, &pos, &line, &ll)) {
		if (processor_line(line, ll, &cpu)) {
			printing = cpuset_has(&cpus, cpu);
			if (printing)
				buf_printf(out, "processor\t: %u\n", next++);
			continue;
		}
		if (printing) {
			buf_append(out, line, ll);
			buf_puts(out, "\n");
		}
	}
	buf_free(&host);
	return 0;
}

/* The host's own file for the host; for a container, its cpus (all of them online). */
static int cpu_list(const struct rctx *c, const char *host_file, struct buf *out)
{
	if (!c->cg && host_file)
		return host_cpu_read(c, host_file, out);
	struct cpuset cpus;
	int r = container_cpus(c, &cpus);
	if (r < 0)
		return r;
	cpuset_format(&cpus, out);
	buf_puts(out, "\n");
	return 0;
}

int render_cpu_online(const struct rctx *c, struct buf *out)
{
	return cpu_list(c, NULL, out);
}

int render_cpu_present(const struct rctx *c, struct buf *out)
{
	return cpu_list(c, "present", out);
}

int render_cpu_possible(const struct rctx *c, struct buf *out)
{
	return cpu_list(c, "possible", out);
}

/* Nothing of a container is offline; the host sees its own file. */
int render_cpu_offline(const struct rctx *c, struct buf *out)
{
	if (!c->cg)
		return host_cpu_read(c, "offline", out);
	buf_puts(out, "\n");
	return 0;
}
