/* /proc/<pid>/cgroup: a container's cgroup paths mapped under the hierarchies' mounts, for a v1
 * layout, a v2 layout and a v1 layout whose mounts' roots are not "/" (a cgroup namespace).
 * A path must never lead outside its mount. */
#include "cgroup/cgroup.h"
#include "fuzz.h"

static struct cg_layout layouts[3];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char mi[] = "30 1 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
				 "31 1 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
				 "32 1 0:28 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
				 "33 1 0:29 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n";
	static const char mi2[] = "40 1 0:30 / /no/such/unified rw - cgroup2 cgroup2 rw\n";
	static const char mi3[] = "30 1 0:26 /lxc/c1 /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
				  "31 1 0:27 /lxc/c1 /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
				  "32 1 0:28 /lxc/c1 /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n";
	cg_layout_parse(&layouts[0], mi, sizeof(mi) - 1);
	cg_layout_parse(&layouts[1], mi2, sizeof(mi2) - 1);
	cg_layout_parse(&layouts[2], mi3, sizeof(mi3) - 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int i = 0; i < 3; i++) {
		struct cgview v;
		cgview_from_text(&v, &layouts[i], (const char *)data, size);
		for (int c = 0; c < CG_N; c++) {
			if (!v.dir[c])
				continue;
			const char *mnt = v.hier[c]->mnt;
			size_t n = strlen(mnt);
			if (strncmp(v.dir[c], mnt, n) != 0 || (v.dir[c][n] != '/' && v.dir[c][n] != '\0'))
				abort();
			for (const char *s = v.dir[c]; (s = strstr(s, "/..")) != NULL; s += 3)
				if (s[3] == '/' || s[3] == '\0')
					abort();
			cgview_is_root(&v, c);
		}
		cgview_free(&v);
	}
	return 0;
}
