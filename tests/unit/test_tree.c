#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "check.h"
#include "cgroup/cputree.h"
#include "fixture.h"
#include "fs/tree.h"

static struct cputree tree; /* the one the test serves from */

static void static_ids(void)
{
	/* These numbers are a contract with every kernel that holds them: never change them. */
	CHECK_INT(tree_child(INO_ROOT, "proc")->ino, 2);
	CHECK_INT(tree_child(INO_PROC, "cpuinfo")->ino, 3);
	CHECK_INT(tree_child(INO_PROC, "meminfo")->ino, 4);
	CHECK_INT(tree_child(INO_PROC, "stat")->ino, 5);
	CHECK_INT(tree_child(INO_PROC, "uptime")->ino, 6);
	CHECK_INT(tree_child(INO_PROC, "swaps")->ino, 7);
	CHECK_INT(tree_child(INO_PROC, "diskstats")->ino, 8);
	CHECK_INT(tree_child(INO_PROC, "loadavg")->ino, 9);
	CHECK_INT(tree_child(INO_PROC, "slabinfo")->ino, 10);
	CHECK_INT(tree_child(INO_PROC_PRESSURE, "memory")->ino, 14);
	CHECK_INT(tree_child(INO_SYS_SYSTEM, "cpu")->ino, 18);
	CHECK_INT(tree_child(INO_SYS_CPU, "online")->ino, 19);
	CHECK_INT(tree_child(INO_SYS_CPU, "present")->ino, 20);
	CHECK_INT(tree_child(INO_SYS_CPU, "possible")->ino, 21);
	CHECK_INT(tree_child(INO_SYS_CPU, "offline")->ino, 22);
	CHECK(tree_child(INO_PROC, "..") == NULL);
	CHECK(tree_child(INO_PROC, "self") == NULL);
	/* every static node's parent is a static directory, every id maps back to its node */
	for (uint64_t i = 1; i < INO_STATIC_LIMIT; i++) {
		const struct node *n = tree_node(i);
		if (!n)
			continue;
		CHECK_INT(n->ino, i);
		const struct node *p = tree_node(n->parent);
		CHECK(p && p->type != NODE_VFILE);
	}
	CHECK(tree_node(0) == NULL);
	CHECK(tree_node(UINT64_MAX) == NULL);
	/* the hash of a path is fixed forever (a kernel may hold it across our upgrades) */
	CHECK_U64(tree_dynamic_ino("cpu0"), tree_dynamic_ino("cpu0"));
	CHECK_U64(tree_dynamic_ino("cpu0/topology/core_id"), UINT64_C(0xaebe37fe3414657c));
	CHECK(tree_dynamic_ino("cpu0") & INO_DYNAMIC_BIT);
	CHECK(tree_dynamic_ino("cpu0") != tree_dynamic_ino("cpu1"));
	CHECK(!tree_name_ok(".") && !tree_name_ok("..") && !tree_name_ok("a/b") && !tree_name_ok(""));
	CHECK(tree_name_ok("cpu0") && tree_name_ok("..."));
	/* a cpu's directory, and the names that only look like one */
	unsigned cpu = 99;
	CHECK(tree_cpu_dir("cpu0", &cpu) && cpu == 0);
	CHECK(tree_cpu_dir("cpu127", &cpu) && cpu == 127);
	CHECK(!tree_cpu_dir("cpufreq", &cpu) && !tree_cpu_dir("cpuidle", &cpu) && !tree_cpu_dir("cpu", &cpu));
	CHECK(!tree_cpu_dir("cpu1a", &cpu) && !tree_cpu_dir("cpu99999999999", &cpu) && !tree_cpu_dir("xcpu1", &cpu));
	CHECK(!tree_cpu_dir("cpu1 ", &cpu) && !tree_cpu_dir("cpu1\n", &cpu));
}

struct seen {
	int n;
	bool cpu0, online, uevent;
};

static bool collect(void *arg, const char *name, uint64_t ino, mode_t type)
{
	struct seen *s = arg;
	s->n++;
	if (strcmp(name, "cpu0") == 0)
		s->cpu0 = type == S_IFDIR && ino == tree_dynamic_ino("cpu0");
	s->uevent |= strcmp(name, "uevent") == 0;
	return true;
}

static void passthrough(void)
{
	CHECK_INT(cputree_init(&tree, fx_cpu), 0);
	uint64_t cpu0, topo, core, link, freq, esc;
	struct stat st;
	CHECK_INT(cputree_lookup(&tree, INO_SYS_CPU, "cpu0", &cpu0, &st), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(cputree_lookup(&tree, cpu0, "topology", &topo, &st), 0);
	CHECK_INT(cputree_lookup(&tree, topo, "core_id", &core, &st), 0);
	CHECK_U64(core, tree_dynamic_ino("cpu0/topology/core_id"));
	struct buf b = BUF_INIT;
	CHECK_INT(cputree_read(&tree, core, 0, 100, &b), 0);
	CHECK_STR(buf_cstr(&b), "0\n");
	buf_reset(&b);
	CHECK_INT(cputree_read(&tree, core, 1, 100, &b), 0); /* offsets are the host file's */
	CHECK_STR(buf_cstr(&b), "\n");
	/* symlinks are shown as symlinks, never followed by us */
	CHECK_INT(cputree_lookup(&tree, cpu0, "cpufreq", &link, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	char target[256];
	CHECK(cputree_readlink(&tree, link, target, sizeof(target)) > 0);
	CHECK_STR(target, "../cpufreq/policy0");
	CHECK(cputree_lookup(&tree, link, "scaling_cur_freq", &freq, &st) < 0);
	CHECK_INT(cputree_lookup(&tree, cpu0, "escape", &esc, &st), 0);
	CHECK(S_ISLNK(st.st_mode));
	buf_reset(&b);
	CHECK(cputree_read(&tree, esc, 0, 100, &b) < 0); /* reading through it would leave the tree */
	CHECK(cputree_lookup(&tree, cpu0, "..", &esc, &st) < 0);
	CHECK(cputree_lookup(&tree, cpu0, "nonexistent", &esc, &st) == -ENOENT);
	CHECK_INT(cputree_path(&tree, UINT64_C(0x8000000000000123), target, sizeof(target)), -ESTALE);
	CHECK_INT(cputree_path(&tree, 5, target, sizeof(target)), -ESTALE);

	struct seen s = { 0 };
	CHECK_INT(cputree_list(&tree, INO_SYS_CPU, collect, &s), 0);
	CHECK(s.cpu0 && s.uevent);
	CHECK(s.n >= 6);

	/* a new process knows none of these ids yet; it relearns them from the host tree */
	cputree_fini(&tree);
	CHECK_INT(cputree_init(&tree, fx_cpu), 0);
	CHECK_INT(cputree_path(&tree, core, target, sizeof(target)), 0);
	CHECK_STR(target, "cpu0/topology/core_id");
	buf_reset(&b);
	CHECK_INT(cputree_read(&tree, core, 0, 100, &b), 0);
	CHECK_STR(buf_cstr(&b), "0\n");
	buf_free(&b);
	cputree_fini(&tree);
}

int main(int argc, char **argv)
{
	fixture_init(argc, argv);
	static_ids();
	passthrough();
	CHECK_DONE();
}
