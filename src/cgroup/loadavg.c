#include "cgroup/loadavg.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/lifeline.h"
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

static void track(struct loadavg *l, struct history_entry *e)
{
	unsigned idx = (unsigned)(e - l->e);
	for (unsigned i = 0; i < l->nactive; i++)
		if (l->active[i] == idx)
			return;
	if (l->nactive < HISTORY_ENTRIES)
		l->active[l->nactive++] = idx;
}

static void untrack(struct loadavg *l, struct history_entry *e)
{
	unsigned idx = (unsigned)(e - l->e);
	e->key = KEY_GONE;
	for (unsigned i = 0; i < l->nactive; i++)
		if (l->active[i] == idx) {
			l->active[i] = l->active[--l->nactive];
			return;
		}
}

static struct history_entry *find(struct loadavg *l, uint64_t key, const char *dir, struct history_entry **slot)
{
	*slot = NULL;
	for (unsigned j = 0; j < HISTORY_ENTRIES; j++) {
		struct history_entry *e = &l->e[(key + j) % HISTORY_ENTRIES];
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

int loadavg_get(struct loadavg *l, const char *dir, bool v2, struct loadavg_val *out)
{
	if (!l->e)
		return -ENODEV;
	if (strlen(dir) >= HISTORY_DIR)
		return -ENAMETOOLONG;
	uint64_t key = key_of(dir), now = boot_ms();
	struct history_entry *slot;
	pthread_mutex_lock(&l->lock);
	struct history_entry *e = find(l, key, dir, &slot);
	if (e) {
		e->read_ms = now;
		*out = (struct loadavg_val){ { e->avg[0], e->avg[1], e->avg[2] }, e->running, e->total, e->last_pid };
		pthread_mutex_unlock(&l->lock);
		return 0;
	}
	pthread_mutex_unlock(&l->lock);

	/* First read: sample now (this container's threads only), start the averages there. */
	struct task_count c;
	int r = taskcount_scan(l->procdir, l->files, dir, v2, false, &c);
	if (r < 0)
		return r;
	pthread_mutex_lock(&l->lock);
	e = find(l, key, dir, &slot);
	if (!e) {
		if (!slot) {
			/* full: the entry read least recently makes room */
			slot = &l->e[0];
			for (unsigned j = 1; j < HISTORY_ENTRIES; j++)
				if (l->e[j].read_ms < slot->read_ms)
					slot = &l->e[j];
			untrack(l, slot);
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
		track(l, e);
	}
	e->read_ms = now;
	*out = (struct loadavg_val){ { e->avg[0], e->avg[1], e->avg[2] }, e->running, e->total, e->last_pid };
	pthread_mutex_unlock(&l->lock);
	return 0;
}

/* Counts the entries in req: in one kernel pass when it is loaded, else by scanning each. */
static void count_entries(struct loadavg *l, struct taskcount_req *req, unsigned n)
{
	if (n && l->bpf) {
		int r = taskcount_bpf_pass(l->bpf, req, n);
		if (r < 0) {
			log_warn("load averages: the kernel pass failed (%s); scanning /proc from now on",
				 strerror(-r));
			taskcount_bpf_fini(l->bpf);
			l->bpf = NULL;
		}
	}
	/* the scan keeps each thread's stat file open for the next pass only when it is the
	 * counter; an entry the kernel pass could not count is a one-off */
	bool scanning = !l->bpf;
	for (unsigned i = 0; i < n; i++)
		if (scanning || (req[i].err < 0 && req[i].err != -ENOENT))
			req[i].err = taskcount_scan(l->procdir, l->files, req[i].dir, req[i].v2, scanning, &req[i].count);
}

void loadavg_tick(struct loadavg *l, uint64_t now_ms)
{
	/* the engine's thread only; a request's slot is its entry's index, its tag the entry's key */
	char (*dirs)[HISTORY_DIR] = l->dirs;
	struct taskcount_req *req = l->req;
	/* A kernel pass costs one walk of the host's tasks however many entries it counts: every
	 * entry goes into one pass each 5 s (an entry not yet due only gets fresh counts).  A scan
	 * costs per entry: each is scanned when due. */
	bool kernel = l->bpf != NULL;
	if (kernel && now_ms + 200 < l->last_pass + LOAD_TICK_MS)
		return; /* (a wake-up a little early still counts) */
	unsigned n = 0;
	pthread_mutex_lock(&l->lock);
	for (unsigned t = 0; t < l->nactive; t++) {
		struct history_entry *e = &l->e[l->active[t]];
		if (now_ms > e->read_ms + IDLE_DROP_MS) {
			untrack(l, e); /* nobody reads it any more; the last index moved here */
			t--;
			continue;
		}
		if (!kernel && now_ms < e->sample_ms + LOAD_TICK_MS)
			continue;
		size_t len = strnlen(e->dir, HISTORY_DIR - 1); /* (not the whole field: 448 bytes) */
		memcpy(dirs[n], e->dir, len);
		dirs[n][len] = '\0';
		req[n] = (struct taskcount_req){ .dir = dirs[n], .v2 = e->v2, .slot = l->active[t], .tag = e->key };
		n++;
	}
	pthread_mutex_unlock(&l->lock);

	if (kernel)
		l->last_pass = now_ms;
	count_entries(l, req, n); /* no lock held: readers go on */

	pthread_mutex_lock(&l->lock);
	for (unsigned i = 0; i < n; i++) {
		struct history_entry *e = &l->e[req[i].slot];
		if (e->key != req[i].tag)
			continue; /* evicted and reused meanwhile */
		if (req[i].err == -ENOENT) {
			untrack(l, e); /* the container is gone */
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
	pthread_mutex_unlock(&l->lock);
}

/* Loading the program parses the kernel's BTF and verifies the program (60-90 ms of cpu here
 * for the cgroup iterator, 0.4-0.8 s for the task iterator): done in the engine's thread once
 * the worker serves, not before.  $LXCFS_LOADAVG_COUNTER: "scan" for the /proc scan, "task" for
 * the task iterator where the cgroup iterator would load (to compare them). */
static void choose_counter(struct loadavg *l)
{
	const char *want = getenv("LXCFS_LOADAVG_COUNTER"), *what = NULL;
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	if (want && strcmp(want, "scan") == 0) {
		log_info("load averages: scanning /proc ($LXCFS_LOADAVG_COUNTER=scan)");
	} else if ((l->bpf = taskcount_bpf_init(!(want && strcmp(want, "task") == 0), &what)) != NULL) {
		log_info("load averages: counting tasks in the kernel (%s, loaded in %.0f ms)", what,
			 mono_since_ms(t0));
	} else {
		log_info("load averages: scanning /proc per thread: %s", what);
	}
}

static void *engine(void *arg)
{
	struct loadavg *l = arg;
	lifeline_hold(); /* it writes the history a successor takes over */
	choose_counter(l);
	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		/* scanned entries are due on their own 5 s schedules: look every second; the kernel
		 * pass counts them all at once every 5 s */
		ts.tv_sec += l->bpf ? LOAD_TICK_MS / 1000 : 1;
		pthread_cond_timedwait(&l->wake, &l->lock, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->lock);
		loadavg_tick(l, boot_ms());
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	lifeline_release();
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

int loadavg_init(struct loadavg *l, const char *procdir, struct fdcache *files, int history_fd)
{
	*l = (struct loadavg){ .files = files, .ready = true };
	pthread_mutex_init(&l->lock, NULL);
	l->dirs = calloc(HISTORY_ENTRIES, sizeof(*l->dirs));
	l->req = calloc(HISTORY_ENTRIES, sizeof(*l->req));
	if (!l->dirs || !l->req)
		return -ENOMEM;
	if ((size_t)snprintf(l->procdir, sizeof(l->procdir), "%s", procdir) >= sizeof(l->procdir))
		return -ENAMETOOLONG;
	const char *why = NULL;
	if (history_fd >= 0 && history_attach(&l->h, history_fd, &why) == 0) {
		if (why)
			log_warn("load averages: %s", why);
		l->e = l->h.e;
		l->nactive = 0;
		unsigned bad = 0;
		for (unsigned i = 0; i < HISTORY_ENTRIES; i++) {
			if (l->e[i].key <= KEY_GONE)
				continue;
			if (!entry_sane(&l->e[i])) {
				l->e[i].key = KEY_GONE; /* a tombstone: later entries of its chain stay found */
				bad++;
				continue;
			}
			l->active[l->nactive++] = i; /* what a previous worker tracked */
		}
		if (bad)
			log_warn("load averages: %u history entr%s damaged (a path that is not a cgroup's, a key "
				 "that does not match it, an impossible average): dropped", bad, bad == 1 ? "y" : "ies");
		return 0;
	}
	if (history_fd >= 0)
		log_warn("load averages: cannot use the history (%s); this worker keeps its own",
			 why ? why : strerror(errno));
	l->e = calloc(HISTORY_ENTRIES, sizeof(*l->e));
	l->nactive = 0;
	l->private_table = true;
	return l->e ? 0 : -ENOMEM;
}

int loadavg_start(struct loadavg *l)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	l->stop = false;
	int r = pthread_create(&l->thread, NULL, engine, l);
	l->running = r == 0;
	return -r;
}

void loadavg_fini(struct loadavg *l)
{
	if (!l->ready)
		return; /* never initialized (no -l) */
	if (l->running) {
		pthread_mutex_lock(&l->lock);
		l->stop = true;
		pthread_cond_signal(&l->wake);
		pthread_mutex_unlock(&l->lock);
		pthread_join(l->thread, NULL);
		pthread_cond_destroy(&l->wake);
		l->running = false;
	}
	taskcount_bpf_fini(l->bpf);
	l->bpf = NULL;
	if (l->private_table)
		free(l->e);
	else
		history_detach(&l->h);
	l->e = NULL;
	l->private_table = false;
	free(l->dirs);
	free(l->req);
	l->dirs = NULL;
	l->req = NULL;
	pthread_mutex_destroy(&l->lock);
	l->ready = false;
}
