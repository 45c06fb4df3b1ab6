#include "fs/serve.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/ctx.h"
#include "fs/fault.h"
#include "lib/backoff.h"
#include "lib/clock.h"
#include "lib/lifeline.h"
#include "lib/log.h"

#ifndef FUSE_NOTIFY_RESEND
#define FUSE_NOTIFY_RESEND 7
#endif
/* The kernel marks requests it queues again after FUSE_NOTIFY_RESEND with this bit. */
#define UNIQUE_RESEND (UINT64_C(1) << 63)
/* A request that was in the hands of two workers that both died is answered with an error. */
#define MAX_TRIES 2
/* Pokes a loop out of read() at stop.  Not SIGUSR2: that one is upstream's virtualization
 * switch, and must stay blocked in every thread for the main loop to take it. */
#define WAKE_SIGNAL (SIGRTMIN + 2)
/* How long resent requests have to reach us before the dead slots they did not claim are freed. */
#define RESEND_WAIT_MS 2000

/* The session's userdata is the context (fs/ctx.h): libfuse hands it to our io callbacks. */
static struct serve *serve_of(void *userdata)
{
	return &((struct lxcfs *)userdata)->serve;
}

static struct initrec *init_record(struct serve *s)
{
	return &s->st->hdr->init;
}

/* Per thread: the last reply written found no request of its unique (ENOENT). */
static __thread bool reply_gone;

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct serve *s = serve_of(userdata);
	const struct fuse_out_header *out = iov[0].iov_base;
	if (s->swallow && iov[0].iov_len >= sizeof(*out) && out->unique == s->swallow) {
		/* The answer to a replayed INIT: the kernel has had it from our predecessor. */
		struct initrec mine = *init_record(s);
		mine.rep_len = 0;
		initrec_note_reply(&mine, iov, count);
		const struct initrec *rec = init_record(s);
		s->swallow_match = mine.rep_len == rec->rep_len && memcmp(mine.rep, rec->rep, rec->rep_len) == 0;
		s->swallow = 0;
		return (ssize_t)out->len;
	}
	if (!init_record(s)->rep_len && initrec_note_reply(init_record(s), iov, count))
		state_seal(s->st->hdr);
	ssize_t n = writev(fd, iov, count);
	/* ENOENT: the request is gone (caller interrupted, answered already by a predecessor, or
	 * queued again by a RESEND under a new unique). */
	reply_gone = n < 0 && errno == ENOENT;
	if (n < 0 && errno != ENOENT)
		log_debug("reply write failed: %s", strerror(errno));
	return n;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	return read(fd, buf, len);
}

/* From the INIT record, which is checksummed: the features word itself is not. */
static void note_features(struct serve *s, const struct initrec *r)
{
	const struct fuse_init_in *in = (const void *)(r->req + sizeof(struct fuse_in_header));
	uint32_t f = in->major > 7 || (in->major == 7 && in->minor >= 40) ? STATE_FEAT_RESEND : 0;
	__atomic_store_n(&s->st->hdr->features, f, __ATOMIC_RELAXED);
}

int serve_replay_init(struct serve *s)
{
	struct initrec *r = init_record(s);
	if (!initrec_complete(r))
		return 0;
	if (initrec_validate(r) < 0)
		return -EINVAL;
	uint8_t copy[INITREC_MAX];
	memcpy(copy, r->req, r->req_len);
	s->swallow = r->unique;
	s->swallow_match = 0;
	struct fuse_buf fb = { .size = r->req_len, .mem = copy };
	fuse_session_process_buf(s->se, &fb);
	if (s->swallow) {
		s->swallow = 0;
		return -EPROTO; /* libfuse did not answer it */
	}
	note_features(s, r);
	return s->swallow_match ? 1 : -EPROTO;
}

static void reply_error(struct serve *s, uint64_t unique, int err)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = -err, .unique = unique };
	ssize_t n = write(s->fd, &out, sizeof(out));
	reply_gone = n < 0 && errno == ENOENT;
	if (n < 0 && errno != ENOENT)
		log_debug("error reply failed: %s", strerror(errno));
}

static bool slot_dead(const struct serve *s, struct state_slot *sl, uint64_t live_gen)
{
	uint64_t g = __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == SLOT_CLAIMED && g != s->gen && g != live_gen;
}

/* Done with a request: the slot stays ours, empty (the header is zeroed before the next read). */
static void slot_idle(struct state_slot *sl)
{
	__atomic_store_n(&sl->len, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&sl->key, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->tries, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->blame, SLOT_BLAME_COUNTS, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->early_fh, 0, __ATOMIC_RELAXED);
}

