#include "cgroup/loadavg.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "reinit/history.h"
#include "cgroup/taskcount.h"

/* The kernel's constants: exp(-5 s / 1, 5, 15 min) in fixed point. */
static const unsigned EXP[3] = { 1884, 2014, 2037 };

#define KEY_FREE 0
#define KEY_GONE 1                                 /* a dropped entry: probing goes on past it */
#define IDLE_DROP_MS (30ull * 60 * 1000)           /* unread for this long: no longer tracked */
#define MAX_CATCHUP (15u * 60 * 1000 / LOAD_TICK_MS) /* ticks replayed after a gap, at most */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct history h;
	struct history_entry *e; /* the history's table, or a private one */
	bool private_table;
	char procdir[PATH_MAX];
	/* indexes of the tracked entries: the engine visits these, never the whole table (whose
	 * every entry is a cache miss, and mostly empty) */
	unsigned active[HISTORY_ENTRIES];
	unsigned nactive;
	pthread_t thread;
	bool running, stop;
} L = { .lock = PTHREAD_MUTEX_INITIALIZER };

uint64_t loadavg_decay(uint64_t load, unsigned exp, uint64_t active, unsigned n)
{
	/* as the kernel's calc_load(): rounded up while rising, so a steady count is reached */
	for (unsigned i = 0; i < n; i++) {
		uint64_t next = load * exp + active * (LOAD_FIXED_1 - exp);
		if (active >= load)
			next += LOAD_FIXED_1 - 1;
		load = next / LOAD_FIXED_1;
	}
	return load;
}

static uint64_t key_of(const char *dir)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h > KEY_GONE ? h : h + 2;
}

static void track(struct history_entry *e)
{
	unsigned idx = (unsigned)(e - L.e);
	for (unsigned i = 0; i < L.nactive; i++)
		if (L.active[i] == idx)
			return;
	if (L.nactive < HISTORY_ENTRIES)
		L.active[L.nactive++] = idx;
}

static void untrack(struct history_entry *e)
{
	unsigned idx = (unsigned)(e - L.e);
	e->key = KEY_GONE;
	for (unsigned i = 0; i < L.nactive; i++)
		if (L.active[i] == idx) {
			L.active[i] = L.active[--L.nactive];
			return;
		}
}

static struct history_entry *find(uint64_t key, const char *dir, struct history_entry **slot)
{
	*slot = NULL;
	for (unsigned j = 0; j < HISTORY_ENTRIES; j++) {
		struct history_entry *e = &L.e[(key + j) % HISTORY_ENTRIES];
		if (e->key == key && strcmp(e->dir, dir) == 0)
			return e;
		if (e->key <= KEY_GONE && !*slot)
			*slot = e;
		if (e->key == KEY_FREE)
			break;
	}
	return NULL;
}

static void store(struct history_entry *e, const struct task_count *c)
{
	e->running = c->running;
	e->total = c->total;
	e->last_pid = c->newest;
}

int loadavg_get(const char *dir, bool v2, struct loadavg_val *out)
{
	if (!L.e)
		return -ENODEV;
	if (strlen(dir) >= HISTORY_DIR)
		return -ENAMETOOLONG;
	uint64_t key = key_of(dir), now = boot_ms();
	struct history_entry *slot;
	pthread_mutex_lock(&L.lock);
	struct history_entry *e = find(key, dir, &slot);
	if (e) {
		e->read_ms = now;
		*out = (struct loadavg_val){ { e->avg[0], e->avg[1], e->avg[2] }, e->running, e->total, e->last_pid };
		pthread_mutex_unlock(&L.lock);
		return 0;
	}
	pthread_mutex_unlock(&L.lock);

	/* First read: sample now (this container's threads only), start the averages there. */
	struct task_count c;
	int r = taskcount_scan(L.procdir, dir, v2, false, &c);
	if (r < 0)
		return r;
	pthread_mutex_lock(&L.lock);
	e = find(key, dir, &slot);
	if (!e) {
		if (!slot) {
			/* full: the entry read least recently makes room */
			slot = &L.e[0];
			for (unsigned j = 1; j < HISTORY_ENTRIES; j++)
				if (L.e[j].read_ms < slot->read_ms)
					slot = &L.e[j];
			untrack(slot);
		}
		e = slot;
		memset(e, 0, sizeof(*e));
		snprintf(e->dir, sizeof(e->dir), "%s", dir);
		e->v2 = v2;
		for (int i = 0; i < 3; i++)
			e->avg[i] = (uint64_t)c.active << LOAD_FSHIFT;
		e->sample_ms = now;
		store(e, &c);
		e->key = key;
		track(e);
	}
	e->read_ms = now;
	*out = (struct loadavg_val){ { e->avg[0], e->avg[1], e->avg[2] }, e->running, e->total, e->last_pid };
	pthread_mutex_unlock(&L.lock);
	return 0;
}

