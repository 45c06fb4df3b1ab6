#include "reinit/heal/rebind.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/child.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/mountinfo.h"
#include "lib/parse.h"
#include "reinit/claim.h"
#include "reinit/heal/drain.h"
#include "reinit/heal/fresh.h"
#include "reinit/heal/heal.h"
#include "reinit/heal/namespaces.h"
#include "reinit/heal/runners.h"

#define NS_TIMEOUT_MS 5000
#define DRAIN_TIMEOUT_MS 10000 /* for files opened on a replaced lxcfs before their mount moved */
#define FIRST_CANDIDATES 64 /* grown as a namespace needs: no mount is ever dropped for room */

/* A mount of another lxcfs device in some namespace: maybe dead, maybe ours to heal. */
struct instance {
	dev_t dev;
	char *mountpoint;
};

struct scan {
	dev_t ours;
	int our_id;       /* the mount at our mountpoint in our namespace */
	const char *path; /* our mountpoint, canonical */
	const struct rebind_req *req;
	struct claims claims;
	dev_t *seen; /* every lxcfs device met, for pruning the claims */
	size_t nseen;
	struct instance *inst;
	size_t ninst;
	int *live_ids; /* mounts of the live lxcfs being replaced, in every namespace */
	size_t nlive;
	dev_t hung[16]; /* devices whose daemon did not answer: not asked again */
	size_t nhung;
	dev_t *alive; /* other instances' devices that answered: live in every namespace */
	size_t nalive;
	unsigned skipped; /* candidates of the namespace at hand left for known_alive */
	pid_t prober; /* the child asking them, while the pass heals */
	int probe_fd;
	uint64_t probe_started_ms;
	struct cand *c;
	size_t n, cap;
	struct fresh fresh; /* the names of the live tree the candidates are cloned from */
	char our_root[PATH_MAX + 256]; /* what shows at "/" in our namespace: "SOURCE:ROOT" */
};

static void note_seen(struct scan *s, dev_t dev)
{
	for (size_t i = 0; i < s->nseen; i++)
		if (s->seen[i] == dev)
			return;
	dev_t *more = reallocarray(s->seen, s->nseen + 1, sizeof(*more));
	if (more) {
		s->seen = more;
		s->seen[s->nseen++] = dev;
	}
}

static bool note_instance(const struct mntent_info *m, void *arg)
{
	struct scan *s = arg;
	if (!mountinfo_is_lxcfs(m) || strcmp(m->root, "/") != 0)
		return true;
	note_seen(s, makedev(m->major, m->minor));
	if (makedev(m->major, m->minor) == s->ours && strcmp(m->mountpoint, s->path) == 0)
		s->our_id = m->id;
	struct instance *n = realloc(s->inst, (s->ninst + 1) * sizeof(*n));
	if (!n)
		return false;
	s->inst = n;
	s->inst[s->ninst].dev = makedev(m->major, m->minor);
	s->inst[s->ninst].mountpoint = strdup(m->mountpoint);
	s->ninst++;
	return true;
}

/* Whether a dead mount of dev is ours to heal.  true: proven ours (the device found dead at our
 * mountpoint, one the operator named, or one claimed for our mountpoint); false with why empty:
 * an orphan the operator asked us to take; false with why set: left, and why. */
static bool proven_ours(const struct scan *s, const struct mntent_info *m, dev_t dev, char *why, size_t size)
{
	const struct rebind_req *q = s->req;
	if (q->live && dev == q->live)
		return true;
	for (size_t i = 0; i < q->ndevs; i++)
		if (q->devs[i] == dev)
			return true;
	for (size_t i = 0; i < s->ninst; i++)
		if (s->inst[i].dev == dev) {
			snprintf(why, size, "it belongs to the lxcfs mounted at %s", s->inst[i].mountpoint);
			return false;
		}
	const char *owner = claims_owner(&s->claims, dev);
	if (owner && strcmp(owner, s->path) == 0)
		return true;
	if (owner)
		snprintf(why, size, "%s claims it for the lxcfs of %s, which heals it at its next start "
			 "(`lxcfs --rebind --dead-dev %u:%u` takes it)", CLAIM_DIR, owner, major(dev), minor(dev));
	else if (strcmp(m->root, "/") == 0)
		snprintf(why, size, "a whole lxcfs tree of unknown origin (a nested lxcfs's own mount?)");
	else if (!q->orphans)
		snprintf(why, size, "no lxcfs instance claims device %u:%u (upstream's, stopped?); "
			 "`lxcfs --rebind --orphans` takes such mounts", major(dev), minor(dev));
	return false;
}