/* The deaths a dead slot's request was in flight at (tries, as its holder stored them), less the
 * last one if that holder crashed on another of its requests. */
static uint32_t deaths_of(const struct state_slot *sl, uint32_t tries)
{
	if (tries && __atomic_load_n(&sl->blame, __ATOMIC_ACQUIRE) == SLOT_BLAME_SPARED) {
		log_info("request %" PRIu64 " was in flight beside a crash on another request: that death "
			 "is not counted against it", __atomic_load_n(&sl->key, __ATOMIC_RELAXED));
		return tries - 1;
	}
	return tries;
}

static void slot_free(struct state_slot *sl)
{
	/* A free slot holds no request and must not look as if it did: a damaged state's check
	 * counts a slot whose request header is left as one that may have held one (lost). */
	memset(sl->data, 0, sizeof(struct fuse_in_header));
	slot_idle(sl);
	__atomic_store_n(&sl->state, SLOT_FREE, __ATOMIC_RELEASE);
}

unsigned serve_check_journal(struct serve *s)
{
	unsigned bad = 0, lost = 0;
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		enum state_slot_verdict v = state_slot_check(sl, s->gen);
		if (v == STATE_SLOT_SOUND)
			continue;
		lost += v == STATE_SLOT_DAMAGED_HELD;
		slot_free(sl);
		bad++;
	}
	if (bad)
		log_warn("journal: %u slot(s) in no state a live worker leaves (damage, or a claim cut short) "
			 "freed", bad);
	return lost;
}

int serve_attach(struct lxcfs *lx, int fd)
{
	static const struct fuse_custom_io io = { .writev = io_writev, .read = io_read };
	struct serve *s = &lx->serve;
	s->se = lx->se;
	s->fd = fd;
	s->st = lx->st;
	s->gen = lx->gen;
	s->slots = (unsigned)fault_long("LXCFS_FAULT_JOURNAL_SLOTS", (long)s->st->lay.nslots);
	if (s->slots > s->st->lay.nslots)
		s->slots = s->st->lay.nslots;
	carry_init(&s->early_dead);
	carry_init(&s->gone);
	return fuse_session_custom_io(lx->se, &io, fd);
}

/* A request the kernel queued again after RESEND carries the deaths it was in flight at: those of
 * the dead workers' slots that held it (freed: this copy answers for them), and those of a copy
 * one of our own threads still holds.  A RESEND requeues every request read and not answered,
 * ours as well as the dead's, and only the resent copy can be answered: both are the one
 * request, and the copy must not start its count again. */
static uint32_t inherited_tries(struct serve *s, uint64_t key)
{
	uint32_t t = 0;
	uint64_t live_gen = __atomic_load_n(&s->live_generation, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		bool replayed = sl == __atomic_load_n(&s->replaying, __ATOMIC_ACQUIRE); /* (as ours) */
		if (!replayed && slot_dead(s, sl, live_gen)) {
			if (__atomic_load_n(&sl->key, __ATOMIC_ACQUIRE) != key)
				continue;
			uint32_t d = deaths_of(sl, __atomic_load_n(&sl->tries, __ATOMIC_RELAXED));
			t = d > t ? d : t;
			slot_free(sl);
		} else if (__atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) == SLOT_CLAIMED &&
			   (sl->gen == s->gen || replayed) &&
			   __atomic_load_n(&sl->len, __ATOMIC_ACQUIRE) && /* (published after key and tries) */
			   __atomic_load_n(&sl->key, __ATOMIC_RELAXED) == key) {
			uint32_t d = __atomic_load_n(&sl->tries, __ATOMIC_RELAXED); /* ours: deaths + 1 */
			t = d > t + 1 ? d - 1 : t;
		}
	}
	uint32_t gone = carry_take(&s->gone, key);
	return gone > t ? gone : t;
}

