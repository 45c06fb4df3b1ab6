/* What renderers share: host files and the container's cpus. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>

#include "fdcache.h"
#include "fileio.h"
#include "render.h"

int host_proc_read(const struct rctx *c, const char *name, struct buf *out)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", c->host->proc, name);
	return fdcache_read(path, out);
}


int container_cpus(const struct rctx *c, struct cpuset *out)
{
	if (c->cg && cg_cpuset(c->cg, out) == 0 && !cpuset_empty(out))
		return 0;
	char path[4096], text[4096];
	snprintf(path, sizeof(path), "%s/online", c->host->cpu);
	if (fdcache_read_small(path, text, sizeof(text)) < 0)
		return -ENOENT;
	return cpuset_parse(text, out);
}