static bool known_alive(const struct scan *s, dev_t dev)
{
	for (size_t i = 0; i < s->nalive; i++)
		if (s->alive[i] == dev)
			return true;
	return false;
}

/* The other instances mounted in our namespace are asked once, by a child running while the pass
 * heals (a daemon that does not answer must not stall it).  A device whose root answers is live
 * in every namespace (one superblock, one connection): its mounts elsewhere are left without a
 * visit, so a start on a host of per-container instances enters only the namespaces that may
 * hold something to heal, not every container's.  What fails or does not answer is visited as
 * before (a dead one is said to be left; a hung one is skipped everywhere).
 * Records on the pipe: the device, then whether it answered (0 before asking, 1 after). */
struct probe_rec {
	dev_t dev;
	int answered;
};

static bool probe_wanted(const struct scan *s, dev_t dev)
{
	const struct rebind_req *q = s->req;
	if (dev == s->ours || (q->live && dev == q->live))
		return false;
	for (size_t i = 0; i < q->ndevs; i++)
		if (q->devs[i] == dev)
			return false;
	return true;
}

static void probe_one(const char *mountpoint, dev_t dev, int out)
{
	/* O_PATH and a statx that must not sync ask the daemon nothing: st_dev says which mount is
	 * on top there; fstatfs then asks it (a stat could be answered from the kernel's cache). */
	int fd = open(mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct statx sx;
	if (fd < 0)
		return;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &sx) == 0 &&
	    makedev(sx.stx_dev_major, sx.stx_dev_minor) == dev) {
		struct probe_rec r = { dev, 0 };
		struct statfs sf;
		if (write(out, &r, sizeof(r)) != sizeof(r))
			_exit(1);
		r.answered = fstatfs(fd, &sf) == 0;
		if (write(out, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	close(fd);
}

static void probe_start(struct scan *s)
{
	int p[2];
	s->prober = -1;
	s->probe_fd = -1;
	if (s->req->release || pipe2(p, O_CLOEXEC) < 0)
		return;
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (size_t i = 0; i < s->ninst; i++)
			if (probe_wanted(s, s->inst[i].dev))
				probe_one(s->inst[i].mountpoint, s->inst[i].dev, p[1]);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return;
	}
	s->prober = pid;
	s->probe_fd = p[0];
	s->probe_started_ms = mono_ms();
}

/* Waits for the prober, at most NS_TIMEOUT_MS from its start, and takes what it found. */
static void probe_finish(struct scan *s)
{
	if (s->prober < 0)
		return;
	long spent = (long)(mono_ms() - s->probe_started_ms);
	int status = 0;
	bool timed_out = child_wait(s->prober, spent < NS_TIMEOUT_MS ? NS_TIMEOUT_MS - (int)spent : 0, &status) ==
			 -ETIMEDOUT;
	struct probe_rec r, last = { 0 };
	while (read(s->probe_fd, &r, sizeof(r)) == (ssize_t)sizeof(r)) {
		last = r;
		if (!r.answered)
			continue;
		dev_t *more = reallocarray(s->alive, s->nalive + 1, sizeof(*more));
		if (more) {
			s->alive = more;
			s->alive[s->nalive++] = r.dev;
		}
	}
	if (timed_out && last.dev && !last.answered) {
		const char *at = "?";
		for (size_t i = 0; i < s->ninst; i++)
			if (s->inst[i].dev == last.dev)
				at = s->inst[i].mountpoint;
		log_error("rebind: the lxcfs mounted at %s (device %u:%u) does not answer; its mounts are skipped "
			  "everywhere", at, major(last.dev), minor(last.dev));
		if (s->nhung < sizeof(s->hung) / sizeof(s->hung[0]))
			s->hung[s->nhung++] = last.dev;
	}
	close(s->probe_fd);
	s->prober = -1;
}

static bool note_candidate(const struct mntent_info *m, void *arg)
{
	struct scan *s = arg;
	dev_t dev = makedev(m->major, m->minor);
	bool release = s->req->release;
	/* healing takes other devices' mounts; a release takes ours, but for the mountpoint */
	if (!mountinfo_is_lxcfs(m) || (dev == s->ours) != release || m->id == s->our_id)
		return true;
	if (s->n == s->cap) {
		struct cand *more = reallocarray(s->c, s->cap * 2, sizeof(*s->c));
		if (!more) {
			log_error("rebind: out of memory: lxcfs mount %d at '%s' left as it is", m->id, m->root);
			return true;
		}
		s->c = more;
		s->cap *= 2;
	}
	struct cand *c = &s->c[s->n];
	*c = (struct cand){ .id = m->id, .dev = dev, .tree = -1 };
	note_seen(s, dev);
	char why[PATH_MAX + 160] = "";
	c->proven = release || proven_ours(s, m, dev, why, sizeof(why));
	c->live = s->req->live && dev == s->req->live;
	if (c->live) {
		int *more = reallocarray(s->live_ids, s->nlive + 1, sizeof(*more));
		if (more) {
			s->live_ids = more;
			s->live_ids[s->nlive++] = m->id;
		}
	}
	c->release = release;
	for (size_t i = 0; i < s->nhung; i++)
		c->hung |= s->hung[i] == dev;
	if (!why[0] && !path_clean_abs(m->root))
		snprintf(why, sizeof(why), "its root '%s' is not a path of the tree", m->root);
	if (why[0] && !release && !c->live && known_alive(s, dev)) {
		s->skipped++;
		return true; /* another's, and it answers: nothing to heal or to say */
	}
	c->root = strdup(m->root);
	c->why_left = why[0] ? strdup(why) : NULL;
	c->mountpoint = release ? strdup(m->mountpoint) : NULL;
	if (c->root && (c->mountpoint || !release)) {
		s->n++;
	} else {
		free(c->root);
		free(c->mountpoint);
		free(c->why_left);
		log_error("rebind: out of memory: lxcfs mount %d at '%s' left as it is", m->id, m->root);
	}
	return true;
}

static void free_candidates(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->c[i].root);
		free(s->c[i].mountpoint);
		free(s->c[i].why_left);
		if (s->c[i].tree >= 0)
			close(s->c[i].tree);
	}
	s->n = 0;
}