static struct state_slot *claim_slot(struct serve *s)
{
	for (unsigned i = 0; i < s->slots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		uint32_t expect = SLOT_FREE;
		if (__atomic_compare_exchange_n(&sl->state, &expect, SLOT_CLAIMING, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			sl->gen = s->gen;
			slot_idle(sl);
			memset(sl->data, 0, sizeof(struct fuse_in_header));
			__atomic_store_n(&sl->state, SLOT_CLAIMED, __ATOMIC_RELEASE);
			return sl;
		}
	}
	return NULL;
}

static void wake(int sig)
{
	(void)sig; /* only here to interrupt read() */
}

/* A FUSE_INIT on a connection we already serve: someone reset it (FUSE_DEV_IOC_REINIT) and the
 * kernel asks again.  libfuse refuses a second INIT, which would mark the connection failed;
 * the same request deserves the same answer, so the recorded one goes back under the new
 * unique.  "The same": protocol version and flags; max_readahead is lowered by the kernel to
 * what we answered the first time (0), and we would answer 0 again.  true if handled. */
static bool answer_repeated_init(struct serve *s, const struct fuse_in_header *in, size_t n)
{
	const struct initrec *r = init_record(s);
	if (in->opcode != FUSE_INIT || !initrec_complete(r))
		return false;
	const struct fuse_init_in *now = (const void *)(in + 1);
	const struct fuse_init_in *was = (const void *)(r->req + sizeof(struct fuse_in_header));
	bool ext = n >= sizeof(*in) + sizeof(*now) && r->req_len >= sizeof(*in) + sizeof(*was);
	if (n < sizeof(*in) + 16 || now->major != was->major || now->minor != was->minor ||
	    now->flags != was->flags || (ext && now->flags2 != was->flags2)) {
		log_error("the connection was reset with an INIT unlike the recorded one: refused");
		reply_error(s, in->unique, EPROTO);
		return true;
	}
	uint8_t rep[INITREC_MAX];
	memcpy(rep, r->rep, r->rep_len);
	((struct fuse_out_header *)rep)->unique = in->unique;
	if (write(s->fd, rep, r->rep_len) < 0)
		log_warn("answering a repeated INIT: %s", strerror(errno));
	else
		log_info("the connection was reset (FUSE_DEV_IOC_REINIT): answered its new INIT");
	return true;
}

/* Per thread by nature: the request a loop (or a replay) is in the middle of answering. */
static __thread const struct fuse_in_header *current;

const struct fuse_in_header *serve_current_request(void)
{
	return current;
}

int serve_notify_poll(struct serve *s, uint64_t kh)
{
	struct {
		struct fuse_out_header out;
		struct fuse_notify_poll_wakeup_out arg;
	} m = { { sizeof(m), FUSE_NOTIFY_POLL, 0 }, { kh } };
	return write(s->fd, &m, sizeof(m)) == (ssize_t)sizeof(m) ? 0 : -errno;
}

/* The journal slot this loop reads into (NULL outside a loop, or for a loop without one), and
 * whether its request was handed to another thread (serve_hand_over). */
static __thread struct state_slot *loop_slot;
static __thread struct serve *loop_serve;
static __thread bool loop_slot_handed;
/* The dead worker's slot this thread answers from the journal (replay_journal), if any. */
static __thread struct state_slot *replay_slot;

bool serve_replaying(void)
{
	return replay_slot != NULL;
}

struct state_slot *serve_hand_over(void)
{
	if (!loop_slot || loop_slot_handed)
		return NULL;
	struct state_slot *next = claim_slot(loop_serve);
	if (!next)
		return NULL;
	struct state_slot *mine = loop_slot;
	loop_slot = next;
	loop_slot_handed = true;
	return mine;
}

void serve_answered(struct state_slot *sl)
{
	slot_free(sl);
}

/* A worker that crashes in an early render marks the slot's open so (the mark without the bit only
 * says a render was under way, which a kill from outside interrupts as well). */
#define EARLY_CRASHED (UINT64_C(1) << 63)
static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
#define NCRASH (sizeof(crash_signals) / sizeof(crash_signals[0]))
static struct sigaction crash_prev[NCRASH];
static struct serve *crash_serve; /* the connection whose journal a crash marks */

/* The arguments of a READ request of n bytes; NULL for any other request, or one cut short. */
static const struct fuse_read_in *read_of(const struct fuse_in_header *in, size_t n)
{
	return in->opcode == FUSE_READ && n >= sizeof(*in) + sizeof(struct fuse_read_in) ? (const void *)(in + 1) : NULL;
}

/* Whether the request a slot holds may be the one a crash was on: the culprit's (a copy a RESEND
 * queued has its number), or the READ of the open whose early render crashed.  A slot not
 * published yet (its thread's read() under way, or returned and not looked at) is judged by
 * what its header shows: one still blank or cut short, or a READ whose handle is not in yet
 * (the loop blanks both before each read), may be that READ.  Async-signal-safe. */
static bool could_be_culprit(const struct state_slot *sl, uint64_t culprit_key, uint64_t early_fh)
{
	const volatile struct fuse_in_header *in = (const volatile void *)sl->data;
	bool published = __atomic_load_n(&sl->len, __ATOMIC_ACQUIRE) != 0;
	uint64_t key = published ? __atomic_load_n(&sl->key, __ATOMIC_RELAXED) : in->unique & ~UNIQUE_RESEND;
	uint32_t len = in->len, opcode = in->opcode;
	if (!published && (!key || !opcode || len < sizeof(struct fuse_in_header)))
		return true;
	if (culprit_key && key == culprit_key)
		return true;
	if (!early_fh || opcode != FUSE_READ)
		return false;
	if (len < sizeof(struct fuse_in_header) + sizeof(struct fuse_read_in))
		return true;
	uint64_t fh = ((const volatile struct fuse_read_in *)(in + 1))->fh;
	return fh == early_fh || fh == 0;
}

/* The crash is the request this thread answers (culprit; none: a thread outside any request),
 * and that open's READ if it crashed in an early render; the other requests in flight, whose
 * threads only happened to be beside it, are spared the death.  A second thread crashing at once
 * makes its own culprit; a culprit stays one.  Async-signal-safe. */
static void blame_crash(struct serve *s, struct state_slot *culprit, uint64_t early_fh)
{
	if (culprit)
		__atomic_store_n(&culprit->blame, SLOT_BLAME_CRASHED, __ATOMIC_RELEASE);
	if (!s)
		return;
	uint64_t culprit_key = culprit ? __atomic_load_n(&culprit->key, __ATOMIC_RELAXED) : 0;
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		if (sl == culprit || __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_CLAIMED ||
		    could_be_culprit(sl, culprit_key, early_fh))
			continue;
		if (__atomic_load_n(&sl->gen, __ATOMIC_RELAXED) != s->gen &&
		    sl != __atomic_load_n(&s->replaying, __ATOMIC_ACQUIRE))
			continue;
		uint32_t expect = SLOT_BLAME_COUNTS;
		__atomic_compare_exchange_n(&sl->blame, &expect, SLOT_BLAME_SPARED, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_RELAXED);
	}
}

