#include "fs/openfile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fault.h"
#include "lib/clock.h"
#include "lib/log.h"

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() do { } while (0)
#endif

#define SHARDS OPENFILE_SHARDS
#define PROBE 32          /* shared entries looked at per handle */
#define SPIN_LIMIT 100000 /* a sequence lock held this long belongs to a dead worker */
/* A render untouched this long belongs to a handle whose RELEASE never reached a live worker
 * (answered by a dead one, or dropped after two deaths), or to a reader that stopped in the
 * middle of a file for that long: it is reclaimed; such a reader's next read renders afresh. */
#define IDLE_S 300
#define SWEEP_EVERY 1024 /* opens between two looks at the clock for a sweep */
/* A sweep walks the whole table (two lseeks per entry in use: 2-3 ms); at 15k opens a second,
 * one every 1024 opens was 4% of the cpu.  Entries wait idle_s before they go, so sweeping
 * every tenth of that keeps their bound and costs nothing per request. */
#define SWEEP_GAP_MS(idle_s) ((idle_s) * 100)

/* Renders too big for a shared entry, or when the shared table is full. */
struct openfile_kept {
	uint64_t fh;
	struct openfile_kept *next;
	uint64_t used; /* as state_snap.used */
	size_t len;
	char *data;
};


static uint64_t now_stamp(void)
{
	return boot_ms() / 1000 + 1; /* 0 means "not stamped" */
}

/* The newest worker says how many renders it keeps in its memory; an older one still draining
 * keeps quiet, or its last word would stand for its successor's. */
static void count_kept(struct openfiles *o, int delta)
{
	pthread_mutex_lock(&o->count_lock);
	__atomic_store_n(&o->kept, (unsigned)((int)o->kept + delta), __ATOMIC_RELAXED);
	if (__atomic_load_n(&o->st->hdr->generation, __ATOMIC_RELAXED) == o->gen)
		__atomic_store_n(&o->st->hdr->kept_renders, o->kept, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&o->count_lock);
}

