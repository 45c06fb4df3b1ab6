/* The recovery tier, decided in one place: design.md sections 3-5. */
#include "reinit/tier.h"

#include "reinit/proto.h"
#include "reinit/reinit.h"

const char *tier_name(enum tier t)
{
	static const char *const names[TIER_N] = { [TIER_RESUME] = "resume", [TIER_REINIT] = "reinit",
						   [TIER_REBIND] = "rebind" };
	return t < TIER_N ? names[t] : "?";
}

/* Resuming is impossible: reset the connection where the kernel can.  Elsewhere only a state
 * that a repair could not make usable (twice in a row) or readers waiting on requests nobody
 * holds any more give the connection up; anything else is worth another resume (the keeper
 * repairs the header first). */
static enum tier cannot_resume(const struct tier_facts *f, bool give_up)
{
	if (f->reinit_mask & FUSE_REINIT_HAS_REINIT)
		return TIER_REINIT;
	return give_up ? TIER_REBIND : TIER_RESUME;
}

enum tier tier_decide(const struct tier_facts *f)
{
	if (f->reinit_requested || f->probe_refused) /* an upgrade: resuming is not on offer */
		return cannot_resume(f, true);
	switch (f->exit_code) {
	case WORKER_EXIT_UNRESUMABLE:
		return cannot_resume(f, f->unresumable >= 2);
	case WORKER_EXIT_LOST:
		return cannot_resume(f, true);
	case WORKER_EXIT_CANNOT:
		return cannot_resume(f, false);
	}
	/* It may have reset the connection without answering the new INIT: the state holds no INIT
	 * record to resume from, so the next one resets again. */
	if (f->reinit_unready)
		return TIER_REINIT;
	return TIER_RESUME;
}