/* Marks, then puts the previous action back and lets it act: a fault returns and runs again
 * (sanitizer reports see the real one); a signal sent (kill, abort's raise) is sent again, or it
 * would be lost.  Async-signal-safe. */
static void on_crash(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	struct state_slot *sl = replay_slot ? replay_slot : loop_slot;
	/* (a replay renders nothing early: only a loop's slot names an open) */
	uint64_t fh = !replay_slot && sl ? __atomic_load_n(&sl->early_fh, __ATOMIC_RELAXED) : 0;
	if (fh)
		__atomic_store_n(&sl->early_fh, fh | EARLY_CRASHED, __ATOMIC_RELEASE);
	blame_crash(__atomic_load_n(&crash_serve, __ATOMIC_ACQUIRE), sl, fh & ~EARLY_CRASHED);
	for (size_t i = 0; i < NCRASH; i++)
		if (crash_signals[i] == sig)
			sigaction(sig, &crash_prev[i], NULL);
	if (info->si_code <= 0) /* SI_USER, SI_TKILL, SI_QUEUE: sent, not a fault */
		raise(sig);
}

static void catch_crashes(void)
{
	static int done;
	if (__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		return;
	struct sigaction sa = { .sa_sigaction = on_crash, .sa_flags = SA_SIGINFO | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &sa, &crash_prev[i]);
}

void serve_rendering_for(uint64_t fh)
{
	if (loop_slot)
		__atomic_store_n(&loop_slot->early_fh, fh, __ATOMIC_RELEASE);
}

/* READs that count a death come straight after the takeover, from the kernel's queue: a note
 * not used by then is not needed (its READ was answered elsewhere, or never came). */
#define EARLY_DEATHS_MS 10000

void serve_early_deaths(struct serve *s)
{
	uint64_t until = mono_ms() + EARLY_DEATHS_MS;
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		uint64_t fh = __atomic_load_n(&sl->early_fh, __ATOMIC_ACQUIRE);
		if (!(fh & EARLY_CRASHED) || __atomic_load_n(&sl->state, __ATOMIC_ACQUIRE) != SLOT_CLAIMED ||
		    __atomic_load_n(&sl->gen, __ATOMIC_RELAXED) == s->gen)
			continue;
		uint32_t tries = __atomic_load_n(&sl->tries, __ATOMIC_RELAXED);
		carry_put(&s->early_dead, fh & ~EARLY_CRASHED, tries ? tries : 1, until);
		log_info("a worker crashed rendering early for an open: the open's read counts that death");
		/* (the slot's OPEN, answered, is replayed like any: its answer goes nowhere) */
	}
}

