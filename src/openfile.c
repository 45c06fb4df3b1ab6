#include "openfile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() do { } while (0)
#endif

#define SHARDS 64
#define PROBE 32         /* shared entries looked at per handle */
#define SPIN_LIMIT 100000 /* a sequence lock held this long belongs to a dead worker */

/* Renders too big for a shared entry, or when the shared table is full. */
struct kept {
	uint64_t fh;
	struct kept *next;
	size_t len;
	char *data;
};

static struct {
	struct state *st;
	pthread_mutex_t lock[SHARDS];
	struct kept *head[SHARDS];
} O;

void openfile_init(struct state *st)
{
	O.st = st;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&O.lock[i], NULL);
	uint64_t expect = 0;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	/* A fresh state starts from the clock, so even a state lost entirely does not make a
	 * new daemon reissue the handles of an old one. */
	uint64_t seed = ((uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u) & FH_SERIAL_MASK;
	__atomic_compare_exchange_n(&st->hdr->fh_serial, &expect, seed, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

void openfile_fini(void)
{
	for (int i = 0; i < SHARDS; i++) {
		for (struct kept *k = O.head[i], *n; k; k = n) {
			n = k->next;
			free(k->data);
			free(k);
		}
		O.head[i] = NULL;
	}
}

uint64_t fh_make(enum fh_kind kind)
{
	uint64_t s = __atomic_add_fetch(&O.st->hdr->fh_serial, 1, __ATOMIC_RELAXED) & FH_SERIAL_MASK;
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

/* The shared entry of fh, claiming a free one if claim. */
static struct state_snap *snap_find(uint64_t fh, bool claim)
{
	unsigned n = O.st->hdr->nsnaps;
	unsigned start = (unsigned)(mix(fh) >> 40) % n;
	for (unsigned i = 0; i < PROBE; i++) {
		struct state_snap *sn = state_snap(O.st, (start + i) % n);
		uint64_t cur = __atomic_load_n(&sn->fh, __ATOMIC_ACQUIRE);
		if (cur == fh)
			return sn;
		if (cur == 0 && claim &&
		    __atomic_compare_exchange_n(&sn->fh, &cur, fh, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			return sn;
	}
	return NULL;
}

static unsigned shard(uint64_t fh)
{
	return (unsigned)(mix(fh) >> 58);
}

static void local_forget(uint64_t fh)
{
	unsigned s = shard(fh);
	pthread_mutex_lock(&O.lock[s]);
	for (struct kept **p = &O.head[s]; *p; p = &(*p)->next) {
		if ((*p)->fh == fh) {
			struct kept *k = *p;
			*p = k->next;
			free(k->data);
			free(k);
			break;
		}
	}
	pthread_mutex_unlock(&O.lock[s]);
}

void openfile_keep(uint64_t fh, struct buf *content)
{
	struct state_snap *sn = content->len <= STATE_SNAP_DATA ? snap_find(fh, true) : NULL;
	if (sn) {
		snap_lock(sn);
		if (content->len) /* (an empty render has no data: memcpy from NULL is undefined) */
			memcpy(sn->data, content->data, content->len);
		sn->len = (uint32_t)content->len;
		snap_unlock(sn);
		local_forget(fh);
		buf_free(content);
		return;
	}
	unsigned s = shard(fh);
	pthread_mutex_lock(&O.lock[s]);
	struct kept *k = O.head[s];
	while (k && k->fh != fh)
		k = k->next;
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			pthread_mutex_unlock(&O.lock[s]);
			buf_free(content);
			return;
		}
		k->fh = fh;
		k->next = O.head[s];
		O.head[s] = k;
	}
	free(k->data);
	k->data = content->data;
	k->len = content->len;
	pthread_mutex_unlock(&O.lock[s]);
	*content = (struct buf)BUF_INIT;
}

static void slice_of(const char *data, size_t len, off_t off, size_t size, struct buf *out)
{
	if (off >= 0 && (size_t)off < len) {
		size_t n = len - (size_t)off;
		buf_append(out, data + off, n < size ? n : size);
	}
}

bool openfile_slice(uint64_t fh, off_t off, size_t size, struct buf *out)
{
	struct state_snap *sn = snap_find(fh, false);
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
			if (__atomic_load_n(&sn->lock, __ATOMIC_ACQUIRE) == v1 &&
			    __atomic_load_n(&sn->fh, __ATOMIC_ACQUIRE) == fh)
				return true;
			out->len = start; /* torn: read again */
		}
		out->len = start;
	}
	unsigned s = shard(fh);
	bool found = false;
	pthread_mutex_lock(&O.lock[s]);
	for (struct kept *k = O.head[s]; k; k = k->next) {
		if (k->fh == fh) {
			found = true;
			slice_of(k->data, k->len, off, size, out);
			break;
		}
	}
	pthread_mutex_unlock(&O.lock[s]);
	return found;
}

void openfile_forget(uint64_t fh)
{
	struct state_snap *sn = snap_find(fh, false);
	if (sn) {
		snap_lock(sn);
		sn->len = 0;
		__atomic_store_n(&sn->fh, 0, __ATOMIC_RELEASE);
		snap_unlock(sn);
	}
	local_forget(fh);
}
