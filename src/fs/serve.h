/* The request loop.  N threads each read a request from the /dev/fuse fd straight into their own
 * slot of the state's journal and answer it themselves: no hand-off between threads, no threads
 * created on demand.  The kernel wakes one waiting reader per request, so one reader costs what a
 * single-threaded loop costs, while a slow request (a cgroup file that takes long) does not stall
 * the others.  Because every request is read into shared memory, a successor can answer what a
 * dead worker read and never answered. */
#ifndef LXCFS_SERVE_H
#define LXCFS_SERVE_H

#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdbool.h>

#include "fs/carry.h"
#include "reinit/state.h"

/* We take no writes, but max_write also sets the largest READ (libfuse derives max_pages from
 * it), and the kernel refuses request buffers smaller than max_write plus headers. */
#define SERVE_MAX_WRITE (128u * 1024)
#define SERVE_BUFSZ STATE_SLOT_DATA

/* How requests of a dead worker are recovered. */
enum recovery {
	RECOVER_BOTH,    /* journal replay, then FUSE_NOTIFY_RESEND where the kernel has it */
	RECOVER_JOURNAL, /* journal replay only (every kernel) */
	RECOVER_RESEND,  /* FUSE_NOTIFY_RESEND only (Linux >= 6.9) */
};

/* One connection's request loop.  Its threads get it as their argument; the io callbacks find
 * it in the session's userdata (struct lxcfs, fs/ctx.h). */
struct serve {
	struct fuse_session *se;
	int fd;
	struct state *st; /* the context's state, for the journal and the INIT record */
	uint64_t gen;
	uint64_t live_generation; /* the draining predecessor during an upgrade, else 0 */
	pthread_t *tids;
	int nthreads;
	int running;
	int journaled;  /* request threads reading into a journal slot */
	unsigned slots; /* of the journal's slots, those we claim (all but in a test) */
	int stopping;
	int recovering; /* recoveries under way: serve_stop waits for them */
	/* the gate parked threads wait at (serve_park) until serve_go */
	pthread_mutex_t gate_lock;
	pthread_cond_t gate;
	int go;
	int ended;
	void (*on_end)(void);
	uint64_t swallow; /* unique of a replayed INIT whose answer must not reach the kernel */
	int swallow_match;
	/* Opens whose early render crashed a dead predecessor (serve_early_deaths), by handle: the
	 * death counts as a try of their READ at offset 0, read from the kernel afresh. */
	struct carry early_dead;
	/* Requests answered from the journal that the kernel no longer knew under their number
	 * (a RESEND queued them again), by number: the deaths their resent copy carries. */
	struct carry gone;
	/* The dead worker's slot a recovery is answering from the journal (replay_journal; one
	 * recovery's at a time: a second one's is blamed at a crash, as before), which a crash on
	 * another request spares like our own. */
	struct state_slot *replaying;
};

struct lxcfs;
/* Attaches fd to lx's session through our custom io, for lx's generation; lx's state holds the
 * journal and the INIT record. */
int serve_attach(struct lxcfs *lx, int fd);
/* Replays the recorded INIT into the session (swallowing its answer).  0 if there is none to
 * replay; -EPROTO if our answer differs from the recorded one (this binary would negotiate
 * another connection than the kernel has). */
int serve_replay_init(struct serve *s);
/* Before serving an inherited state: frees journal slots that no live worker can be using
 * (damage, or a claim cut short by a death).  Returns how many of them may have held a request
 * the kernel still waits for, which only RESEND or the end of the connection can recover. */
unsigned serve_check_journal(struct serve *s);
/* After a predecessor died (not beside a live one), before serving: takes what its journal says
 * of early renders that crashed it (state_slot.early_fh, marked by a fatal signal's handler the
 * request loops install), so that such a render counts against the READ it was made for, as if
 * that READ had been in its hands.  A render a kill from outside interrupted counts nothing. */
void serve_early_deaths(struct serve *s);
/* From a request loop's thread, after answering an OPEN: it now renders early for fh (0: done). */
void serve_rendering_for(uint64_t fh);
/* Starts nthreads loops; on_end runs once when the connection ends (ENODEV). */
int serve_start(struct serve *s, int nthreads, void (*on_end)(void));
/* serve_start in two steps, for a standby: the threads made ahead of need wait at a gate, and
 * read nothing until serve_go opens it (or serve_stop ends them). */
int serve_park(struct serve *s, int nthreads, void (*on_end)(void));
void serve_go(struct serve *s);
/* Answers the requests of every generation other than ours and live_gen that are still in the
 * journal; runs in the background. */
void serve_recover(struct serve *s, uint64_t live_gen, enum recovery how);
/* The same in the calling thread (after a RESEND it waits 2 s before it drops what nobody
 * claimed). */
void serve_recover_here(struct serve *s, uint64_t live_gen, enum recovery how);
/* Makes every loop return after the request it holds, and joins them; then waits for a recovery
 * under way, which finishes the answers it is giving (cutting the wait after a RESEND short).
 * Once it is called, no recovery starts. */
void serve_stop(struct serve *s);
/* The raw request this thread is answering (NULL outside one): what libfuse does not pass on,
 * such as the kernel's poll handle of a FUSE_POLL.  Per thread by nature (thread-local), not
 * part of any context. */
const struct fuse_in_header *serve_current_request(void);
/* Whether this thread answers a dead worker's request from the journal.  (An OPEN there was most
 * likely answered by the dead worker already; this answer then goes nowhere.) */
bool serve_replaying(void);
/* From a request loop's thread, for a request another thread will answer: the journal slot
 * that holds it, now that thread's to free with serve_answered once it has answered; the loop
 * reads on into a new slot.  NULL (nothing changed) outside a loop, or with no free slot. */
struct state_slot *serve_hand_over(void);
void serve_answered(struct state_slot *sl);
/* FUSE_NOTIFY_POLL: wakes the pollers of the file whose poll handle is kh.  0 or -errno. */
int serve_notify_poll(struct serve *s, uint64_t kh);

#endif