/* The deaths a READ at offset 0 of an open inherits from its early render (serve_early_deaths). */
static uint32_t early_deaths(struct serve *s, const struct fuse_in_header *in, size_t n)
{
	const struct fuse_read_in *arg = read_of(in, n);
	return arg && arg->offset == 0 ? carry_take(&s->early_dead, arg->fh) : 0;
}

/* An answer the kernel refused under the request's number (reply_gone): the request was answered
 * already, or a RESEND (the dead worker's, or ours beside this thread) queued it again, its copy
 * not read yet.  That copy carries the deaths it was in flight at (inherited_tries). */
static void carry_refused(struct serve *s, uint64_t key, uint32_t tries)
{
	if (reply_gone && tries)
		carry_put(&s->gone, key, tries, mono_ms() + RESEND_WAIT_MS);
}

/* A request in flight at MAX_TRIES worker deaths: answered EIO, never rendered again (a FORGET
 * takes no answer).  From a loop or from the journal alike. */
static void give_up(struct serve *s, uint64_t unique, uint32_t opcode, uint32_t tries)
{
	uint64_t key = unique & ~UNIQUE_RESEND;
	log_warn("request %" PRIu64 " (opcode %u) was in flight at %u worker deaths: answered EIO", key, opcode,
		 tries);
	if (opcode != FUSE_FORGET && opcode != FUSE_BATCH_FORGET) {
		reply_error(s, unique, EIO);
		carry_refused(s, key, tries);
	}
}

/* libfuse answers the request in data (ours to look at meanwhile), in flight at tries deaths so
 * far. */
static void answer(struct serve *s, void *data, size_t n, uint64_t key, uint32_t tries)
{
	struct fuse_buf fb = { .size = n, .mem = data };
	current = data;
	reply_gone = false;
	fuse_session_process_buf(s->se, &fb);
	current = NULL;
	carry_refused(s, key, tries);
}

static void process(struct serve *s, struct state_slot *sl, size_t n)
{
	const struct fuse_in_header *in = (const void *)sl->data;
	uint64_t key = in->unique & ~UNIQUE_RESEND;
	uint32_t tries = (in->unique & UNIQUE_RESEND) ? inherited_tries(s, key) : 0;
	/* A READ the dead worker held (resent, or replayed from its slot) counts its own death; one
	 * it never read counts the death of the render made early for it. */
	if (!(in->unique & UNIQUE_RESEND))
		tries += early_deaths(s, in, n);
	__atomic_store_n(&sl->tries, tries + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->key, key, __ATOMIC_RELAXED);
	__atomic_store_n(&sl->len, (uint32_t)n, __ATOMIC_RELEASE);
	if (tries >= MAX_TRIES) {
		give_up(s, in->unique, in->opcode, tries);
		return;
	}
	if (answer_repeated_init(s, in, n))
		return;
	if (!init_record(s)->req_len && initrec_note_request(init_record(s), sl->data, n)) {
		note_features(s, init_record(s));
		state_seal(s->st->hdr);
	}
	answer(s, sl->data, n, key, tries);
}

/* serve_stop was called. */
static bool stopping(struct serve *s)
{
	return __atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE);
}

/* A slot for a request thread, counted in journaled. */
static struct state_slot *claim_counted(struct serve *s)
{
	/* counted before the claim: a thread that sees the journal full sees the claim that filled it */
	__atomic_add_fetch(&s->journaled, 1, __ATOMIC_ACQ_REL);
	struct state_slot *sl = claim_slot(s);
	if (!sl)
		__atomic_sub_fetch(&s->journaled, 1, __ATOMIC_ACQ_REL);
	return sl;
}

/* A journal slot for a request thread.  When the journal is full (a dead worker's slots not yet
 * answered, an upgrade's old worker still draining), a thread that read without one would hold
 * requests no successor can find: on a kernel that cannot resend them, their readers would wait
 * for ever after a crash.  So while another thread of ours reads with a slot, this one waits for
 * a slot to free instead.  NULL: none (stopping, or no thread of ours has one). */
static struct state_slot *await_slot(struct serve *s)
{
	static int said;
	struct backoff wait = BACKOFF_INIT(10, 1000);
	for (;;) {
		struct state_slot *sl = claim_counted(s);
		if (sl)
			return sl;
		if (stopping(s) || __atomic_load_n(&s->journaled, __ATOMIC_ACQUIRE) == 0)
			return NULL;
		if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
			log_warn("journal full: a request thread waits for a slot while the others serve");
		unsigned ms = backoff_failed(&wait, mono_ms());
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
		nanosleep(&ts, NULL); /* (not sleep_ms: the stop's signal must cut it short) */
	}
}

