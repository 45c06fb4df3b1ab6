#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"

static void layout_hybrid(void)
{
	/* This host's layout: every controller on v1, a cgroup2 mount with no controller of ours
	 * (its cgroup.controllers does not exist here, so nothing is taken from it). */
	const char mi[] =
		"30 25 0:26 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
		"31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
		"32 25 0:28 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children\n"
		"33 25 0:29 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
		"34 25 0:30 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw\n"
		"35 25 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
		"36 25 0:32 / /mnt/with\\040space rw - tmpfs tmpfs rw\n";
	struct cg_layout l;
	CHECK_INT(cg_layout_parse(&l, mi, sizeof(mi) - 1), 0);
	CHECK_STR(l.ctrl[CG_MEMORY].mnt, "/sys/fs/cgroup/memory");
	CHECK_STR(l.ctrl[CG_CPU].mnt, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUACCT].mnt, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(l.ctrl[CG_CPUSET].mnt, "/sys/fs/cgroup/cpuset");
	CHECK(!l.ctrl[CG_MEMORY].v2);
	CHECK_STR(l.unified.mnt, "/nonexistent/unified");
	cg_layout_free(&l);
}

static void layout_v2(void)
{
	char mi[8192];
	snprintf(mi, sizeof(mi), "25 1 0:26 / %s/v2 rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", fx_root);
	struct cg_layout l;
	CHECK_INT(cg_layout_parse(&l, mi, strlen(mi)), 0);
	for (int c = 0; c < CG_N; c++) {
		CHECK(l.ctrl[c].mnt != NULL);
		CHECK(l.ctrl[c].v2);
	}
	cg_layout_free(&l);
	/* garbage lines are skipped, not fatal */
	const char junk[] = "garbage\n\n1 2 3\n - - -\n";
	CHECK_INT(cg_layout_parse(&l, junk, sizeof(junk) - 1), 0);
	CHECK(l.ctrl[CG_MEMORY].mnt == NULL);
	cg_layout_free(&l);
}

static void views(void)
{
	struct cg_layout l;
	fixture_layout_v1(&l);
	struct cgview v;
	const char t1[] = "5:memory:/lxc/c1/init.scope\n3:cpuset:/lxc/../etc\n2:cpuacct:/gone (deleted)\n1:cpu:/init.scope\n";
	cgview_from_text(&v, &l, t1, sizeof(t1) - 1);
	char want[4300];
	snprintf(want, sizeof(want), "%s/v1/memory/lxc/c1", fx_root);
	CHECK_STR(v.dir[CG_MEMORY], want); /* init.scope stripped */
	CHECK(v.dir[CG_CPUSET] == NULL);  /* ".." never leaves the hierarchy */
	CHECK(v.dir[CG_CPUACCT] == NULL); /* a deleted cgroup has nothing to read */
	snprintf(want, sizeof(want), "%s/v1/cpu", fx_root);
	CHECK_STR(v.dir[CG_CPU], want);
	CHECK(cgview_is_root(&v, CG_CPU));
	CHECK(v.dir[CG_BLKIO] == NULL); /* no line for it */
	cgview_free(&v);

	/* A mount whose root is a sub-cgroup (cgroup namespace): paths outside it are refused. */
	free(l.ctrl[CG_MEMORY].root);
	l.ctrl[CG_MEMORY].root = strdup("/lxc");
	const char t2[] = "5:memory:/lxc/c1\n";
	cgview_from_text(&v, &l, t2, sizeof(t2) - 1);
	snprintf(want, sizeof(want), "%s/v1/memory/c1", fx_root);
	CHECK_STR(v.dir[CG_MEMORY], want);
	cgview_free(&v);
	const char t3[] = "5:memory:/other/c1\n";
	cgview_from_text(&v, &l, t3, sizeof(t3) - 1);
	CHECK(v.dir[CG_MEMORY] == NULL);
	cgview_free(&v);
	cg_layout_free(&l);
}