/* Counts the entries in req: in one kernel pass when it is loaded, else by scanning each. */
static void count_entries(struct taskcount_req *req, unsigned n)
{
	if (n && taskcount_bpf_ready()) {
		int r = taskcount_bpf_pass(req, n);
		if (r < 0) {
			log_warn("load averages: the kernel pass failed (%s); scanning /proc from now on",
				 strerror(-r));
			taskcount_bpf_fini();
		}
	}
	/* the scan keeps each thread's stat file open for the next pass only when it is the
	 * counter; an entry the kernel pass could not count is a one-off */
	bool scanning = !taskcount_bpf_ready();
	for (unsigned i = 0; i < n; i++)
		if (scanning || (req[i].err < 0 && req[i].err != -ENOENT))
			req[i].err = taskcount_scan(L.procdir, req[i].dir, req[i].v2, scanning, &req[i].count);
}

void loadavg_tick(uint64_t now_ms)
{
	/* the engine's thread only; a request's slot is its entry's index, its tag the entry's key */
	static char dirs[HISTORY_ENTRIES][HISTORY_DIR];
	static struct taskcount_req req[HISTORY_ENTRIES];
	static uint64_t last_pass;
	/* A kernel pass costs one walk of the host's tasks however many entries it counts: every
	 * entry goes into one pass each 5 s (an entry not yet due only gets fresh counts).  A scan
	 * costs per entry: each is scanned when due. */
	bool kernel = taskcount_bpf_ready();
	if (kernel && now_ms + 200 < last_pass + LOAD_TICK_MS)
		return; /* (a wake-up a little early still counts) */
	unsigned n = 0;
	pthread_mutex_lock(&L.lock);
	for (unsigned t = 0; t < L.nactive; t++) {
		struct history_entry *e = &L.e[L.active[t]];
		if (now_ms > e->read_ms + IDLE_DROP_MS) {
			untrack(e); /* nobody reads it any more; the last index moved here */
			t--;
			continue;
		}
		if (!kernel && now_ms < e->sample_ms + LOAD_TICK_MS)
			continue;
		size_t len = strnlen(e->dir, HISTORY_DIR - 1); /* (not the whole field: 448 bytes) */
		memcpy(dirs[n], e->dir, len);
		dirs[n][len] = '\0';
		req[n] = (struct taskcount_req){ .dir = dirs[n], .v2 = e->v2, .slot = L.active[t], .tag = e->key };
		n++;
	}
	pthread_mutex_unlock(&L.lock);

	if (kernel)
		last_pass = now_ms;
	count_entries(req, n); /* no lock held: readers go on */

	pthread_mutex_lock(&L.lock);
	for (unsigned i = 0; i < n; i++) {
		struct history_entry *e = &L.e[req[i].slot];
		if (e->key != req[i].tag)
			continue; /* evicted and reused meanwhile */
		if (req[i].err == -ENOENT) {
			untrack(e); /* the container is gone */
		} else if (req[i].err == 0) {
			/* every tick since the last sample counts (a gap: a new worker, a slow pass),
			 * each with what is seen now */
			uint64_t ticks = now_ms > e->sample_ms ? (now_ms - e->sample_ms) / LOAD_TICK_MS : 0;
			store(e, &req[i].count);
			if (ticks == 0)
				continue;
			if (ticks > MAX_CATCHUP)
				ticks = MAX_CATCHUP;
			for (int k = 0; k < 3; k++)
				e->avg[k] = loadavg_decay(e->avg[k], EXP[k], (uint64_t)req[i].count.active << LOAD_FSHIFT,
							  (unsigned)ticks);
			e->sample_ms = now_ms - (now_ms - e->sample_ms) % LOAD_TICK_MS;
			if (ticks == MAX_CATCHUP)
				e->sample_ms = now_ms;
		}
	}
	pthread_mutex_unlock(&L.lock);
}

