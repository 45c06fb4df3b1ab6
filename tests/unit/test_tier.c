/* tier_decide: a table of what the kernel and the state offer, and the tier that follows. */
#include "check.h"
#include "reinit/proto.h"
#include "reinit/reinit.h"
#include "reinit/tier.h"

#define HAS FUSE_REINIT_HAS_REINIT

static const struct {
	struct tier_facts f;
	enum tier want;
	const char *why;
} cases[] = {
	{ { .exit_code = -1 }, TIER_RESUME, "a crash: resume" },
	{ { .reinit_mask = HAS, .exit_code = 0 }, TIER_RESUME, "a clean exit: resume" },
	{ { .exit_code = WORKER_EXIT_UNRESUMABLE, .unresumable = 1 }, TIER_RESUME, "unresumable once, no reinit: repair, retry" },
	{ { .exit_code = WORKER_EXIT_UNRESUMABLE, .unresumable = 2 }, TIER_REBIND, "unresumable twice, no reinit: give up" },
	{ { .reinit_mask = HAS, .exit_code = WORKER_EXIT_UNRESUMABLE, .unresumable = 5 }, TIER_REINIT, "unresumable: reinit" },
	{ { .exit_code = WORKER_EXIT_CANNOT, .unresumable = 0 }, TIER_RESUME, "cannot start, no reinit: retry" },
	{ { .reinit_mask = HAS, .exit_code = WORKER_EXIT_CANNOT }, TIER_REINIT, "cannot start: reinit" },
	{ { .exit_code = WORKER_EXIT_LOST }, TIER_REBIND, "requests lost, no reinit: give up" },
	{ { .reinit_mask = HAS, .exit_code = WORKER_EXIT_LOST }, TIER_REINIT, "requests lost: reinit" },
	{ { .exit_code = -1, .reinit_unready = true }, TIER_REINIT, "died in a reinit before ready: again" },
	{ { .exit_code = WORKER_EXIT_UNRESUMABLE, .unresumable = 2, .reinit_unready = true }, TIER_REBIND,
	  "the exit code first" },
	{ { .exit_code = -1, .reinit_requested = true }, TIER_REBIND, "lxcfs --reinit without the series: refused" },
	{ { .reinit_mask = HAS, .exit_code = -1, .reinit_requested = true }, TIER_REINIT, "lxcfs --reinit" },
	{ { .exit_code = -1, .probe_refused = true }, TIER_REBIND, "upgrade the probe refuses: refused" },
	{ { .reinit_mask = HAS, .exit_code = -1, .probe_refused = true }, TIER_REINIT, "upgrade through reinit" },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum tier t = tier_decide(&cases[i].f);
		if (t != cases[i].want) {
			fprintf(stderr, "case %zu (%s): %s, want %s\n", i, cases[i].why, tier_name(t),
				tier_name(cases[i].want));
			check_failures++;
		}
	}
	CHECK_STR(tier_name(TIER_RESUME), "resume");
	CHECK_STR(tier_name(TIER_REINIT), "reinit");
	CHECK_STR(tier_name(TIER_REBIND), "rebind");
	return check_failures ? 1 : 0;
}
