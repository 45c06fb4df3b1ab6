/* Kept renders: what later offsets of an open read, where it lives, and that nothing stays
 * behind a released handle or in a state an older worker left. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fs/openfile.h"
#include "reinit/state.h"
#include "version.h"

static struct openfiles of; /* the one the test serves from */

static void fill(struct buf *b, size_t len, char c)
{
	*b = (struct buf)BUF_INIT;
	for (size_t i = 0; i < len; i++)
		buf_append(b, &c, 1);
}

static unsigned snaps_in_use(void)
{
	unsigned s, k;
	openfile_usage(&of, &s, &k);
	return s;
}

static unsigned kept_in_memory(void)
{
	unsigned s, k;
	openfile_usage(&of, &s, &k);
	return k;
}

#if LXCFS_FAULT_HOOKS /* (its only use needs a shorter idle time) */
/* Keeps r for a new handle, makes it look untouched for an hour, then opens 1024 more (one
 * count of opens between looks at the clock): whether the entry is still there. */
static bool opens_sweep(const struct buf *r)
{
	uint64_t fh = fh_make(&of, FH_VFILE);
	openfile_keep(&of, fh, r);
	struct state_snap *sn = NULL;
	for (unsigned i = 0; i < of.st->lay.nsnaps && !sn; i++)
		if (state_snap(of.st, i)->fh == fh)
			sn = state_snap(of.st, i);
	CHECK(sn != NULL);
	if (!sn)
		return false;
	sn->used = 1;
	for (int i = 0; i < 1024; i++)
		fh_make(&of, FH_VFILE);
	bool left = sn->fh == fh;
	openfile_forget(&of, fh);
	return left;
}
#endif

/* Bytes of the memfd that hold pages (shmem counts what it allocated in st_blocks). */
static long long allocated(const struct state *s)
{
	struct stat sb;
	return fstat(s->fd, &sb) == 0 ? (long long)sb.st_blocks * 512 : -1;
}

/* A fresh state: the start's sweep allocates none of the table's pages (it did, 4 MiB, by
 * reading each entry through the mapping); an entry written on a page far from the others is
 * still seen. */
static void sweep_of_a_fresh_state(void)
{
	struct state st;
	const char *why;
	CHECK_INT(state_create(&st), 0);
	CHECK_INT(state_attach(&st, st.fd, &why), 0);
	st.hdr->generation = 1;
	openfile_init(&of, &st, 1);
	openfile_sweep(&of); /* the start's sweep, once serving (lxcfs_serving) */
	CHECK(allocated(&st) >= 0);
	CHECK(allocated(&st) <= (long long)st.lay.hdr_size);
	CHECK_INT(snaps_in_use(), 0);
	openfile_fini(&of);
	state_snap(&st, 700)->fh = ((uint64_t)FH_VFILE << 56) | 99;
	openfile_init(&of, &st, 1);
	openfile_sweep(&of); /* the start's sweep, once serving (lxcfs_serving) */
	CHECK_INT(snaps_in_use(), 1);
	CHECK(state_snap(&st, 700)->used != 0); /* stamped: the sweep looked at it */
	CHECK(allocated(&st) <= (long long)st.lay.hdr_size + 4096);
	openfile_fini(&of);
	state_detach(&st);
	close(st.fd);
}

/* Two threads keep renders of the same open at once (two READs of one file, from threads that
 * share it): one entry for it, and none left after its release.  Both may find the same free
 * entry and race for it; the one that loses must take the winner's, not claim the next. */
static pthread_barrier_t both;
static uint64_t same_fh;
static struct buf same_render;

static void *keep_same(void *unused)
{
	(void)unused;
	pthread_barrier_wait(&both);
	openfile_keep(&of, same_fh, &same_render);
	return NULL;
}

static void keeps_of_one_open_at_once(void)
{
	unsigned before = snaps_in_use(), extra = 0;
	fill(&same_render, 100, 's');
	pthread_barrier_init(&both, NULL, 2);
	for (int i = 0; i < 20000; i++) {
		pthread_t t;
		same_fh = fh_make(&of, FH_VFILE);
		pthread_create(&t, NULL, keep_same, NULL);
		keep_same(NULL);
		pthread_join(t, NULL);
		openfile_forget(&of, same_fh);
		for (unsigned j = 0; j < of.st->lay.nsnaps; j++)
			if (state_snap(of.st, j)->fh == same_fh) {
				extra++;
				state_snap(of.st, j)->fh = 0; /* (so that one loss does not shift later counts) */
			}
	}
	CHECK_INT(extra, 0);
	CHECK_INT(snaps_in_use(), before);
	pthread_barrier_destroy(&both);
	buf_free(&same_render);
}