static void *loop(void *arg)
{
	struct serve *s = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	lifeline_hold(); /* it writes the journal and answers: a successor waits for its end */
	pthread_mutex_lock(&s->gate_lock);
	while (!s->go && !stopping(s))
		pthread_cond_wait(&s->gate, &s->gate_lock);
	pthread_mutex_unlock(&s->gate_lock);

	struct state_slot *sl = await_slot(s);
	char *own = NULL;
	if (!sl && !stopping(s)) {
		/* No slot, and no thread of ours has one: better served unjournaled than not at all. */
		log_warn("journal full: a request thread runs without one");
		own = calloc(1, sizeof(struct state_slot) + SERVE_BUFSZ);
		if (!own)
			goto out;
		sl = (struct state_slot *)own;
	}
	if (!own) {
		loop_slot = sl;
		loop_serve = s;
	}
	while (!stopping(s)) {
		/* (blank up to a READ's handle: a crash meanwhile reads what the kernel wrote) */
		memset(sl->data, 0, sizeof(struct fuse_in_header) + sizeof(struct fuse_read_in));
		ssize_t n = read(s->fd, sl->data, SERVE_BUFSZ);
		if (n < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN || e == ENOENT)
				continue;
			if (e != ENODEV)
				log_error("reading /dev/fuse: %s", strerror(e));
			break;
		}
		if (n == 0)
			break;
		process(s, sl, (size_t)n);
		if (loop_slot_handed) { /* its request is another thread's to answer, and the slot */
			sl = loop_slot;
			loop_slot_handed = false;
		} else {
			slot_idle(sl);
		}
		struct state_slot *got;
		if (own && (got = claim_counted(s)) != NULL) { /* journaled from now on */
			free(own);
			own = NULL;
			sl = loop_slot = got;
			loop_serve = s;
			log_info("a request thread that ran without a journal slot has one now");
		}
		if (fuse_session_exited(s->se))
			break;
	}
	loop_slot = NULL;
	if (own) {
		free(own);
	} else if (sl) {
		slot_free(sl);
		__atomic_sub_fetch(&s->journaled, 1, __ATOMIC_ACQ_REL);
	}
out:
	if (!stopping(s) && !__atomic_exchange_n(&s->ended, 1, __ATOMIC_ACQ_REL) &&
	    s->on_end)
		s->on_end();
	lifeline_release();
	__atomic_sub_fetch(&s->running, 1, __ATOMIC_ACQ_REL);
	return NULL;
}

int serve_park(struct serve *s, int nthreads, void (*on_end)(void))
{
	__atomic_store_n(&crash_serve, s, __ATOMIC_RELEASE);
	catch_crashes();
	struct sigaction sa = { .sa_handler = wake }; /* no SA_RESTART: read() must return EINTR */
	sigaction(WAKE_SIGNAL, &sa, NULL);
	__atomic_store_n(&s->stopping, 0, __ATOMIC_RELEASE); /* again after a stop (a failed re-exec) */
	pthread_mutex_init(&s->gate_lock, NULL);
	pthread_cond_init(&s->gate, NULL);
	s->go = 0;
	s->on_end = on_end;
	s->tids = calloc((size_t)nthreads, sizeof(*s->tids));
	if (!s->tids)
		return -ENOMEM;
	for (int i = 0; i < nthreads; i++) {
		__atomic_add_fetch(&s->running, 1, __ATOMIC_ACQ_REL);
		int r = pthread_create(&s->tids[i], NULL, loop, s);
		if (r) {
			__atomic_sub_fetch(&s->running, 1, __ATOMIC_ACQ_REL);
			log_error("cannot start request thread: %s", strerror(r));
			if (i == 0)
				return -r;
			break;
		}
		s->nthreads = i + 1;
	}
	return 0;
}

static void open_gate(struct serve *s, int go)
{
	pthread_mutex_lock(&s->gate_lock);
	s->go |= go;
	pthread_cond_broadcast(&s->gate);
	pthread_mutex_unlock(&s->gate_lock);
}

void serve_go(struct serve *s)
{
	open_gate(s, 1);
}

int serve_start(struct serve *s, int nthreads, void (*on_end)(void))
{
	int r = serve_park(s, nthreads, on_end);
	if (r == 0)
		serve_go(s);
	return r;
}

