/* The keeper's standby, primed (PRIME): it prepares what only reads the state, makes its request
 * threads (parked at a gate) and its own lifeline, maps the state's pages and runs every render
 * once, then waits for START or for the serving worker's death, whichever comes first.  At the
 * death (the lifeline says the dead worker's last thread is gone) it takes over at once, before
 * the keeper has reaped that worker, and answers what the dead held; START then confirms it. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fs/fault.h"
#include "fs/virt.h"
#include "lib/lifeline.h"
#include "lib/log.h"
#include "worker/served.h"
#include "worker/worker.h"

/* A primed standby's takeover, done once, by whichever comes first: its watcher at the serving
 * worker's death, or its main thread at START (the keeper reaped that worker first).  The
 * watcher tells the main thread through an eventfd, which stays open for the process's life. */
static struct {
	pthread_mutex_t lock;
	bool done;  /* engaged, or refused (rc) */
	bool early; /* by the watcher: it answers what the dead held already */
	int rc;
	struct options *opt;
	struct takeover *t;
	int lifeline; /* the serving worker's */
	int efd;
} promo = { .lock = PTHREAD_MUTEX_INITIALIZER, .lifeline = -1, .efd = -1 };

/* The INIT on record is still the one this standby replayed when it was primed: nothing writes
 * it once a connection is negotiated, so a change is damage, and our session answers the record
 * we replayed, not this one. */
static bool init_unchanged(const struct takeover *t)
{
	return memcmp(&t->init_seen, &st.hdr->init, sizeof(t->init_seen)) == 0;
}

/* The serving worker died, and its last thread is gone (its lifeline says so): what it read and
 * never answered is ours to answer, now, before the keeper has even reaped it. */
static void take_early(void)
{
	const char *why;
	if (state_check(&st, &why) < 0) {
		log_warn("the serving worker died with the state header damaged (%s): the keeper repairs it first",
			 why);
		return;
	}
	if (!init_unchanged(promo.t))
		return; /* START says so */
	/* named in the header as START would: our own death is then a worker's for the keeper */
	__atomic_store_n(&st.hdr->worker_pid, getpid(), __ATOMIC_RELAXED);
	promo.rc = engage(promo.opt, promo.t, "took over from a dead worker before the keeper reaped it");
	promo.done = true;
	promo.early = promo.rc == 0;
}

static void *watch_predecessor(void *arg)
{
	(void)arg;
	int end = lifeline_watch(promo.lifeline);
	close(promo.lifeline);
	if (end != LIFELINE_DIED)
		return NULL; /* an end on purpose: the keeper decides (START, or a drop) */
	lifeline_hold(); /* ours: the takeover writes the state */
	pthread_mutex_lock(&promo.lock);
	if (!promo.done)
		take_early();
	bool recover = promo.early;
	pthread_mutex_unlock(&promo.lock);
	if (recover)
		serve_recover_here(&lx.serve, 0, promo.t->how);
	lifeline_release();
	uint64_t one = 1;
	if (write(promo.efd, &one, sizeof(one)) < 0)
		log_debug("waking the standby's main thread: %s", strerror(errno));
	return NULL;
}

int stand_by(struct options *opt, struct takeover *t, struct msg *start, bool *early)
{
	*early = false;
	/* (at the usual priority: a standby primed slowly under load would miss the next death) */
	int rc = prepare(opt, t, true);
	if (rc)
		return rc;
	promo.opt = opt;
	promo.t = t;
	promo.lifeline = dup(t->m->fds.fd[FD_LIFELINE]);
	promo.efd = eventfd(0, EFD_CLOEXEC);
	pthread_t tid;
	if (promo.lifeline < 0 || promo.efd < 0 || pthread_create(&tid, NULL, watch_predecessor, NULL) != 0) {
		log_warn("cannot watch the serving worker's lifeline: the standby waits for the keeper");
		if (promo.lifeline >= 0)
			close(promo.lifeline);
	} else {
		pthread_detach(tid);
	}
	log_debug("standby primed for generation %llu", (unsigned long long)t->gen);
	struct pollfd p[2] = { { .fd = ctl, .events = POLLIN }, { .fd = promo.efd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return WORKER_EXIT_CANNOT;
		pthread_mutex_lock(&promo.lock);
		bool failed = promo.done && promo.rc;
		pthread_mutex_unlock(&promo.lock);
		if (failed)
			return promo.rc; /* the early takeover could not serve: an exit the keeper sees */
		if (p[1].revents & POLLIN)
			p[1].fd = -1;
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		int r = proto_recv(ctl, start);
		long late = r == -EPIPE ? fault_long("LXCFS_FAULT_STANDBY_DROP_MS", 0) : 0;
		if (late > 0) /* (a test's: the watcher takes over first, as it does when it wins the race) */
			usleep((useconds_t)late * 1000);
		if (r == -EPIPE || (r == 0 && start->type == MSG_START)) {
			pthread_mutex_lock(&promo.lock);
			bool was = promo.done;
			promo.done = true; /* the watcher, if it wakes now, leaves it to us */
			*early = promo.early;
			pthread_mutex_unlock(&promo.lock);
			if (r == -EPIPE) {
				log_info("the keeper dropped the standby%s", was ? ", which had taken over already: stopping" : "");
				return 1;
			}
			fdset_close(&start->fds); /* (PRIME brought them) */
			if (start->u.start.gen != t->gen || start->u.start.reinit) {
				log_error("START for generation %llu%s, primed for %llu: refused",
					  (unsigned long long)start->u.start.gen, start->u.start.reinit ? " (reinit)" : "",
					  (unsigned long long)t->gen);
				return WORKER_EXIT_CANNOT;
			}
			virt_set(start->u.start.virt_on, "as the keeper has it");
			if (was)
				return 0;
			if (!init_unchanged(t)) {
				log_error("cannot take over: the INIT on record changed since this standby replayed it");
				return WORKER_EXIT_UNRESUMABLE;
			}
			return engage(opt, t, NULL);
		}
		if (r == 0)
			fdset_close(&start->fds);
	}
}

