/* Early renders (fs/early.h): served to the opener's first READ only, fresh, waited for while
 * under way; nothing served to another caller, late, or after a RELEASE dropped it. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "fs/early.h"
#include "fs/openfile.h"
#include "reinit/state.h"

static struct openfiles of;
static struct early e;

static bool kept(uint64_t fh, const char *want)
{
	struct buf out = BUF_INIT;
	bool found = openfile_slice(&of, fh, 0, 4096, &out);
	bool same = found && out.len == strlen(want) && memcmp(out.data, want, out.len) == 0;
	buf_free(&out);
	return found && same;
}

static bool anything_kept(uint64_t fh)
{
	struct buf out = BUF_INIT;
	bool found = openfile_slice(&of, fh, 0, 4096, &out);
	buf_free(&out);
	return found;
}

static void render(uint64_t fh, const char *text, int r)
{
	struct buf b = BUF_INIT;
	struct early_reader rd;
	buf_append(&b, text, strlen(text));
	CHECK(!early_done(&e, &of, fh, &b, r, &rd)); /* no READ handed over outside a request loop */
	buf_free(&b);
}

static enum early_verdict take(uint64_t fh, pid_t pid)
{
	return early_take(&e, &of, fh, pid, 0, NULL, 4096);
}

struct waiter {
	uint64_t fh;
	enum early_verdict v;
	int done;
};

static void *wait_take(void *arg)
{
	struct waiter *w = arg;
	w->v = take(w->fh, 100);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(void)
{
	struct state st;
	const char *why;
	CHECK_INT(state_create(&st), 0);
	CHECK_INT(state_attach(&st, st.fd, &why), 0);
	openfile_init(&of, &st, 1);
	early_init(&e);

	/* the opener's READ is served what the open rendered, once */
	uint64_t a = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, a, 100));
	render(a, "a's render", 0);
	CHECK_INT(take(a, 100), EARLY_SERVE);
	CHECK(kept(a, "a's render"));
	CHECK_INT(take(a, 100), EARLY_NONE); /* its next READ at offset 0 renders afresh */

	/* another caller (an fd passed on) is not: and the render is gone for every offset */
	uint64_t b = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, b, 100));
	render(b, "b's render", 0);
	CHECK_INT(take(b, 200), EARLY_NONE);
	CHECK(!anything_kept(b));

	/* a READ later than EARLY_FRESH_MS is not either */
	uint64_t c = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, c, 100));
	render(c, "c's render", 0);
	usleep((EARLY_FRESH_MS + 5) * 1000);
	CHECK_INT(take(c, 100), EARLY_NONE);
	CHECK(!anything_kept(c));

	/* a failed render keeps nothing: the READ renders and answers its error itself */
	uint64_t d = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, d, 100));
	render(d, "", -5);
	CHECK_INT(take(d, 100), EARLY_NONE);
	CHECK(!anything_kept(d));

	/* a RELEASE while the render is under way: it is not kept when it ends (no entry left
	 * behind a released handle), and the table's entry is free again */
	uint64_t f = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, f, 100));
	early_release(&e, f);
	render(f, "f's render", 0);
	CHECK(!anything_kept(f));
	CHECK_INT(state_snaps_in_use(&st), 1); /* a's, still open */
	CHECK(early_claim(&e, &of, f + EARLY_SLOTS, 100));
	render(f + EARLY_SLOTS, "next", 0);
	CHECK_INT(take(f + EARLY_SLOTS, 100), EARLY_SERVE);

	/* two opens on one entry: the second gets no early render while the first is under way;
	 * once the first is stale, the entry is taken over and the stale render forgotten */
	uint64_t g = fh_make(&of, FH_VFILE), h = g + EARLY_SLOTS;
	CHECK(early_claim(&e, &of, g, 100));
	CHECK(!early_claim(&e, &of, h, 100));
	render(g, "g's render", 0);
	CHECK(!early_claim(&e, &of, h, 100)); /* fresh: its READ may still come */
	usleep((EARLY_FRESH_MS + 5) * 1000);
	CHECK(early_claim(&e, &of, h, 100));
	CHECK(!anything_kept(g));
	render(h, "h's render", 0);
	CHECK_INT(take(h, 100), EARLY_SERVE);

	/* the opener's READ that comes while the render is under way waits for it */
	uint64_t w = fh_make(&of, FH_VFILE);
	CHECK(early_claim(&e, &of, w, 100));
	struct waiter wt = { .fh = w };
	pthread_t t;
	CHECK_INT(pthread_create(&t, NULL, wait_take, &wt), 0);
	usleep(20000);
	CHECK_INT(__atomic_load_n(&wt.done, __ATOMIC_ACQUIRE), 0);
	render(w, "w's render", 0);
	pthread_join(t, NULL);
	CHECK_INT(wt.v, EARLY_SERVE);
	CHECK(kept(w, "w's render"));

	for (uint64_t fh = a; fh <= h; fh++)
		openfile_forget(&of, fh);
	CHECK_INT(state_snaps_in_use(&st), 0);
	openfile_fini(&of);
	return check_failures ? 1 : 0;
}