void serve_stop(struct serve *s)
{
	__atomic_store_n(&s->stopping, 1, __ATOMIC_SEQ_CST); /* (recovery_begin's other half) */
	if (s->tids)
		open_gate(s, 0); /* parked threads leave without reading */
	/* A loop can be between its check and read(): keep poking until all are out. */
	while (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE) > 0) {
		for (int i = 0; i < s->nthreads; i++)
			pthread_kill(s->tids[i], WAKE_SIGNAL);
		sleep_ms(2);
	}
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->tids[i], NULL);
	while (__atomic_load_n(&s->recovering, __ATOMIC_SEQ_CST) > 0)
		sleep_ms(2);
	free(s->tids);
	s->tids = NULL;
	s->nthreads = 0;
}

/* The deaths a dead slot's request was in flight at. */
static uint32_t dead_deaths(const struct state_slot *sl)
{
	uint32_t tries = __atomic_load_n(&sl->tries, __ATOMIC_RELAXED);
	return deaths_of(sl, tries ? tries : 1); /* read, never published: its reader got that far */
}

/* A dead worker that asked for a RESEND can hold a request twice: as it read it first, and as
 * the kernel queued it again (inherited_tries).  One request: answered once, from the copy the
 * kernel can still match (the resent one), with the most deaths of either (*tries); the other
 * slot is freed.  first and *in: a dead slot and its request, the first of its copies. */
static struct state_slot *one_copy(struct serve *s, unsigned first, uint64_t live_gen,
				   const struct fuse_in_header **in, uint32_t *tries)
{
	struct state_slot *sl = state_slot(s->st, first);
	uint64_t key = (*in)->unique & ~UNIQUE_RESEND;
	for (unsigned i = first + 1; i < s->st->lay.nslots; i++) {
		struct state_slot *o = state_slot(s->st, i);
		const struct fuse_in_header *oin;
		if (!slot_dead(s, o, live_gen) || !(oin = state_slot_request(o, SERVE_BUFSZ)) ||
		    (oin->unique & ~UNIQUE_RESEND) != key)
			continue;
		uint32_t d = dead_deaths(o);
		*tries = d > *tries ? d : *tries;
		log_info("request %" PRIu64 " was held twice by a dead worker (read, then resent): answered once",
			 key);
		if ((oin->unique & UNIQUE_RESEND) && !((*in)->unique & UNIQUE_RESEND)) {
			slot_free(sl);
			sl = o;
			*in = oin;
		} else {
			slot_free(o);
		}
	}
	return sl;
}

/* Answers, in the journal, what dead workers held.  The slot keeps its dead owner while we
 * work on it, so that if we die too, our successor sees one more try. */
static unsigned replay_journal(struct serve *s, uint64_t live_gen)
{
	unsigned done = 0;
	uint8_t *copy = malloc(SERVE_BUFSZ);
	if (!copy)
		return 0;
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		if (!slot_dead(s, sl, live_gen))
			continue;
		const struct fuse_in_header *in = state_slot_request(sl, SERVE_BUFSZ);
		if (!in) {
			slot_free(sl);
			continue;
		}
		uint32_t tries = dead_deaths(sl);
		sl = one_copy(s, i, live_gen, &in, &tries);
		uint64_t unique = in->unique;
		uint32_t len = in->len, opcode = in->opcode;
		if (tries >= MAX_TRIES) {
			give_up(s, unique, opcode, tries);
		} else {
			/* published as a loop's request is, for a crash meanwhile to judge */
			__atomic_store_n(&sl->blame, SLOT_BLAME_COUNTS, __ATOMIC_RELAXED);
			__atomic_store_n(&sl->tries, tries + 1, __ATOMIC_RELAXED);
			__atomic_store_n(&sl->key, unique & ~UNIQUE_RESEND, __ATOMIC_RELAXED);
			__atomic_store_n(&sl->len, len, __ATOMIC_RELEASE);
			memcpy(copy, sl->data, len);
			log_info("answering request %" PRIu64 " (opcode %u) of a dead worker from the journal",
				 unique & ~UNIQUE_RESEND, opcode);
			struct state_slot *none = NULL;
			bool shown = __atomic_compare_exchange_n(&s->replaying, &none, sl, false, __ATOMIC_ACQ_REL,
								 __ATOMIC_RELAXED);
			replay_slot = sl;
			answer(s, copy, len, unique & ~UNIQUE_RESEND, tries);
			replay_slot = NULL;
			if (shown)
				__atomic_store_n(&s->replaying, NULL, __ATOMIC_RELEASE);
			done++;
		}
		slot_free(sl);
	}
	free(copy);
	return done;
}

