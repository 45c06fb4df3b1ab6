/* Blackout of a restart, measured from the reader's side.
 *   blackout read STOPFILE THREADS OUT FILE...  THREADS readers loop over the FILEs (open, read
 *       to EOF, close) until STOPFILE exists; OUT gets "start_us latency_us ok" per read
 *       (CLOCK_REALTIME)
 *   blackout events kill|upgrade|random N GAP_MS STATUSFILE OUT   N events GAP_MS apart: SIGKILL
 *       the worker, or SIGUSR1 the keeper, or (random) SIGKILL, SIGSEGV or SIGABRT to the worker,
 *       one event in four right after the previous one (a back-to-back pair); waits until a new
 *       worker serves; OUT gets "time_us"
 *   blackout analyze READS EVENTS   per event, the longest read that overlapped it (started up
 *       to 100 ms after it, or was in flight at it); prints p50, p99, max of those, and the
 *       failed reads */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

struct sample {
	double start, lat;
	int ok;
};

static const char *stopfile;
static char **files;
static int nfiles;

struct reader {
	pthread_t t;
	struct sample *s;
	size_t n, cap;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	static __thread char buf[65536];
	for (int i = 0; (i & 63) || access(stopfile, F_OK) != 0; i++) {
		const char *f = files[i % nfiles];
		double t0 = now_us();
		int fd = open(f, O_RDONLY | O_CLOEXEC), ok = fd >= 0;
		ssize_t n, total = 0;
		while (ok && (n = read(fd, buf, sizeof(buf))) > 0)
			total += n;
		if (fd >= 0)
			close(fd);
		ok = ok && n == 0 && total > 0;
		if (r->n == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 4096;
			r->s = realloc(r->s, r->cap * sizeof(*r->s));
		}
		r->s[r->n++] = (struct sample){ t0, now_us() - t0, ok };
	}
	return NULL;
}

static int do_read(int argc, char **argv)
{
	stopfile = argv[2];
	int threads = atoi(argv[3]);
	files = argv + 5;
	nfiles = argc - 5;
	struct reader *r = calloc((size_t)threads, sizeof(*r));
	for (int i = 0; i < threads; i++)
		pthread_create(&r[i].t, NULL, reader, &r[i]);
	FILE *out = fopen(argv[4], "w");
	for (int i = 0; i < threads; i++) {
		pthread_join(r[i].t, NULL);
		for (size_t j = 0; j < r[i].n; j++)
			fprintf(out, "%.0f %.0f %d\n", r[i].s[j].start, r[i].s[j].lat, r[i].s[j].ok);
	}
	fclose(out);
	return 0;
}

static long status_num(const char *path, const char *key)
{
	char line[512];
	long v = -1;
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

static int do_events(char **argv)
{
	int upgrade = strcmp(argv[2], "upgrade") == 0, random = strcmp(argv[2], "random") == 0;
	static const int sigs[] = { SIGKILL, SIGSEGV, SIGABRT };
	srand((unsigned)getpid());
	int n = atoi(argv[3]);
	long gap = atol(argv[4]);
	const char *status = argv[5];
	FILE *out = fopen(argv[6], "w");
	for (int i = 0; i < n; i++) {
		long gen = status_num(status, "generation: ");
		long pid = upgrade ? status_num(status, "keeper_pid: ") : status_num(status, "worker_pid: ");
		fprintf(out, "%.0f\n", now_us());
		kill((pid_t)pid, upgrade ? SIGUSR1 : random ? sigs[rand() % 3] : SIGKILL);
		for (int w = 0; w < 5000 && status_num(status, "generation: ") == gen; w++)
			usleep(1000);
		if (!random || rand() % 4)
			usleep((useconds_t)gap * 1000);
	}
	fclose(out);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int do_analyze(char **argv)
{
	FILE *fr = fopen(argv[2], "r"), *fe = fopen(argv[3], "r");
	size_t ns = 0, cap = 1 << 16, ne = 0, failed = 0;
	struct sample *s = malloc(cap * sizeof(*s));
	double e[10000];
	while (fscanf(fr, "%lf %lf %d", &s[ns].start, &s[ns].lat, &s[ns].ok) == 3) {
		failed += !s[ns].ok;
		if (++ns == cap)
			s = realloc(s, (cap *= 2) * sizeof(*s));
	}
	while (ne < 10000 && fscanf(fe, "%lf", &e[ne]) == 1)
		ne++;
	double *worst = calloc(ne ? ne : 1, sizeof(double)), *quiet = calloc(ne ? ne : 1, sizeof(double));
	size_t nq = 0;
	for (size_t i = 0; i < ne; i++) {
		/* the same window halfway to the next event, where nothing happens: the noise floor */
		double q = i + 1 < ne ? (e[i] + e[i + 1]) / 2 : 0;
		for (size_t j = 0; j < ns; j++) {
			double a = s[j].start, b = s[j].start + s[j].lat;
			if (a <= e[i] + 100000 && b >= e[i] && s[j].lat > worst[i])
				worst[i] = s[j].lat;
			if (q && a <= q + 100000 && b >= q && s[j].lat > quiet[nq])
				quiet[nq] = s[j].lat;
		}
		nq += q != 0;
	}
	if (!ne || !nq) {
		printf("no events\n");
		return 1;
	}
	size_t missed = 0;
	for (size_t i = 0; i < ne; i++)
		missed += worst[i] == 0;
	qsort(worst, ne, sizeof(double), cmp);
	qsort(quiet, nq, sizeof(double), cmp);
	printf("%zu events, %zu reads, %zu failed; longest read around an event: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
	       ne, ns, failed, worst[ne / 2] / 1000, worst[(size_t)((double)ne * 0.99)] / 1000, worst[ne - 1] / 1000);
	printf("          same windows between events (no restart): p50 %.2f ms, p99 %.2f ms, max %.2f ms%s\n",
	       quiet[nq / 2] / 1000, quiet[(size_t)((double)nq * 0.99)] / 1000, quiet[nq - 1] / 1000,
	       missed ? "  (some events had no read around them: invalid)" : "");
	return failed || missed ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "read") == 0)
		return do_read(argc, argv);
	if (argc == 7 && strcmp(argv[1], "events") == 0)
		return do_events(argv);
	if (argc == 4 && strcmp(argv[1], "analyze") == 0)
		return do_analyze(argv);
	fprintf(stderr, "usage: see the comment at the top of blackout.c\n");
	return 2;
}