/* In a child: one namespace healed, its total reported.  Never returns. */
static void heal_namespace(int nsfd, int mntfd, const char *mnt, struct scan *s, const char *who, int out)
{
	struct ns_result res = { 0 };
	struct heal_home home = heal_home_open(mntfd, mnt);
	heal_in(&home, nsfd, s->c, s->n, who, out, &res);
	res.done = true;
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(2);
	_exit(0);
}

/* A namespace's result into the stats (cr: how its child ended), a hung device noted. */
static void account(const struct ns_result *r, int cr, const char *who, struct scan *s, struct rebind_stats *stats)
{
	struct ns_result res = *r;
	if (cr == -ETIMEDOUT && res.probing && s->nhung < sizeof(s->hung) / sizeof(s->hung[0]))
		s->hung[s->nhung++] = res.probing;
	if (cr == -ETIMEDOUT)
		log_error("rebind: %s: timed out on a mount of device %u:%u, whose daemon does not "
			  "answer; what came after it there is not healed, and its mounts elsewhere "
			  "are skipped", who, major(res.probing), minor(res.probing));
	else if (cr < 0)
		log_error("rebind: %s: %s", who, strerror(-cr));
	res.failed += cr < 0;
	stats->namespaces++;
	stats->healed += res.healed;
	stats->failed += res.failed;
	stats->left += res.left;
}

/* Namespaces no runner took: failed. */
static void untaken(struct rebind_stats *stats, size_t n)
{
	stats->namespaces += (unsigned)n;
	stats->failed += (unsigned)n;
}

/* The pass as the runners' pool hears it: a namespace done, into the stats. */
struct pass {
	struct scan *s;
	struct rebind_stats *stats;
};

static void pass_done(const struct ns_result *r, int cr, const char *who, void *arg)
{
	struct pass *p = arg;
	account(r, cr, who, p->s, p->stats);
}

/* A namespace healed by a child of its own within bound_ms: one that may hang (NS_TIMEOUT_MS), or
 * one too big for the runners' queue.  Its reports are read as they come (a namespace of many
 * mounts fills a pipe); the last one says how far it got, and which device it was asking if it
 * had to be killed. */