static int send_resend(struct serve *s)
{
	struct fuse_out_header out = { .len = sizeof(out), .error = FUSE_NOTIFY_RESEND, .unique = 0 };
	if (write(s->fd, &out, sizeof(out)) < 0)
		return -errno;
	return 0;
}

/* Slots a RESEND left behind: requests the kernel had already finished. */
static void drop_unclaimed(struct serve *s, uint64_t live_gen)
{
	for (unsigned i = 0; i < s->st->lay.nslots; i++) {
		struct state_slot *sl = state_slot(s->st, i);
		if (slot_dead(s, sl, live_gen))
			slot_free(sl);
	}
}

/* A recovery under way, which serve_stop waits for: its answers to what the dead held must not
 * be cut by our exit, or each counts as one more death and a successor answers EIO to a request
 * only ever held by one that died.  None starts once we stop: our successor is told to recover.
 * Sequentially consistent with serve_stop's store, so that either it sees this count or this
 * sees the stop. */
static bool recovery_begin(struct serve *s)
{
	__atomic_add_fetch(&s->recovering, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&s->stopping, __ATOMIC_SEQ_CST))
		return true;
	__atomic_sub_fetch(&s->recovering, 1, __ATOMIC_SEQ_CST);
	return false;
}

static void recovery_end(struct serve *s)
{
	__atomic_sub_fetch(&s->recovering, 1, __ATOMIC_SEQ_CST);
}

/* After a RESEND, resent requests find their dead slot (and its tries) as they arrive; a stop
 * ends the wait early.  Whether it ran its course. */
static bool wait_for_resent(struct serve *s)
{
	for (int ms = 0; ms < RESEND_WAIT_MS; ms += 10) {
		if (stopping(s))
			return false;
		sleep_ms(10);
	}
	return !stopping(s);
}

struct recovery_job {
	struct serve *s;
	uint64_t live_gen;
	enum recovery how;
};

/* Within a recovery_begin. */
static void recover(struct recovery_job job)
{
	struct serve *s = job.s;
	__atomic_store_n(&s->live_generation, job.live_gen, __ATOMIC_RELAXED);
	bool resend = job.how != RECOVER_JOURNAL &&
		      (__atomic_load_n(&s->st->hdr->features, __ATOMIC_RELAXED) & STATE_FEAT_RESEND);
	if (job.how != RECOVER_RESEND) {
		unsigned n = replay_journal(s, job.live_gen);
		if (n)
			log_info("answered %u request(s) of a dead worker from the journal", n);
	}
	if (resend) {
		/* Replays are answered: the kernel queues again whatever is still unanswered. */
		int r = send_resend(s);
		if (r < 0)
			log_warn("FUSE_NOTIFY_RESEND failed: %s", strerror(-r));
		else
			log_info("asked the kernel to resend unanswered requests");
		/* What is left after the wait was finished by the kernel meanwhile.  Cut short by a
		 * stop, the dead slots stay, tries and all, for our successor's recovery. */
		if (wait_for_resent(s))
			drop_unclaimed(s, job.live_gen);
		else
			log_info("stopping: the slots of dead workers that no resent request claimed yet are "
				 "left to the next recovery");
	} else if (job.how == RECOVER_RESEND) {
		log_warn("this kernel cannot resend requests; answering from the journal");
		replay_journal(s, job.live_gen);
	}
}

void serve_recover_here(struct serve *s, uint64_t live_gen, enum recovery how)
{
	if (!recovery_begin(s))
		return;
	recover((struct recovery_job){ .s = s, .live_gen = live_gen, .how = how });
	recovery_end(s);
}

static void *recovery_thread(void *arg)
{
	struct recovery_job job = *(struct recovery_job *)arg;
	free(arg);
	lifeline_hold(); /* it answers from the journal */
	recover(job);
	recovery_end(job.s);
	lifeline_release();
	return NULL;
}

void serve_recover(struct serve *s, uint64_t live_gen, enum recovery how)
{
	struct recovery_job *job = malloc(sizeof(*job));
	if (!job || !recovery_begin(s)) {
		free(job);
		return;
	}
	job->s = s;
	job->live_gen = live_gen;
	job->how = how;
	pthread_t t;
	if (pthread_create(&t, NULL, recovery_thread, job) == 0) {
		pthread_detach(t);
	} else {
		free(job);
		recovery_end(s);
	}
}
