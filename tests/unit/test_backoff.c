/* backoff_failed: the waits of a standby that keeps failing, and of one that failed once after
 * a long life. */
#include "check.h"
#include "lib/backoff.h"

int main(void)
{
	struct backoff b = BACKOFF_INIT(1000, 60000);
	uint64_t t = 5000; /* a monotonic clock in ms, not zero: 0 means "no failure yet" */

	/* Failures each at the end of the wait before: 1, 2, 4 ... 32 s, then 60 s and no more. */
	static const unsigned want[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		unsigned w = backoff_failed(&b, t);
		CHECK_INT(w, want[i]);
		t += w;
	}

	/* A standby that lived the whole wait plus the most is not part of the run: 1 s again. */
	t += 60000 + 1;
	CHECK_INT(backoff_failed(&b, t), 1000);
	/* ...and the run starts over from there. */
	t += 1000;
	CHECK_INT(backoff_failed(&b, t), 2000);

	/* Just inside the bound still counts as in a row (the last wait was 2 s). */
	t += 2000 + 60000;
	CHECK_INT(backoff_failed(&b, t), 4000);

	/* A failure of the launch itself, right away (no wait spent): in a row. */
	CHECK_INT(backoff_failed(&b, t), 8000);

	/* A most below twice the first: capped at once, never above it. */
	struct backoff s = BACKOFF_INIT(1000, 1500);
	CHECK_INT(backoff_failed(&s, 100), 1000);
	CHECK_INT(backoff_failed(&s, 1100), 1500);
	CHECK_INT(backoff_failed(&s, 2600), 1500);

	/* The first failure ever, at any clock value but 0, is a first. */
	struct backoff f = BACKOFF_INIT(250, 4000);
	CHECK_INT(backoff_failed(&f, 1), 250);
	return check_failures ? 1 : 0;
}
