#include "reinit/state_journal.h"

#include <linux/fuse.h>
#include <stddef.h>

#include "reinit/state.h"
#include "reinit/state_section.h"

#define PAGE 4096u

#if LXCFS_STATE_VERSION == 1
STATE_PIN(state_slot, state, 0, 4);
STATE_PIN(state_slot, tries, 4, 4);
STATE_PIN(state_slot, gen, 8, 8);
STATE_PIN(state_slot, key, 16, 8);
STATE_PIN(state_slot, len, 24, 4);
STATE_PIN(state_slot, blame, 28, 4);
STATE_PIN(state_slot, early_fh, 32, 8);
STATE_PIN(state_slot, pad2, 40, 32);
_Static_assert(offsetof(struct state_slot, data) == 72, "state format 1: journal slot data moved");
#endif

struct state_slot *state_slot(const struct state *s, unsigned i)
{
	return state_entry(s, &state_sec_journal, i);
}

void state_slots_count(const struct state *s, const uint64_t live[2], unsigned *in_use, unsigned *dead)
{
	*in_use = *dead = 0;
	for (unsigned i = 0; i < s->lay.nslots; i++) {
		struct state_slot head; /* its control words, without the request */
		if (!state_entry_read(s, &state_sec_journal, i, 0, &head, sizeof(head)) || head.state == SLOT_FREE)
			continue;
		(*in_use)++;
		*dead += head.gen != live[0] && head.gen != live[1];
	}
}

enum state_slot_verdict state_slot_check(const struct state_slot *sl, uint64_t gen)
{
	uint32_t st = __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE);
	uint64_t g = __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE);
	if (st == SLOT_FREE || (st == SLOT_CLAIMED && g < gen))
		return STATE_SLOT_SOUND;
	/* a claim cut short never held a request; anything else may have */
	const struct fuse_in_header *in = (const void *)sl->data;
	return st != SLOT_CLAIMING && in->len != 0 ? STATE_SLOT_DAMAGED_HELD : STATE_SLOT_DAMAGED;
}

const struct fuse_in_header *state_slot_request(const struct state_slot *sl, uint32_t cap)
{
	const struct fuse_in_header *in = (const void *)sl->data;
	uint32_t len = __atomic_load_n(&sl->len, __ATOMIC_ACQUIRE);
	if (!len)
		len = in->len;
	if (len < sizeof(*in) || len > cap || in->len != len || in->unique == 0 || in->opcode == 0 ||
	    in->opcode >= 128)
		return NULL;
	return in;
}

static bool slot_sound(const void *entry, uint64_t gen)
{
	return state_slot_check(entry, gen) == STATE_SLOT_SOUND;
}

/* Slots are page multiples: the kernel writes a request at the start of one, and a slot never
 * shares a page with the next one's control words. */
const struct state_section state_sec_journal = {
	.name = "journal",
	.count = STATE_SLOTS,
	.entry_size = (sizeof(struct state_slot) + STATE_SLOT_DATA + PAGE - 1) / PAGE * PAGE,
	.table = true,
	.off = STATE_FIELD(slots_off),
	.n = STATE_FIELD(nslots),
	.size = STATE_FIELD(slot_size),
	.entry_sound = slot_sound,
};