static void heal_alone(int nsfd, int mntfd, const char *mnt, struct scan *s, const char *who, int bound_ms,
		       struct rebind_stats *stats)
{
	int rd = -1, wr = -1;
	pid_t pid = fork_reporting(&rd, &wr);
	if (pid == 0)
		heal_namespace(nsfd, mntfd, mnt, s, who, wr);
	if (pid < 0) {
		account(&(struct ns_result){ 0 }, (int)pid, who, s, stats);
		return;
	}
	struct ns_result res = { 0 }, r;
	bool any = false, timed_out = false;
	uint64_t deadline = mono_ms() + (uint64_t)bound_ms;
	for (;;) {
		ssize_t got;
		while ((got = read(rd, &r, sizeof(r))) == (ssize_t)sizeof(r)) {
			res = r;
			any = true;
		}
		if (got == 0)
			break; /* the child closed its end: it is done */
		uint64_t now = mono_ms();
		struct pollfd p = { .fd = rd, .events = POLLIN };
		if (now >= deadline || (poll(&p, 1, (int)(deadline - now)) < 0 && errno != EINTR)) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (read(rd, &r, sizeof(r)) == (ssize_t)sizeof(r)) { /* what came after the last poll */
		res = r;
		any = true;
	}
	close(rd);
	account(&res, timed_out ? -ETIMEDOUT : any ? 0 : -EIO, who, s, stats);
}

/* A namespace with candidates s->c: queued for the runners, or (one that may hang, or too big
 * for a message) healed or judged by a child of its own at once. */
static void send_off(struct pool *pool, struct scan *s, const struct ns *ns, uint64_t top, int mntfd,
		     const char *path, struct rebind_stats *stats)
{
	int nsfd = ns_open(ns);
	if (nsfd < 0)
		return; /* its process is gone (so is, most likely, the namespace), or the pid reused */
	char who[2 * PATH_MAX];
	ns_name(ns, top, s->our_root, who, sizeof(who));
	/* A mount not proven ours (an orphan, another instance's) may hang on a daemon that does not
	 * answer: such a namespace is healed alone, so that a hang costs one bound wait and its
	 * device is skipped everywhere after (the queued ones are ours, whose dead connection fails
	 * at once). */
	bool alone = false;
	for (size_t i = 0; i < s->n; i++) {
		alone = alone || !s->c[i].proven;
		if (!s->c[i].why_left && !s->c[i].release)
			fresh_hold(&s->fresh, s->c[i].root); /* before a child clones it */
	}
	int r = alone ? 0 : pool_queue(pool, s->c, s->n, nsfd, who);
	if (r == -E2BIG)
		log_info("rebind: %s: %zu lxcfs mounts, more than a message to the runners holds: healed by a "
			 "child of its own", who, s->n);
	if (alone || r == -E2BIG || r == -EAGAIN) /* (-EAGAIN: no runner, the queue full) */
		heal_alone(nsfd, mntfd, path, s, who, alone ? NS_TIMEOUT_MS : NS_PROVEN_TIMEOUT_MS, stats);
	else if (r < 0)
		account(&(struct ns_result){ 0 }, r, who, s, stats);
	close(nsfd);
}

/* One namespace: its candidates, sent off if there are any.  With later: a namespace whose
 * candidates are all left to others is not entered but marked.  Its fd is opened only then:
 * most namespaces of a start hold nothing to heal (and a walked one's process is checked to
 * be still in it after its mounts were read through it). */
static void visit(struct pool *pool, struct scan *s, const struct ns *ns, int mntfd, const char *path,
		  bool *later, struct rebind_stats *stats)
{
	/* (mount ids are global: the child finds the candidates again from inside) */
	s->skipped = 0;
	uint64_t top;
	ns_each_fuse(ns, note_candidate, s, &top);
	stats->unvisited += !s->n && s->skipped;
	bool ours = false;
	for (size_t i = 0; i < s->n && !ours; i++)
		ours = !s->c[i].why_left || s->c[i].release;
	if (s->n && later && !ours)
		*later = true;
	else if (s->n)
		send_off(pool, s, ns, top, mntfd, path, stats);
	free_candidates(s);
}

/* The live mount at mnt to heal from: an O_PATH fd of it, its canonical path and device; or -errno
 * (said why). */
static int open_live(const char *mnt, char *path, size_t size, dev_t *ours)
{
	int r = mount_canonical(mnt, path, size);
	if (r == 0)
		r = live_lxcfs_at(path, ours, MOUNT_PROBE_MS);
	if (r < 0) {
		log_error("rebind: %s is not a live lxcfs mount (%s); nothing to rebind from", mnt, strerror(-r));
		return r;
	}
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Says what this pass heals beyond our own mountpoint's dead mounts. */
static void log_request(const struct rebind_req *req, const char *path)
{
	for (size_t i = 0; i < req->ndevs; i++)
		log_info("rebind: dead mounts of device %u:%u are healed from %s", major(req->devs[i]),
			 minor(req->devs[i]), path);
	if (req->live)
		log_info("rebind: mounts of the live lxcfs %u:%u move to %s", major(req->live), minor(req->live), path);
	if (req->orphans)
		log_info("rebind: orphans (dead binds of a device no lxcfs claims or mounts) are healed "
			 "from %s, as asked", path);
}

struct visiting {
	struct pool *pool;
	struct scan *s;
	int mntfd;
	const char *path;
	struct rebind_stats *stats;
};

static void visit_ready(struct ns_set *w, size_t k, void *arg)
{
	struct visiting *x = arg;
	visit(x->pool, x->s, &w->v[k], x->mntfd, x->path, &w->v[k].later, x->stats);
}

static void visit_again(struct ns_set *w, size_t k, void *arg)
{
	struct visiting *x = arg;
	visit(x->pool, x->s, &w->v[k], x->mntfd, x->path, NULL, x->stats);
}

/* Every mount namespace: first those with something we may heal, each as the kernel's list or
 * the walk of /proc finds it (the runners heal the first while it goes on); those holding only
 * others' mounts once the prober has said which of those answer (most of them, then, need no
 * visit). */
static void visit_all(struct scan *s, int mntfd, const char *path, uint64_t t0, struct rebind_stats *stats)
{
	probe_start(s);
	struct pool pool;
	struct pass pass = { s, stats };
	pool_init(&pool, mntfd, path, pass_done, &pass, s->hung, &s->nhung);
	struct visiting x = { &pool, s, mntfd, path, stats };
	struct ns_set w = { .ready = s->req->release ? NULL : visit_ready, .arg = &x };
	/* (a release reads every namespace's mounts before the first goes: through its processes) */
	if (s->req->release || !ns_can_list(s->our_id, s->ours, s->our_root, sizeof(s->our_root)) || ns_list(&w) < 0)
		ns_walk(&w);
	stats->met = w.met;
	stats->listed = w.listed;
	stats->walk_ms = mono_since_ms(t0);
	if (s->req->release) {
		ns_read_mounts(&w);
		for (size_t k = 0; k < w.n; k++)
			visit_ready(&w, k, &x);
	}
	untaken(stats, pool_finish(&pool));
	probe_finish(s); /* (the hung devices are known before the second round) */
	ns_again(&w, visit_again, &x);
	untaken(stats, pool_finish(&pool));
	ns_set_free(&w);
}

static void scan_free(struct scan *s)
{
	free(s->alive);
	free(s->live_ids);
	claims_free(&s->claims);
	free(s->seen);
	for (size_t i = 0; i < s->ninst; i++)
		free(s->inst[i].mountpoint);
	free(s->inst);
	free(s->c);
	fresh_free(&s->fresh);
}

int rebind_all(const char *mnt, const struct rebind_req *req, struct rebind_stats *stats)
{
	char path[PATH_MAX];
	dev_t ours;
	int mntfd = open_live(mnt, path, sizeof(path), &ours);
	if (mntfd < 0)
		return mntfd;
	struct scan s = { .ours = ours, .path = path, .req = req,
			  .c = calloc(FIRST_CANDIDATES, sizeof(struct cand)), .cap = FIRST_CANDIDATES };
	if (!s.c) {
		close(mntfd);
		return -ENOMEM;
	}
	fresh_init(&s.fresh, mntfd);
	time_t started = time(NULL);
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	int loaded = claims_load(req->claim_dir, &s.claims);
	if (loaded < 0)
		log_error("rebind: cannot read the claims in %s (%s): only mounts named or found dead at %s "
			  "are healed", req->claim_dir, strerror(-loaded), path);
	log_request(req, path);
	mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", note_instance, &s);
	*stats = (struct rebind_stats){ 0 };
	visit_all(&s, mntfd, path, t0, stats);
	if (req->live)
		stats->still_open = (unsigned)drain_wait(s.live_ids, s.nlive, DRAIN_TIMEOUT_MS);
	note_seen(&s, ours);
	if (loaded == 0)
		claims_prune(req->claim_dir, &s.claims, s.seen, s.nseen, started);
	scan_free(&s);
	close(mntfd);
	return 0;
}
