/* Read benchmark: open+read+close of files in a loop.
 *   readbench lat N FILE...         N rounds over the files; prints "FILE p50_us p99_us max_us" per file
 *   readbench cat N FILE...         as lat, each read as cat(1) does it: open, fstat, fadvise,
 *                                   128 KiB reads to EOF, close (the fstat is a GETATTR on FUSE
 *                                   when the cached attributes are stale)
 *   readbench held N FILE...        as lat, each read one pread at offset 0 of an fd held open,
 *                                   as our renders read the kernel's files (bench/kernread)
 *   readbench tput SECONDS P FILE   P processes read FILE for SECONDS; prints "reads_per_s errors"
 *   readbench life N W FILE...      N reads over the files in turn, every fifth one in 512-byte
 *                                   READs; prints "p50_first_us p50_last_us errors", the p50s of
 *                                   the first and the last W reads
 * Reads until EOF with a 64 KiB buffer, as cat does.  A failed read counts as an error, never as
 * a fast sample. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Reads path to its end in pieces of size bytes (as cat does with 64 KiB; small pieces make the
 * daemon serve later offsets from what it rendered at 0). */
static int cat_like;

static int read_in(const char *path, size_t size)
{
	static char buf[131072];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (cat_like) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			close(fd);
			return -1;
		}
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		size = sizeof(buf);
	}
	ssize_t n, total = 0;
	while ((n = read(fd, buf, size < sizeof(buf) ? size : sizeof(buf))) > 0)
		total += n;
	close(fd);
	return n < 0 || total == 0 ? -1 : 0;
}

static int read_once(const char *path)
{
	return read_in(path, 65536);
}

/* held: the fds of lat's files, held open; a read is one pread from offset 0 */
static int *held;

static int read_held(int fd)
{
	static char buf[1 << 20];
	return pread(fd, buf, sizeof(buf), 0) > 0 ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int lat(int n, int nfiles, char **files)
{
	double *s = calloc((size_t)n * (size_t)nfiles, sizeof(double));
	int errors = 0;
	for (int f = 0; held && f < nfiles; f++)
		held[f] = open(files[f], O_RDONLY | O_CLOEXEC);
	for (int i = 0; i < n; i++) {
		for (int f = 0; f < nfiles; f++) {
			double t0 = now_us();
			if ((held ? read_held(held[f]) : read_once(files[f])) < 0)
				errors++;
			s[(size_t)f * (size_t)n + (size_t)i] = now_us() - t0;
		}
	}
	for (int f = 0; f < nfiles; f++) {
		double *v = s + (size_t)f * (size_t)n;
		qsort(v, (size_t)n, sizeof(double), cmp);
		printf("%s %.1f %.1f %.1f\n", files[f], v[n / 2], v[(size_t)((double)n * 0.99)], v[n - 1]);
	}
	free(s);
	if (errors)
		fprintf(stderr, "readbench: %d failed reads\n", errors);
	return errors ? 1 : 0;
}

static int tput(double secs, int procs, const char *file)
{
	long *counts = mmap(NULL, sizeof(long) * 2 * (size_t)procs, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double t0 = now_us();
	for (int p = 0; p < procs; p++) {
		if (fork() == 0) {
			long ok = 0, bad = 0;
			while (now_us() - t0 < secs * 1e6) {
				if (read_once(file) == 0)
					ok++;
				else
					bad++;
			}
			counts[2 * p] = ok;
			counts[2 * p + 1] = bad;
			_exit(0);
		}
	}
	while (wait(NULL) > 0)
		;
	double el = (now_us() - t0) / 1e6;
	long ok = 0, bad = 0;
	for (int p = 0; p < procs; p++) {
		ok += counts[2 * p];
		bad += counts[2 * p + 1];
	}
	printf("%.0f %ld\n", (double)ok / el, bad);
	return bad ? 1 : 0;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp);
	return v[n / 2];
}

static int life(long n, int w, int nfiles, char **files)
{
	if (w < 1 || n < 2L * w)
		return fprintf(stderr, "readbench life: N must be at least twice W\n"), 2;
	double *first = calloc((size_t)w, sizeof(double)), *last = calloc((size_t)w, sizeof(double));
	long errors = 0;
	for (long i = 0; i < n; i++) {
		const char *f = files[i % nfiles];
		double t0 = now_us();
		if (read_in(f, i % 5 == 4 ? 512 : 65536) < 0)
			errors++;
		double t = now_us() - t0;
		if (i < w)
			first[i] = t;
		else if (i >= n - w)
			last[i - (n - w)] = t;
	}
	printf("%.1f %.1f %ld\n", median(first, w), median(last, w), errors);
	free(first);
	free(last);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "life") == 0)
		return life(atol(argv[2]), atoi(argv[3]), argc - 4, argv + 4);
	if (argc >= 4 && strcmp(argv[1], "lat") == 0)
		return lat(atoi(argv[2]), argc - 3, argv + 3);
	if (argc >= 4 && strcmp(argv[1], "cat") == 0) {
		cat_like = 1;
		return lat(atoi(argv[2]), argc - 3, argv + 3);
	}
	if (argc >= 4 && strcmp(argv[1], "held") == 0) {
		held = calloc((size_t)argc, sizeof(int));
		return lat(atoi(argv[2]), argc - 3, argv + 3);
	}
	if (argc == 5 && strcmp(argv[1], "tput") == 0)
		return tput(atof(argv[2]), atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: readbench lat|cat|held N FILE... | readbench tput SECONDS PROCS FILE | readbench life N W FILE...\n");
	return 2;
}
