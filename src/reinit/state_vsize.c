#include "reinit/state_vsize.h"

#include <stddef.h>

#include "reinit/state.h"
#include "reinit/state_section.h"

static bool vsize_sound(const void *entry, uint64_t unused)
{
	(void)unused;
	return state_vsize_sound(*(const uint64_t *)entry);
}

/* Checked entry by entry by the worker that uses them (fs/vsize.c): a bad size is forgotten,
 * the next render sets it again; nothing in the header depends on them. */
const struct state_section state_sec_vsize = {
	.name = "node sizes",
	.at = offsetof(struct state_hdr, vsize),
	.len = sizeof(((struct state_hdr *)0)->vsize),
	.count = STATE_VSIZES,
	.entry_size = sizeof(uint64_t),
	.entry_sound = vsize_sound,
};
