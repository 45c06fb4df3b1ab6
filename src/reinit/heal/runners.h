/* The runners of the rebind pass.  The namespaces whose mounts are all proven ours (none can hang)
 * are healed by at most MAX_JOBS runners, each a child taking namespace after namespace from a
 * queue: a fork per runner, not per namespace.  On 2 cpus a fork, its copy-on-write faults, the
 * lazy binding of the child's first calls and its exit were the largest part of a namespace's
 * cost (bench/rebind, perf).  The pass queues each namespace as its scan finds it, so the healing
 * starts with the first one instead of after the scan (100-160 ms of a pass over 1,000
 * namespaces).  The queue is a SOCK_SEQPACKET pair: a message per namespace, which one runner
 * takes whole, with the namespace's fd; the pass keeps only each namespace's name, for the log. */
#ifndef LXCFS_RUNNERS_H
#define LXCFS_RUNNERS_H

#include <stddef.h>
#include <stdint.h>

#include "reinit/heal/heal.h"

/* Runners at once (a namespace healed alone has its child to itself).  Their waits in the
 * kernel overlap: with a child per namespace, bench/rebind's 200 namespaces took 1059-1104 ms
 * with 16 at once, 1181-1185 ms with 4 and 1669-1684 ms with one (2 idle cpus).  A child that
 * outlives its bound is killed (a mount of a daemon that does not answer). */
#define MAX_JOBS 16

/* A child with a pipe for its reports: in the parent its pid, the read end (non-blocking) in
 * *rd; in the child 0, the write end (blocking) in *wr; or -errno. */
pid_t fork_reporting(int *rd, int *wr);

/* What the runners share with the pass: the devices found hung (a runner killed on one), whose
 * mounts are skipped from then on, and each runner's namespace at hand, as far as it got, and
 * since when (its bound runs from there: a runner waiting for the scan has none). */
struct pool_shared {
	unsigned nhung;
	dev_t hung[16];
	struct ns_result at[MAX_JOBS];
	uint64_t taken_ms[MAX_JOBS];
};

struct runner {
	pid_t pid;
	int pipe;
	unsigned slot;      /* its result in the shared at[] */
	unsigned last_done; /* the last namespace it reported done */
};

/* A namespace done, to the pass: its result, how its runner ended (0, or -ETIMEDOUT: killed at
 * its bound, -EIO: ended in it), and its name. */
typedef void pool_done_fn(const struct ns_result *r, int cr, const char *who, void *arg);

/* The runners of a round of the pass, and what it queued for them. */
struct pool {
	int mntfd;
	const char *mnt;
	pool_done_fn *done_fn;
	void *arg;
	const dev_t *hung; /* the pass's devices found hung, *nhung of them */
	const size_t *nhung;
	int bound_ms;
	unsigned want, running;
	struct runner run[MAX_JOBS];
	struct pool_shared *sh; /* NULL until a first namespace is queued */
	int q[2];               /* the runners' end, ours (non-blocking) */
	char *msg;              /* a message being made */
	size_t rec_max;         /* its most: REC_MAX (less in tests) */
	char **who;             /* each queued namespace's name, by index */
	size_t n, cap, done;
};

void pool_init(struct pool *p, int mntfd, const char *mnt, pool_done_fn *done_fn, void *arg, const dev_t *hung,
	       const size_t *nhung);
/* Queues a namespace (nsfd, which goes with the message: the caller keeps its own) with its
 * candidates cs[ncs], starting a runner for it while fewer run than wanted: 0, -E2BIG if it is
 * too big for a message (to be healed alone), -EAGAIN if no runner could be started and the
 * queue is full, or -errno. */
int pool_queue(struct pool *p, const struct cand *cs, size_t ncs, int nsfd, const char *who);
/* Ends a round: the queue closed, every runner's end awaited.  p can start another round.  How
 * many namespaces no runner took (said in the log): failed. */
size_t pool_finish(struct pool *p);

#endif
