/* What renderers share: host files and the container's cpus. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "cgroup/fdcache.h"
#include "lib/fileio.h"
#include "lib/options.h"
#include "fs/render.h"

int host_proc_read(const struct rctx *c, const char *name, struct buf *out)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", c->host->proc, name);
	return fdcache_read(c->files, path, out);
}


int host_cpu_read(const struct rctx *c, const char *name, struct buf *out)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", c->host->cpu, name);
	return fdcache_read(c->files, path, out);
}

int container_cpus(const struct rctx *c, struct cpuset *out)
{
	if (!c->cg || cg_cpuset(c->cg, out) < 0 || cpuset_empty(out)) {
		/* a stack buffer, not host_cpu_read(): this runs for most renders */
		char path[4096], text[4096];
		snprintf(path, sizeof(path), "%s/online", c->host->cpu);
		if (fdcache_read_small(c->files, path, text, sizeof(text)) < 0)
			return -ENOENT;
		int r = cpuset_parse(text, out);
		if (r < 0)
			return r;
	}
	/* --enable-cfs: a quota of N.x cpus shows the first N+1 cpus of the set, as upstream
	 * counts them */
	unsigned n;
	if (c->cg && c->opt && c->opt->cfs && cg_cpu_quota_cpus(c->cg, &n) == 0 && n < cpuset_count(out))
		cpuset_keep_first(out, n);
	return 0;
}

int host_and_cpus(const struct rctx *c, int r, struct buf *host, struct buf *out, struct cpuset *cpus)
{
	if (r >= 0 && c->cg)
		r = container_cpus(c, cpus);
	else if (r == 0)
		buf_append(out, host->data, host->len);
	if (r >= 0 && c->cg)
		return 1;
	buf_free(host);
	return r;
}
