#include "fs/vsize.h"

#include "reinit/state.h"
#include "fs/tree.h"

#define MIN_SIZE 4096

_Static_assert(INO_STATIC_LIMIT <= STATE_VSIZES, "the state keeps a size per static node id");

void vsize_init(struct vsize *v, struct state *st)
{
	uint64_t *seen = v->seen = st->hdr->vsize;
	/* An inherited size beyond any render is forgotten (the next render sets it again): kept,
	 * it would be served as st_size, and above 2^62 it made vsize_get double its way round to
	 * 0 and spin for ever (found by fuzzing the state). */
	for (unsigned i = 0; i < INO_STATIC_LIMIT; i++)
		if (!state_vsize_sound(__atomic_load_n(&seen[i], __ATOMIC_RELAXED)))
			__atomic_store_n(&seen[i], 0, __ATOMIC_RELAXED);
}

void vsize_note(struct vsize *v, uint64_t ino, size_t len)
{
	uint64_t *seen = v->seen;
	if (ino >= INO_STATIC_LIMIT)
		return;
	uint64_t cur = __atomic_load_n(&seen[ino], __ATOMIC_RELAXED);
	while (len > cur && !__atomic_compare_exchange_n(&seen[ino], &cur, (uint64_t)len, false, __ATOMIC_RELAXED,
							  __ATOMIC_RELAXED))
		;
}

uint64_t vsize_get(const struct vsize *v, uint64_t ino)
{
	const uint64_t *seen = v->seen;
	uint64_t cur = ino < INO_STATIC_LIMIT ? __atomic_load_n(&seen[ino], __ATOMIC_RELAXED) : 0;
	uint64_t want = state_vsize_sound(cur) ? 2 * cur : 0; /* (damage written after vsize_init) */
	uint64_t size = MIN_SIZE;
	while (size < want)
		size *= 2;
	return size;
}

static void note(uint64_t ino, const struct buf *b, void *v)
{
	vsize_note(v, ino, b->len);
}

void vsize_prime(struct vsize *v, const struct rctx *host_view)
{
	if (__atomic_load_n(&v->seen[INO_PROC_MEMINFO], __ATOMIC_RELAXED))
		return; /* a predecessor's sizes are in the state already */
	tree_render_each(host_view, note, v);
}
