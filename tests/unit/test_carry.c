/* carry: the deaths a request yet to come inherits — the larger count of two notes for one id,
 * taken once, dropped at its deadline, and a full table that drops new notes, never old ones. */
#include <unistd.h>

#include "check.h"
#include "fs/carry.h"
#include "lib/clock.h"

int main(void)
{
	struct carry c;
	carry_init(&c);
	uint64_t later = mono_ms() + 60000;

	CHECK_INT(carry_take(&c, 7), 0); /* empty: nothing, and no lock taken */

	/* Two notes for one request (a refused answer from the journal, then from a loop): the
	 * larger count stands, whichever came first; one take empties it. */
	carry_put(&c, 7, 2, later);
	carry_put(&c, 7, 1, later);
	carry_put(&c, 9, 1, later);
	CHECK_INT(carry_take(&c, 7), 2);
	CHECK_INT(carry_take(&c, 7), 0);
	CHECK_INT(carry_take(&c, 9), 1);

	/* Past its deadline a note is gone, and it makes no room-taker of itself. */
	carry_put(&c, 11, 2, mono_ms() - 1);
	CHECK_INT(carry_take(&c, 11), 0);
	CHECK_INT(c.n, 0);

	/* Full: the newest note is dropped (its request counts from the journal alone); the others
	 * stay whole. */
	for (uint64_t id = 100; id < 100 + CARRY_MAX; id++)
		carry_put(&c, id, 1, later);
	carry_put(&c, 5000, 2, later);
	CHECK_INT(c.n, CARRY_MAX);
	CHECK_INT(carry_take(&c, 5000), 0);
	CHECK_INT(carry_take(&c, 100), 1);
	CHECK_INT(carry_take(&c, 100 + CARRY_MAX - 1), 1);
	/* ...and a slot freed by a take is used again. */
	carry_put(&c, 5001, 2, later);
	CHECK_INT(carry_take(&c, 5001), 2);

	/* A table full of notes past their deadline takes a new one: they go first. */
	struct carry d;
	carry_init(&d);
	uint64_t soon = mono_ms() + 20;
	for (uint64_t id = 1; id <= CARRY_MAX; id++)
		carry_put(&d, id, 1, soon);
	CHECK_INT(d.n, CARRY_MAX);
	usleep(40000);
	carry_put(&d, 77, 2, later);
	CHECK_INT(d.n, 1);
	CHECK_INT(carry_take(&d, 77), 2);

	return check_failures != 0;
}
