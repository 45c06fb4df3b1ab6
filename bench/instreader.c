/* The checking reader of bench/instances, run inside a container (the busybox template binds the
 * host's libraries in): without a fork per read, so that twenty of them leave the cpus to the
 * daemons being measured.
 *   instreader DIR NAME MEMTOTAL_KB PAUSE_MS
 * Until DIR/stop exists: reads /proc/meminfo (its MemTotal must be MEMTOTAL_KB), /proc/uptime and
 * /sys/devices/system/cpu/online, then sleeps PAUSE_MS.  Phases are numbers the host writes to
 * DIR/phase (replaced whole): odd ones are windows (a daemon down).  Each read counts in the
 * phase read before it, or in the one read after it if that is a window (it overlapped it).  At
 * the end DIR/NAME.out gets, per phase seen:
 *   phase P reads N failed F max_us M outage_us O
 * (O: from the start of its first failed read to the end of its last one), and the first 50
 * failures as "fail P_BEFORE P_AFTER WHAT". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PHASES 1024

static struct {
	long reads, failed;
	double max_us, first_fail, last_fail_end;
} ph[PHASES];

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int phase_now(const char *path)
{
	char b[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, b, sizeof(b) - 1);
	close(fd);
	int p = n > 0 ? atoi(b) : 0;
	return p >= 0 && p < PHASES ? p : 0;
}

/* 0, or why the read failed */
static const char *read_check(const char *file, const char *memtotal)
{
	static char buf[65536];
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return strerror(errno);
	ssize_t n, total = 0;
	while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
		total += n;
	int e = errno;
	close(fd);
	if (n < 0)
		return strerror(e);
	if (!total)
		return "empty";
	buf[total] = 0;
	long kb = -1;
	if (memtotal && (sscanf(buf, "MemTotal: %ld kB", &kb) != 1 || kb != atol(memtotal)))
		return "another MemTotal";
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: instreader DIR NAME MEMTOTAL_KB PAUSE_MS\n");
		return 2;
	}
	char stop[4096], phase[4096], out[4096];
	snprintf(stop, sizeof(stop), "%s/stop", argv[1]);
	snprintf(phase, sizeof(phase), "%s/phase", argv[1]);
	snprintf(out, sizeof(out), "%s/%s.out", argv[1], argv[2]);
	const char *files[] = { "/proc/meminfo", "/proc/uptime", "/sys/devices/system/cpu/online" };
	struct timespec pause = { atoi(argv[4]) / 1000, (long)(atoi(argv[4]) % 1000) * 1000000 };
	char (*fails)[160] = calloc(50, 160);
	int nfails = 0;
	while (access(stop, F_OK) != 0) {
		for (int i = 0; i < 3; i++) {
			int p1 = phase_now(phase);
			double t0 = now_us();
			const char *why = read_check(files[i], i == 0 ? argv[3] : NULL);
			double t1 = now_us();
			int p2 = phase_now(phase);
			int p = p2 % 2 ? p2 : p1; /* a read that overlapped a window counts in it */
			ph[p].reads++;
			if (t1 - t0 > ph[p].max_us)
				ph[p].max_us = t1 - t0;
			if (!why)
				continue;
			if (!ph[p].failed++)
				ph[p].first_fail = t0;
			ph[p].last_fail_end = t1;
			if (nfails < 50)
				snprintf(fails[nfails++], 160, "fail %d %d %s: %s", p1, p2, files[i], why);
		}
		nanosleep(&pause, NULL);
	}
	FILE *f = fopen(out, "w");
	if (!f)
		return 1;
	for (int p = 0; p < PHASES; p++)
		if (ph[p].reads || ph[p].failed)
			fprintf(f, "phase %d reads %ld failed %ld max_us %.0f outage_us %.0f\n", p, ph[p].reads,
				ph[p].failed, ph[p].max_us, ph[p].failed ? ph[p].last_fail_end - ph[p].first_fail : 0);
	for (int i = 0; i < nfails; i++)
		fprintf(f, "%s\n", fails[i]);
	return fclose(f) == 0 ? 0 : 1;
}
