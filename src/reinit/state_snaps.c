#include "reinit/state_snaps.h"

#include <stddef.h>
#include <string.h>

#include "reinit/state.h"
#include "reinit/state_section.h"

#if LXCFS_STATE_VERSION == 1
STATE_PIN(state_snap, fh, 0, 8);
STATE_PIN(state_snap, len, 8, 4);
STATE_PIN(state_snap, lock, 12, 4);
STATE_PIN(state_snap, used, 16, 8);
STATE_PIN(state_snap, sum, 24, 8);
STATE_PIN(state_snap, pad, 32, 32);
_Static_assert(offsetof(struct state_snap, data) == 64, "state format 1: snapshot entry data moved");
#endif

struct state_snap *state_snap(const struct state *s, unsigned i)
{
	return state_entry(s, &state_sec_snaps, i);
}

unsigned state_snaps_in_use(const struct state *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->lay.nsnaps; i++) {
		uint64_t fh;
		if (state_entry_read(s, &state_sec_snaps, i, offsetof(struct state_snap, fh), &fh, sizeof(fh)) && fh)
			n++;
	}
	return n;
}

bool state_snap_sound(const struct state_snap *sn, uint64_t fh, uint32_t len)
{
	if (len > STATE_SNAP_DATA)
		return false;
	uint64_t sum = sn->sum;
	return !sum || sum == state_snap_sum(fh, sn->data, len);
}

static bool snap_sound(const void *entry, uint64_t unused)
{
	(void)unused;
	const struct state_snap *sn = entry;
	return !sn->fh || state_snap_sound(sn, sn->fh, sn->len);
}

/* Entries of 64 KiB: a render that fits serves any later offset of its open. */
const struct state_section state_sec_snaps = {
	.name = "snapshot entries",
	.count = STATE_SNAPS,
	.entry_size = sizeof(struct state_snap) + STATE_SNAP_DATA,
	.table = true,
	.off = STATE_FIELD(snaps_off),
	.n = STATE_FIELD(nsnaps),
	.size = STATE_FIELD(snap_size),
	.entry_sound = snap_sound,
};

uint64_t state_snap_sum(uint64_t fh, const void *data, uint32_t len)
{
	/* Summed at every keep and checked at every read past offset 0 that returns data, so it
	 * must cost little next to a FUSE round trip (tens of us): four independent lanes of eight
	 * bytes whose multiplications overlap, then the tail; bench/snapsum prints its cost.  Not a cryptographic hash: it catches stray writes, not an
	 * adversary, and only root can write the memfd. */
	const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h[4] = { (fh ^ len) * k, fh + k, (uint64_t)len * k + 1, ~fh };
	const unsigned char *p = data;
	uint32_t i = 0;
	for (; i + 32 <= len; i += 32)
		for (int j = 0; j < 4; j++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * j, 8);
			h[j] = (h[j] ^ w) * k; /* a bijection of the lane for each word: one changed
						 * word always changes the lane, and so the sum */
		}
	uint64_t x = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		x = (x ^ w) * k;
	}
	uint64_t tail = 0;
	memcpy(&tail, p + i, len - i);
	x = (x ^ tail) * k;
	x ^= x >> 32;
	return x ? x : 1;
}
