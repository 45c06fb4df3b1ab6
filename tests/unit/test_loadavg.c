/* The load average engine over a made-up /proc and cgroup tree: counting, the kernel's decay,
 * catching up after a gap, garbage, and the history memfd. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cgroup/loadavg.h"
#include "reinit/history.h"

static struct loadavg la; /* the engine under test (its thread not started) */

static char root[256], proc[300], cg[300];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void task(unsigned tid, char state, unsigned nspid)
{
	char p[512], t[256];
	snprintf(p, sizeof(p), "%s/%u", proc, tid);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%u/stat", proc, tid);
	/* a comm with a space and a parenthesis: fields count from the last ')' */
	snprintf(t, sizeof(t), "%u (a) b) %c 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 100\n", tid, state);
	put(p, t);
	snprintf(p, sizeof(p), "%s/%u/status", proc, tid);
	snprintf(t, sizeof(t), "Name:\ta\nPid:\t%u\nNSpid:\t%u\t%u\nState:\t%c\n", tid, tid, nspid, state);
	put(p, t);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned hundredths(uint64_t fixed)
{
	uint64_t a = fixed + LOAD_FIXED_1 / 200;
	return (unsigned)((a >> LOAD_FSHIFT) * 100 + (((a & (LOAD_FIXED_1 - 1)) * 100) >> LOAD_FSHIFT));
}

static void decay(void)
{
	/* the kernel's numbers: 2 tasks gone, two ticks later the 1-minute average is 1.69 */
	uint64_t two = 2 * LOAD_FIXED_1;
	CHECK_INT(hundredths(loadavg_decay(two, 1884, 0, 2)), 169);
	CHECK_INT(hundredths(loadavg_decay(two, 2014, 0, 2)), 193);
	CHECK_INT(hundredths(loadavg_decay(two, 2037, 0, 2)), 198);
	/* a steady count is reached, not approached forever (rounded up while rising) */
	CHECK_U64(loadavg_decay(0, 1884, two, 2000), two);
	CHECK_U64(loadavg_decay(two, 1884, two, 5), two);
	CHECK_U64(loadavg_decay(two, 1884, 0, 0), two);
}

static void engine(int history_fd)
{
	CHECK_INT(loadavg_init(&la, proc, NULL, history_fd), 0);
	/* the container's cgroup: tasks 11 (R), 12 (S), 13 (D) and, in a child cgroup, 14 (R);
	 * 15 is listed but gone; garbage ends the list */
	char p[512];
	snprintf(p, sizeof(p), "%s/tasks", cg);
	put(p, "11\n12\n13\n15\n");
	snprintf(p, sizeof(p), "%s/sub", cg);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/sub/tasks", cg);
	put(p, "14\nnot a pid\n16\n");
	task(11, 'R', 1);
	task(12, 'S', 2);
	task(13, 'D', 3);
	task(14, 'R', 7);

	struct loadavg_val v;
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(v.running, 2);
	CHECK_INT(v.total, 4);
	CHECK_INT(v.last_pid, 7); /* the newest task, as its namespace numbers it */
	CHECK_INT(hundredths(v.avg[0]), 300); /* R + D, from the first sample */

	/* everything sleeps now; a tick 5 s on decays, the history entry goes on */
	task(11, 'S', 1);
	task(13, 'S', 3);
	task(14, 'S', 7);
	uint64_t t = now_ms();
	loadavg_tick(&la, t + LOAD_TICK_MS);
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(hundredths(v.avg[0]), hundredths(loadavg_decay(3 * LOAD_FIXED_1, 1884, 0, 1)));
	CHECK_INT(v.running, 0);
	/* a gap of a minute (a worker that was away): every missed tick is counted */
	loadavg_tick(&la, t + 13 * LOAD_TICK_MS);
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(hundredths(v.avg[0]), hundredths(loadavg_decay(3 * LOAD_FIXED_1, 1884, 0, 13)));

	/* a cgroup that does not exist: an error, nothing tracked */
	snprintf(p, sizeof(p), "%s/nonexistent", root);
	CHECK(loadavg_get(&la, p, false, &v) < 0);
	loadavg_fini(&la);
}

/* The averages live in the history: a new engine (a new worker) continues them. */
static void history(void)
{
	int fd = history_create();
	CHECK(fd >= 0);
	task(11, 'R', 1);
	task(14, 'R', 7);
	CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
	struct loadavg_val v;
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(hundredths(v.avg[0]), 200);
	loadavg_fini(&la);
	task(11, 'S', 1);
	task(14, 'S', 7);
	CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(hundredths(v.avg[0]), 200); /* not restarted from the present count (0) */
	loadavg_fini(&la);

	/* an entry damaged in place: its path changed (the key no longer matches), or an average no
	 * count of tasks reaches; dropped, the average starts again from what is seen (0) */
	for (int kind = 0; kind < 2; kind++) {
		struct history h;
		const char *why;
		CHECK_INT(history_attach(&h, fd, &why), 0);
		struct history_entry *e = NULL;
		for (unsigned i = 0; i < HISTORY_ENTRIES && !e; i++)
			if (h.e[i].key > 1 && strcmp(h.e[i].dir, cg) == 0)
				e = &h.e[i];
		CHECK(e != NULL);
		if (e && kind == 0)
			e->dir[strlen(e->dir) - 1] ^= 1;
		if (e && kind == 1)
			e->avg[0] = UINT64_MAX;
		history_detach(&h);
		CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
		CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
		CHECK_INT(hundredths(v.avg[0]), 0);
		loadavg_fini(&la);
		if (kind == 0) { /* again with the 2.00 average, for the second kind */
			task(11, 'R', 1);
			task(14, 'R', 7);
			CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
			struct history h2;
			CHECK_INT(history_attach(&h2, fd, &why), 0);
			for (unsigned i = 0; i < HISTORY_ENTRIES; i++)
				h2.e[i].key = 0; /* forget it: the next read samples afresh */
			history_detach(&h2);
			loadavg_fini(&la);
			CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
			CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
			CHECK_INT(hundredths(v.avg[0]), 200);
			loadavg_fini(&la);
			task(11, 'S', 1);
			task(14, 'S', 7);
		}
	}

	/* garbage over the header: reset, not trusted */
	CHECK_INT(pwrite(fd, "garbage!", 8, 0), 8);
	CHECK_INT(loadavg_init(&la, proc, NULL, fd), 0);
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	CHECK_INT(hundredths(v.avg[0]), 0);
	loadavg_fini(&la);
	/* a file of another size (not a history at all): a private table serves */
	int other = memfd_create("other", MFD_CLOEXEC);
	CHECK_INT(ftruncate(other, 4096), 0);
	CHECK_INT(loadavg_init(&la, proc, NULL, other), 0);
	CHECK_INT(loadavg_get(&la, cg, false, &v), 0);
	loadavg_fini(&la);
	close(other);
	close(fd);
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/lxcfs-test-loadavg.XXXXXX");
	if (!mkdtemp(root))
		return 2;
	snprintf(proc, sizeof(proc), "%s/proc", root);
	snprintf(cg, sizeof(cg), "%s/cg", root);
	mkdir(proc, 0755);
	mkdir(cg, 0755);
	decay();
	engine(-1);
	history();
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		return 2;
	CHECK_DONE();
}
