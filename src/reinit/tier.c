#include "reinit/tier.h"

static const char *const names[TIER_N] = {
	[TIER_RESUME] = "resume",
	[TIER_REINIT] = "reinit",
	[TIER_REBIND] = "rebind",
};

const char *tier_name(enum tier t)
{
	return t >= 0 && t < TIER_N ? names[t] : "?";
}