/* Loading the program parses the kernel's BTF and verifies the program (60-90 ms of cpu here
 * for the cgroup iterator, 0.4-0.8 s for the task iterator): done in the engine's thread once
 * the worker serves, not before.  $LXCFS_LOADAVG_COUNTER: "scan" for the /proc scan, "task" for
 * the task iterator where the cgroup iterator would load (to compare them). */
static void choose_counter(void)
{
	const char *want = getenv("LXCFS_LOADAVG_COUNTER"), *what = NULL;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	if (want && strcmp(want, "scan") == 0) {
		log_info("load averages: scanning /proc ($LXCFS_LOADAVG_COUNTER=scan)");
	} else if (taskcount_bpf_init(!(want && strcmp(want, "task") == 0), &what) == 0) {
		log_info("load averages: counting tasks in the kernel (%s, loaded in %.0f ms)", what,
			 mono_since_ms(t0));
	} else {
		log_info("load averages: scanning /proc per thread: %s", what);
	}
}

static void *engine(void *arg)
{
	(void)arg;
	choose_counter();
	pthread_mutex_lock(&L.lock);
	while (!L.stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		/* scanned entries are due on their own 5 s schedules: look every second; the kernel
		 * pass counts them all at once every 5 s */
		ts.tv_sec += taskcount_bpf_ready() ? LOAD_TICK_MS / 1000 : 1;
		pthread_cond_timedwait(&L.wake, &L.lock, &ts);
		if (L.stop)
			break;
		pthread_mutex_unlock(&L.lock);
		loadavg_tick(boot_ms());
		pthread_mutex_lock(&L.lock);
	}
	pthread_mutex_unlock(&L.lock);
	return NULL;
}

/* An inherited entry is used only if it is what a worker writes: a clean absolute path (it is
 * walked for tasks), the key of that path, averages a count of tasks can reach. */
static bool entry_sane(const struct history_entry *e)
{
	if (!memchr(e->dir, '\0', sizeof(e->dir)) || !path_clean_abs(e->dir) || key_of(e->dir) != e->key)
		return false;
	for (int k = 0; k < 3; k++)
		if (e->avg[k] > (UINT64_C(1) << 32) << LOAD_FSHIFT)
			return false;
	return true;
}

int loadavg_init(const char *procdir, int history_fd)
{
	if ((size_t)snprintf(L.procdir, sizeof(L.procdir), "%s", procdir) >= sizeof(L.procdir))
		return -ENAMETOOLONG;
	const char *why = NULL;
	if (history_fd >= 0 && history_attach(&L.h, history_fd, &why) == 0) {
		if (why)
			log_warn("load averages: %s", why);
		L.e = L.h.e;
		L.nactive = 0;
		unsigned bad = 0;
		for (unsigned i = 0; i < HISTORY_ENTRIES; i++) {
			if (L.e[i].key <= KEY_GONE)
				continue;
			if (!entry_sane(&L.e[i])) {
				L.e[i].key = KEY_GONE; /* a tombstone: later entries of its chain stay found */
				bad++;
				continue;
			}
			L.active[L.nactive++] = i; /* what a previous worker tracked */
		}
		if (bad)
			log_warn("load averages: %u history entr%s damaged (a path that is not a cgroup's, a key "
				 "that does not match it, an impossible average): dropped", bad, bad == 1 ? "y" : "ies");
		return 0;
	}
	if (history_fd >= 0)
		log_warn("load averages: cannot use the history (%s); this worker keeps its own",
			 why ? why : strerror(errno));
	L.e = calloc(HISTORY_ENTRIES, sizeof(*L.e));
	L.nactive = 0;
	L.private_table = true;
	return L.e ? 0 : -ENOMEM;
}

int loadavg_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&L.wake, &ca);
	pthread_condattr_destroy(&ca);
	L.stop = false;
	int r = pthread_create(&L.thread, NULL, engine, NULL);
	L.running = r == 0;
	return -r;
}

void loadavg_fini(void)
{
	if (L.running) {
		pthread_mutex_lock(&L.lock);
		L.stop = true;
		pthread_cond_signal(&L.wake);
		pthread_mutex_unlock(&L.lock);
		pthread_join(L.thread, NULL);
		pthread_cond_destroy(&L.wake);
		L.running = false;
	}
	taskcount_bpf_fini();
	if (L.private_table)
		free(L.e);
	else
		history_detach(&L.h);
	L.e = NULL;
	L.private_table = false;
}
