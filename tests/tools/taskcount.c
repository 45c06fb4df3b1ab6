/* Counts cgroup trees the ways the load average engine can (the BPF cgroup iterator, the BPF
 * task iterator, the /proc scan) and prints what one of them sees, so that tests/bats/loadavg.bats
 * can hold them against each other on trees the daemon would not pick by itself (the host's
 * cgroup2 hierarchy, beside the v1 controllers it uses).
 *
 *   taskcount cgroup|task|scan DIR...   one line per DIR: "running active total newest",
 *                                       or "error: MESSAGE"
 * Exit 3 when the asked-for kernel counter does not load (the line says what would). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>

#include <linux/magic.h>

#include "cgroup/taskcount.h"

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "cgroup") != 0 && strcmp(argv[1], "task") != 0 && strcmp(argv[1], "scan") != 0)) {
		fprintf(stderr, "usage: taskcount cgroup|task|scan DIR...\n");
		return 2;
	}
	const char *mode = argv[1];
	unsigned n = (unsigned)argc - 2;
	struct taskcount_req req[64];
	if (n > 64) {
		fprintf(stderr, "taskcount: 64 directories at most\n");
		return 2;
	}
	for (unsigned i = 0; i < n; i++) {
		struct statfs sf;
		bool v2 = statfs(argv[i + 2], &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC;
		req[i] = (struct taskcount_req){ .dir = argv[i + 2], .v2 = v2, .slot = i, .tag = i + 1 };
	}
	if (strcmp(mode, "scan") == 0) {
		for (unsigned i = 0; i < n; i++)
			req[i].err = taskcount_scan("/proc", NULL, req[i].dir, req[i].v2, true, &req[i].count);
	} else {
		const char *what = NULL;
		bool by_cgroup = strcmp(mode, "cgroup") == 0;
		struct taskcount_bpf *tb = taskcount_bpf_init(by_cgroup, &what);
		if (!tb || strcmp(what, by_cgroup ? "BPF cgroup iterator" : "BPF task iterator") != 0) {
			printf("not loaded: %s\n", what);
			taskcount_bpf_fini(tb);
			return 3;
		}
		int r = taskcount_bpf_pass(tb, req, n);
		taskcount_bpf_fini(tb);
		if (r < 0) {
			printf("error: the pass failed: %s\n", strerror(-r));
			return 1;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		const struct task_count *c = &req[i].count;
		if (req[i].err < 0)
			printf("error: %s\n", strerror(-req[i].err));
		else
			printf("%u %u %u %u\n", c->running, c->active, c->total, c->newest);
	}
	return 0;
}
