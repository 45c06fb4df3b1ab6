#include "fs/early.h"

#include <errno.h>
#include <time.h>

#include "fs/serve.h"
#include "lib/clock.h"

/* A READ waits this long for the early render of its open before it renders itself: a render
 * takes microseconds, so only a stuck one (a cgroup read that hangs) waits this out. */
#define WAIT_MS 1000

enum early_state {
	EARLY_RENDERING = 1, /* the OPEN's thread renders */
	EARLY_READY,         /* kept for the open; ready_ns says when */
	EARLY_DROPPED,       /* the READ or RELEASE gave up on it: the renderer frees the entry */
};

static void slot_set(struct early_slot *s, uint64_t fh)
{
	__atomic_store_n(&s->fh, fh, __ATOMIC_RELAXED); /* (read unlocked by a quick look) */
}

/* On a zeroed table (every entry free). */
void early_init(struct early *e)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int i = 0; i < EARLY_SLOTS; i++) {
		struct early_slot *s = &e->slot[i];
		pthread_mutex_init(&s->lock, NULL);
		pthread_cond_init(&s->changed, &ca);
	}
	pthread_condattr_destroy(&ca);
}

/* Handles are serials: consecutive opens take consecutive entries. */
static struct early_slot *slot_of(struct early *e, uint64_t fh)
{
	return &e->slot[(fh & FH_SERIAL_MASK) % EARLY_SLOTS];
}

static void slot_free(struct early_slot *s)
{
	slot_set(s, 0);
	s->reader.req = NULL;
	__atomic_store_n(&s->state, 0, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&s->changed);
}

static bool fresh(const struct early_slot *s, uint64_t now)
{
	return now - s->ready_ns <= (uint64_t)EARLY_FRESH_MS * 1000000u;
}

bool early_claim(struct early *e, struct openfiles *of, uint64_t fh, pid_t pid)
{
	struct early_slot *s = slot_of(e, fh);
	bool mine = false;
	pthread_mutex_lock(&s->lock);
	/* A ready render nobody read while it was fresh will never be served: it is forgotten, as
	 * early_take would, and its entry is free. */
	bool stale = s->fh && s->state == EARLY_READY && !fresh(s, clock_ns(CLOCK_MONOTONIC));
	if (stale)
		openfile_forget(of, s->fh);
	if (s->fh == 0 || stale) {
		slot_set(s, fh);
		s->pid = pid;
		__atomic_store_n(&s->state, EARLY_RENDERING, __ATOMIC_RELEASE);
		mine = true;
	}
	pthread_mutex_unlock(&s->lock);
	return mine;
}

bool early_done(struct early *e, struct openfiles *of, uint64_t fh, const struct buf *content, int r,
		struct early_reader *rd)
{
	struct early_slot *s = slot_of(e, fh);
	bool handed = false;
	pthread_mutex_lock(&s->lock);
	if (s->fh == fh) {
		bool reader = s->reader.req != NULL;
		/* Kept under the entry's lock: a READ that finds the entry ready finds the render. */
		if (r == 0 && (s->state == EARLY_RENDERING || reader))
			openfile_keep(of, fh, content);
		if (reader) {
			*rd = s->reader; /* its READ is here: answered now, and the entry is done */
			handed = true;
			slot_free(s);
		} else if (r == 0 && s->state == EARLY_RENDERING) {
			__atomic_store_n(&s->state, EARLY_READY, __ATOMIC_RELEASE);
			s->ready_ns = clock_ns(CLOCK_MONOTONIC);
			pthread_cond_broadcast(&s->changed);
		} else {
			slot_free(s);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return handed;
}

enum early_verdict early_take(struct early *e, struct openfiles *of, uint64_t fh, pid_t pid, off_t off,
			      fuse_req_t req, size_t size)
{
	struct early_slot *s = slot_of(e, fh);
	if (__atomic_load_n(&s->fh, __ATOMIC_RELAXED) != fh)
		return EARLY_NONE; /* (the usual case past offset 0: taken by the first READ) */
	enum early_verdict v = EARLY_NONE;
	pthread_mutex_lock(&s->lock);
	if (s->fh == fh && s->state == EARLY_RENDERING && s->pid == pid) {
		struct state_slot *slot;
		if (off == 0 && !s->reader.req && (slot = serve_hand_over()) != NULL) {
			/* The rendering thread answers it when done: this thread reads on, and the
			 * journal still holds the READ (in slot) should the worker die first. */
			s->reader = (struct early_reader){ .req = req, .size = size, .slot = slot };
			pthread_mutex_unlock(&s->lock);
			return EARLY_HANDED;
		}
		uint64_t until = clock_ns(CLOCK_MONOTONIC) + (uint64_t)WAIT_MS * 1000000u;
		struct timespec ts = { .tv_sec = (time_t)(until / 1000000000u), .tv_nsec = (long)(until % 1000000000u) };
		while (s->fh == fh && s->state == EARLY_RENDERING &&
		       pthread_cond_timedwait(&s->changed, &s->lock, &ts) != ETIMEDOUT)
			;
	}
	if (s->fh == fh) {
		switch (s->state) {
		case EARLY_RENDERING: /* another caller's, or stuck: ours renders */
			__atomic_store_n(&s->state, EARLY_DROPPED, __ATOMIC_RELEASE);
			break;
		case EARLY_READY:
			v = s->pid == pid && fresh(s, clock_ns(CLOCK_MONOTONIC)) ? EARLY_SERVE : EARLY_NONE;
			if (v == EARLY_NONE)
				openfile_forget(of, fh);
			slot_free(s);
			break;
		default:
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return v;
}

void early_release(struct early *e, uint64_t fh)
{
	struct early_slot *s = slot_of(e, fh);
	if (__atomic_load_n(&s->fh, __ATOMIC_RELAXED) != fh)
		return;
	pthread_mutex_lock(&s->lock);
	if (s->fh == fh) {
		if (s->state == EARLY_RENDERING)
			__atomic_store_n(&s->state, EARLY_DROPPED, __ATOMIC_RELEASE);
		else if (s->state == EARLY_READY)
			slot_free(s);
	}
	pthread_mutex_unlock(&s->lock);
}