int main(void)
{
	struct state st;
	const char *why;
	sweep_of_a_fresh_state();
	CHECK_INT(state_create(&st), 0);
	CHECK_INT(state_attach(&st, st.fd, &why), 0);
	st.hdr->generation = 7;
	/* an older worker's leftovers: entries never stamped, one still being read */
	uint64_t left = ((uint64_t)FH_VFILE << 56) | 12345;
	state_snap(&st, 5)->fh = left;
	state_snap(&st, 5)->len = 3;
	memcpy(state_snap(&st, 5)->data, "old", 3);
	openfile_init(&of, &st, 7);
	openfile_sweep(&of); /* the start's sweep, once serving (lxcfs_serving) */
	CHECK_INT(snaps_in_use(), 1);
	CHECK_INT(state_snaps_in_use(&st), 1); /* the start's sweep kept it: it may be open */
	CHECK(state_snap(&st, 5)->used != 0);

	/* a small render goes to the shared table, and later offsets read it */
	uint64_t a = fh_make(&of, FH_VFILE);
	struct buf r, out = BUF_INIT;
	fill(&r, 5000, 'a');
	openfile_keep(&of, a, &r);
	CHECK_INT(snaps_in_use(), 2);
	CHECK_INT(state_snaps_in_use(&st), 2);
	CHECK(openfile_slice(&of, a, 4096, 4096, &out));
	CHECK_INT(out.len, 5000 - 4096);
	out.len = 0;
	CHECK(openfile_slice(&of, a, 5000, 4096, &out)); /* EOF of the same render, not a new one */
	CHECK_INT(out.len, 0);
	/* a stray write into the entry: not served, the caller renders again */
	for (unsigned i = 0; i < STATE_SNAPS; i++) {
		struct state_snap *sn = state_snap(&st, i);
		if (sn->fh == a) {
			sn->data[4500] ^= 1;
			out.len = 0;
			CHECK(!openfile_slice(&of, a, 4096, 4096, &out));
			CHECK(openfile_slice(&of, a, 5000, 4096, &out)); /* nothing to send: nothing to check */
			sn->data[4500] ^= 1;
			CHECK(openfile_slice(&of, a, 4096, 4096, &out));
			CHECK_INT(out.len, 5000 - 4096);
		}
	}
	out.len = 0;

	/* a render too big for an entry lives in memory; a smaller one replaces it there */
	struct buf big;
	fill(&big, STATE_SNAP_DATA + 100, 'b');
	openfile_keep(&of, a, &big);
	CHECK_INT(snaps_in_use(), 1); /* the entry of the smaller render was given back */
	CHECK_INT(kept_in_memory(), 1);
	CHECK_INT(st.hdr->kept_renders, 1);
	out.len = 0;
	CHECK(openfile_slice(&of, a, STATE_SNAP_DATA, 4096, &out));
	CHECK_INT(out.len, 100);
	CHECK(out.len && out.data[0] == 'b');
	openfile_keep(&of, a, &r);
	CHECK_INT(kept_in_memory(), 0);
	CHECK_INT(snaps_in_use(), 2);

	/* the caller's buffer stays the caller's: keep copies */
	CHECK_INT(r.len, 5000);
	CHECK(r.data[4999] == 'a');

	/* a release frees everything of the handle */
	openfile_forget(&of, a);
	CHECK_INT(snaps_in_use(), 1);
	CHECK_INT(state_snaps_in_use(&st), 1);
	out.len = 0;
	CHECK(!openfile_slice(&of, a, 4096, 4096, &out));

	keeps_of_one_open_at_once();

	/* an older worker's generation does not speak for the newest one */
	st.hdr->generation = 8;
	uint64_t b = fh_make(&of, FH_VFILE);
	openfile_keep(&of, b, &big);
	CHECK_INT(kept_in_memory(), 1);
	CHECK_INT(st.hdr->kept_renders, 0);
	openfile_forget(&of, b);
	CHECK_INT(kept_in_memory(), 0);

#if LXCFS_FAULT_HOOKS
	/* what nobody touched for the idle time is reclaimed, shared or in memory */
	openfile_fini(&of);
	setenv("LXCFS_FAULT_SNAP_IDLE", "0", 1);
	st.hdr->generation = 9;
	openfile_init(&of, &st, 9);
	openfile_sweep(&of); /* the start's sweep, once serving (lxcfs_serving) */
	CHECK_INT(snaps_in_use(), 0);
	CHECK_INT(state_snaps_in_use(&st), 0);
	CHECK(state_snap(&st, 5)->fh == 0);
	uint64_t c = fh_make(&of, FH_VFILE);
	openfile_keep(&of, c, &big);
	CHECK_INT(st.hdr->kept_renders, 1);
	openfile_sweep(&of);
	CHECK_INT(kept_in_memory(), 0);
	CHECK_INT(st.hdr->kept_renders, 0);

	/* opens sweep at most every idle time / 10 (100 ms for 1 s): a sweep walks the table */
	openfile_fini(&of);
	setenv("LXCFS_FAULT_SNAP_IDLE", "1", 1);
	openfile_init(&of, &st, 9);
	CHECK(!opens_sweep(&r)); /* the first comes at once: nothing was swept yet */
	CHECK(opens_sweep(&r));
	usleep(150 * 1000);
	CHECK(!opens_sweep(&r));
	unsetenv("LXCFS_FAULT_SNAP_IDLE");
#endif
	buf_free(&r);
	buf_free(&big);
	buf_free(&out);
	openfile_fini(&of);
	state_detach(&st);
	CHECK_DONE();
}