void openfile_init(struct openfiles *o, struct state *st, uint64_t generation)
{
	*o = (struct openfiles){ 0 };
	o->st = st;
	o->gen = generation;
	o->idle_s = (uint64_t)fault_long("LXCFS_FAULT_SNAP_IDLE", IDLE_S);
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&o->lock[i], NULL);
	pthread_mutex_init(&o->count_lock, NULL);
	uint64_t expect = 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* A fresh state starts from the clock, so even a state lost entirely does not make a
	 * new daemon reissue the handles of an old one. */
	uint64_t seed = ((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u) & FH_SERIAL_MASK;
	__atomic_compare_exchange_n(&st->hdr->fh_serial, &expect, seed, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	/* (no sweep here: the first comes once requests are served, lxcfs_serving) */
}

void openfile_fini(struct openfiles *o)
{
	for (int i = 0; i < SHARDS; i++) {
		for (struct openfile_kept *k = o->head[i], *n; k; k = n) {
			n = k->next;
			free(k->data);
			free(k);
		}
		o->head[i] = NULL;
	}
	o->kept = 0;
}

uint64_t fh_make(struct openfiles *o, enum fh_kind kind)
{
	uint64_t s = __atomic_add_fetch(&o->st->hdr->fh_serial, 1, __ATOMIC_RELAXED) & FH_SERIAL_MASK;
	if (s % SWEEP_EVERY == 0) {
		uint64_t now = boot_ms(), last = __atomic_load_n(&o->swept_ms, __ATOMIC_RELAXED);
		if (now - last >= SWEEP_GAP_MS(o->idle_s) &&
		    __atomic_compare_exchange_n(&o->swept_ms, &last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			openfile_sweep(o);
	}
	return ((uint64_t)kind << 56) | s;
}

enum fh_kind fh_kind(uint64_t fh)
{
	return (enum fh_kind)(fh >> 56);
}

static uint64_t mix(uint64_t fh)
{
	return fh * UINT64_C(0x9e3779b97f4a7c15);
}

/* Sequence lock of a shared entry: odd while written.  A writer that died mid-write leaves it
 * odd; after a long spin the next writer takes it over. */
static void snap_lock(struct state_snap *sn)
{
	for (int i = 0; i < SPIN_LIMIT; i++) {
		uint32_t v = __atomic_load_n(&sn->lock, __ATOMIC_RELAXED);
		if (!(v & 1) && __atomic_compare_exchange_n(&sn->lock, &v, v + 1, false, __ATOMIC_ACQUIRE,
							    __ATOMIC_RELAXED))
			return;
		cpu_relax();
	}
	__atomic_or_fetch(&sn->lock, 1, __ATOMIC_ACQUIRE);
}

static void snap_unlock(struct state_snap *sn)
{
	__atomic_add_fetch(&sn->lock, 1, __ATOMIC_RELEASE);
}

static bool stale(const struct openfiles *o, uint64_t used, uint64_t now);

/* Frees the entry if it still belongs to fh (a sweep and a RELEASE may race for it) and, for a
 * sweep (now != 0), if it is still stale under the lock: a read may have just used it. */
static bool snap_free(const struct openfiles *o, struct state_snap *sn, uint64_t fh, uint64_t now)
{
	bool freed = false;
	snap_lock(sn);
	uint64_t cur = fh;
	if ((!now || stale(o, __atomic_load_n(&sn->used, __ATOMIC_RELAXED), now)) &&
	    __atomic_compare_exchange_n(&sn->fh, &cur, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
		sn->len = 0;
		__atomic_store_n(&sn->used, 0, __ATOMIC_RELAXED);
		freed = true;
	}
	snap_unlock(sn);
	return freed;
}

/* The shared entry of fh, claiming a free one if claim. */
static struct state_snap *snap_find(struct openfiles *o, uint64_t fh, bool claim)
{
	unsigned n = o->st->lay.nsnaps;
	unsigned start = (unsigned)(mix(fh) >> 40) % n;
	for (unsigned i = 0; i < PROBE; i++) {
		struct state_snap *sn = state_snap(o->st, (start + i) % n);
		uint64_t cur = __atomic_load_n(&sn->fh, __ATOMIC_ACQUIRE);
		if (cur == 0 && claim &&
		    __atomic_compare_exchange_n(&sn->fh, &cur, fh, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return sn;
		/* (after a lost claim too: another READ of the same open may have just taken this
		 * entry, and claiming the next would leave one behind at the release) */
		if (cur == fh)
			return sn;
	}
	return NULL;
}

static unsigned shard(uint64_t fh)
{
	return (unsigned)(mix(fh) >> 58);
}

static void kept_free(struct openfile_kept *k)
{
	free(k->data);
	free(k);
}

static void local_forget(struct openfiles *o, uint64_t fh)
{
	/* Every read at offset 0 and every release comes here; renders kept in memory are rare
	 * (too big for an entry, or the entries full), so most never take a shard lock.  A render
	 * of this handle added by another thread right now is not possible: one handle's reads
	 * and its release do not overlap. */
	if (!__atomic_load_n(&o->kept, __ATOMIC_RELAXED))
		return;
	unsigned s = shard(fh);
	bool freed = false;
	pthread_mutex_lock(&o->lock[s]);
	for (struct openfile_kept **p = &o->head[s]; *p; p = &(*p)->next) {
		if ((*p)->fh == fh) {
			struct openfile_kept *k = *p;
			*p = k->next;
			kept_free(k);
			freed = true;
			break;
		}
	}
	pthread_mutex_unlock(&o->lock[s]);
	if (freed)
		count_kept(o, -1);
}

static void local_keep(struct openfiles *o, uint64_t fh, const struct buf *content, uint64_t now)
{
	char *copy = malloc(content->len ? content->len : 1);
	if (!copy) {
		log_warn("out of memory keeping a render: a later read of that open renders afresh");
		return;
	}
	if (content->len)
		memcpy(copy, content->data, content->len);
	unsigned s = shard(fh);
	bool added = false;
	pthread_mutex_lock(&o->lock[s]);
	struct openfile_kept *k = o->head[s];
	while (k && k->fh != fh)
		k = k->next;
	if (!k && (k = calloc(1, sizeof(*k))) != NULL) {
		k->fh = fh;
		k->next = o->head[s];
		o->head[s] = k;
		added = true;
	}
	if (k) {
		free(k->data);
		k->data = copy;
		k->len = content->len;
		k->used = now;
		copy = NULL;
	}
	pthread_mutex_unlock(&o->lock[s]);
	free(copy);
	if (added)
		count_kept(o, 1);
}

void openfile_keep(struct openfiles *o, uint64_t fh, const struct buf *content)
{
	fault_render("keep");
	uint64_t now = now_stamp();
	struct state_snap *sn;
	if (content->len > STATE_SNAP_DATA) {
		if ((sn = snap_find(o, fh, false)) != NULL)
			snap_free(o, sn, fh, 0); /* an earlier, smaller render of the same open */
		local_keep(o, fh, content, now);
		return;
	}
	if ((sn = snap_find(o, fh, true)) == NULL) {
		if (!__atomic_exchange_n(&o->full_logged, 1, __ATOMIC_RELAXED))
			log_warn("the snapshot entries an open file may use are all taken: renders go to the "
				 "worker's memory (lost if it dies) until some are released");
		local_keep(o, fh, content, now);
		return;
	}
	snap_lock(sn);
	if (content->len) /* (an empty render has no data: memcpy from NULL is undefined) */
		memcpy(sn->data, content->data, content->len);
	sn->len = (uint32_t)content->len;
	sn->sum = state_snap_sum(fh, content->len ? content->data : "", sn->len);
	__atomic_store_n(&sn->used, now, __ATOMIC_RELAXED);
	snap_unlock(sn);
	local_forget(o, fh); /* an earlier, larger render of the same open */
}

static void slice_of(const char *data, size_t len, off_t off, size_t size, struct buf *out)
{
	if (off >= 0 && (size_t)off < len) {
		size_t n = len - (size_t)off;
		buf_append(out, data + off, n < size ? n : size);
	}
}

bool openfile_slice(struct openfiles *o, uint64_t fh, off_t off, size_t size, struct buf *out)
{
	uint64_t now = now_stamp();
	struct state_snap *sn = snap_find(o, fh, false);
	if (sn) {
		size_t start = out->len;
		for (int i = 0; i < SPIN_LIMIT; i++) {
			uint32_t v1 = __atomic_load_n(&sn->lock, __ATOMIC_ACQUIRE);
			if (v1 & 1) {
				cpu_relax();
				continue;
			}
			uint32_t len = sn->len;
			if (len > STATE_SNAP_DATA)
				break;
			slice_of((const char *)sn->data, len, off, size, out);
			/* what goes out is checked (a read at the end returns nothing: no sum) */
			bool sound = out->len == start || state_snap_sound(sn, fh, len);
			if (__atomic_load_n(&sn->lock, __ATOMIC_ACQUIRE) == v1 &&
			    __atomic_load_n(&sn->fh, __ATOMIC_ACQUIRE) == fh) {
				if (!sound) {
					if (!__atomic_exchange_n(&o->damage_logged, 1, __ATOMIC_RELAXED))
						log_error("a snapshot entry does not match its checksum (damaged "
							  "state): the file is rendered again");
					break;
				}
				__atomic_store_n(&sn->used, now, __ATOMIC_RELAXED);
				return true;
			}
			out->len = start; /* torn: read again */
		}
		out->len = start;
	}
	unsigned s = shard(fh);
	bool found = false;
	pthread_mutex_lock(&o->lock[s]);
	for (struct openfile_kept *k = o->head[s]; k; k = k->next) {
		if (k->fh == fh) {
			found = true;
			k->used = now;
			slice_of(k->data, k->len, off, size, out);
			break;
		}
	}
	pthread_mutex_unlock(&o->lock[s]);
	return found;
}

void openfile_forget(struct openfiles *o, uint64_t fh)
{
	struct state_snap *sn = snap_find(o, fh, false);
	if (sn)
		snap_free(o, sn, fh, 0);
	local_forget(o, fh);
}

static bool stale(const struct openfiles *o, uint64_t used, uint64_t now)
{
	return now >= used && now - used >= o->idle_s;
}

void openfile_sweep(struct openfiles *o)
{
	uint64_t now = now_stamp();
	unsigned reclaimed = 0;
	/* An entry on a page never written is free; not looking at it keeps an idle daemon from
	 * allocating a page per entry (4 MiB of the state) at its start. */
	struct state_runs runs = STATE_RUNS_INIT;
	for (unsigned i = 0; i < o->st->lay.nsnaps; i++) {
		if (!state_written(o->st, o->st->lay.snaps_off + (uint64_t)i * o->st->lay.snap_size, &runs))
			continue;
		struct state_snap *sn = state_snap(o->st, i);
		uint64_t fh = __atomic_load_n(&sn->fh, __ATOMIC_ACQUIRE);
		if (!fh)
			continue;
		uint64_t used = __atomic_load_n(&sn->used, __ATOMIC_RELAXED);
		if (!used) { /* an older worker's: its age counts from now */
			uint64_t zero = 0;
			__atomic_compare_exchange_n(&sn->used, &zero, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
			used = now;
		}
		if (stale(o, used, now) && snap_free(o, sn, fh, now))
			reclaimed++;
	}
	unsigned freed = 0;
	for (int s = 0; s < SHARDS; s++) {
		pthread_mutex_lock(&o->lock[s]);
		for (struct openfile_kept **p = &o->head[s]; *p;) {
			if (stale(o, (*p)->used, now)) {
				struct openfile_kept *k = *p;
				*p = k->next;
				kept_free(k);
				freed++;
			} else {
				p = &(*p)->next;
			}
		}
		pthread_mutex_unlock(&o->lock[s]);
	}
	count_kept(o, -(int)freed); /* (and publishes the count at a worker's start) */
	if (reclaimed || freed) {
		log_info("reclaimed %u snapshot entries and %u kept renders untouched for %llu s (handles whose "
			 "release never reached a live worker)", reclaimed, freed, (unsigned long long)o->idle_s);
		__atomic_store_n(&o->full_logged, 0, __ATOMIC_RELAXED);
	}
}

void openfile_usage(struct openfiles *o, unsigned *snaps, unsigned *kept)
{
	*snaps = state_snaps_in_use(o->st);
	pthread_mutex_lock(&o->count_lock);
	*kept = o->kept;
	pthread_mutex_unlock(&o->count_lock);
}