static void limits(void)
{
	struct cg_layout l;
	struct cgview v;
	uint64_t x;
	fixture_layout_v1(&l);
	fixture_view(&v, &l, "/lxc/c1");
	CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.limit_in_bytes", &x), 0);
	CHECK_U64(x, 209715200); /* the parent's 200 MiB is below the container's 256 MiB */
	CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.memsw.limit_in_bytes", &x), 0);
	CHECK_U64(x, 314572800);
	CHECK(cg_limit_min(&v, CG_MEMORY, "memory.nonexistent", &x) < 0);
	struct cpuset s;
	CHECK_INT(cg_cpuset(&v, &s), 0);
	CHECK(cpuset_has(&s, 1) && cpuset_has(&s, 3) && cpuset_count(&s) == 2);
	cgview_free(&v);

	fixture_view(&v, &l, "/lxc/c2"); /* garbage in the container's own limit: ancestors decide */
	CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.limit_in_bytes", &x), 0);
	CHECK_U64(x, 209715200);
	CHECK(cg_read_u64(&v, CG_MEMORY, "memory.limit_in_bytes", false, &x) < 0);
	/* no cpuset of its own: the nearest ancestor with one */
	CHECK_INT(cg_cpuset(&v, &s), 0);
	CHECK_INT(cpuset_count(&s), 4);
	cgview_free(&v);
	cg_layout_free(&l);

	fixture_layout_v2(&l);
	fixture_view(&v, &l, "/lxc/c1");
	CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.max", &x), 0);
	CHECK_U64(x, 268435456);
	CHECK_INT(cg_cpuset(&v, &s), 0);
	CHECK(cpuset_has(&s, 2) && cpuset_count(&s) == 1);
	cgview_free(&v);
	fixture_view(&v, &l, "/lxc/c3");
	CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.max", &x), 0);
	CHECK_U64(x, UINT64_MAX); /* "max" all the way up */
	cgview_free(&v);
	cg_layout_free(&l);
}

/* A limit walk stops below the hierarchy's root when the mount shows the root ("/"): nothing can
 * be limited there, so its file is not read (a lower value planted there is ignored).  A mount of
 * a sub-cgroup (inside a cgroup namespace) is a cgroup that may be limited: read. */
static void limit_walk_root(void)
{
	char dir[] = "/tmp/lxcfs-unit-root-XXXXXX", p[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(p, sizeof(p), "%s/c", dir);
	CHECK_INT(mkdir(p, 0700), 0);
	const char *files[][2] = { { "memory.limit_in_bytes", "1000\n" }, { "c/memory.limit_in_bytes", "5000\n" } };
	for (size_t i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i][0]);
		FILE *f = fopen(p, "w");
		CHECK(f != NULL);
		if (f) {
			fputs(files[i][1], f);
			fclose(f);
		}
	}
	const char *roots[] = { "/", "/sub" };
	const uint64_t want[] = { 5000, 1000 };
	for (int i = 0; i < 2; i++) {
		struct cg_layout l = { 0 };
		l.ctrl[CG_MEMORY].mnt = strdup(dir);
		l.ctrl[CG_MEMORY].root = strdup(roots[i]);
		char text[64];
		snprintf(text, sizeof(text), "5:memory:%s/c\n", i ? "/sub" : "");
		struct cgview v;
		cgview_from_text(&v, &l, text, strlen(text));
		uint64_t x = 0;
		CHECK_INT(cg_limit_min(&v, CG_MEMORY, "memory.limit_in_bytes", &x), 0);
		CHECK_U64(x, want[i]);
		cgview_free(&v);
		cg_layout_free(&l);
	}
	for (size_t i = 2; i-- > 0;) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i][0]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/c", dir);
	rmdir(p);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	fixture_init(argc, argv);
	layout_hybrid();
	layout_v2();
	views();
	limits();
	limit_walk_root();
	CHECK_DONE();
}
