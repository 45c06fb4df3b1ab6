/* Fixture cgroup trees (tests/fixtures/{v1,v2}) and a fixture host (tests/fixtures/host). */
#ifndef LXCFS_FIXTURE_H
#define LXCFS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/cgroup.h"
#include "lib/options.h"
#include "fs/render.h"

static char fx_root[4096];
static char fx_proc[4200], fx_cpu[4200];

static inline double fx_boottime(void)
{
	return 1000.0;
}

static struct hostroot fx_host;

static inline void fixture_init(int argc, char **argv)
{
	snprintf(fx_root, sizeof(fx_root), "%s", argc > 1 ? argv[1] : "tests/fixtures");
	snprintf(fx_proc, sizeof(fx_proc), "%s/host/proc", fx_root);
	snprintf(fx_cpu, sizeof(fx_cpu), "%s/host/cpu", fx_root);
	fx_host = (struct hostroot){ .proc = fx_proc, .cpu = fx_cpu, .boottime = fx_boottime };
}

/* A layout whose v1 controllers live under fixtures/v1/<ctrl>. */
static inline void fixture_layout_v1(struct cg_layout *l)
{
	memset(l, 0, sizeof(*l));
	for (int c = 0; c < CG_N; c++) {
		char p[4300];
		snprintf(p, sizeof(p), "%s/v1/%s", fx_root, cg_ctrl_name(c));
		l->ctrl[c].mnt = strdup(p);
		l->ctrl[c].root = strdup("/");
	}
}

static inline void fixture_layout_v2(struct cg_layout *l)
{
	memset(l, 0, sizeof(*l));
	char p[4300];
	snprintf(p, sizeof(p), "%s/v2", fx_root);
	for (int c = 0; c < CG_N; c++) {
		l->ctrl[c].mnt = strdup(p);
		l->ctrl[c].root = strdup("/");
		l->ctrl[c].v2 = true;
	}
}

static inline void fixture_view(struct cgview *v, const struct cg_layout *l, const char *path)
{
	char text[1024];
	if (l->ctrl[0].v2)
		snprintf(text, sizeof(text), "0::%s\n", path);
	else
		snprintf(text, sizeof(text),
			 "7:blkio:%s\n5:memory:%s\n3:cpuset:%s\n2:cpuacct:%s\n1:cpu:%s\n0::/\n", path, path, path,
			 path, path);
	cgview_from_text(v, l, text, strlen(text));
}

#endif
