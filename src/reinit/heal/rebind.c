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

#include <linux/magic.h>

#include "lib/buf.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mntns.h"
#include "lib/procfs.h"
#include "lib/mount.h"
#include "lib/mountinfo.h"
#include "lib/parse.h"
#include "fs/fault.h"
#include "reinit/claim.h"
#include "reinit/heal/drain.h"
#include "reinit/heal/heal.h"
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

/* A walked namespace's name in the log: its inode, then its process and what that belongs to:
 * its cgroup v2 path, else (the unified hierarchy of a hybrid host has everyone at "/") its first
 * hierarchy's that says more (LXC names them lxc.payload.NAME). */
static void describe_pid(ino_t ino, pid_t pid, char *dst, size_t size)
{
	char path[64];
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(dst, size, "mount namespace %lu (pid %d)", (unsigned long)ino, (int)pid);
	const char *best = NULL, *line;
	size_t pos = 0, len, bestlen = 0;
	int rank = 0; /* 3: v2 path, 2: another hierarchy's, 1: "/" */
	if (file_read(path, &b) == 0)
		while (next_line(b.data, b.len, &pos, &line, &len)) {
			const char *c1 = memchr(line, ':', len);
			const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
			if (!c2)
				continue;
			const char *p = c2 + 1;
			size_t plen = len - (size_t)(p - line);
			int r = plen == 1 && *p == '/' ? 1 : c1 == line + 1 && line[0] == '0' ? 3 : 2;
			if (r > rank) {
				rank = r;
				best = p;
				bestlen = plen;
			}
		}
	if (best)
		snprintf(dst, size, "mount namespace %lu (pid %d, cgroup %.*s)", (unsigned long)ino, (int)pid,
			 (int)bestlen, best);
	buf_free(&b);
}

/* In a child: one namespace healed, its total reported.  Never returns. */
static void heal_namespace(int nsfd, int mntfd, const char *mnt, struct scan *s, const char *who, int out)
{
	struct ns_result res = { 0 };
	int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	heal_in(nsfd, procfd, mntfd, mnt, s->c, s->n, who, out, &res);
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

struct ns {
	ino_t ino;
	uint64_t id; /* listed: the kernel's id of it */
	int fd;      /* listed: its nsfd, while it is handed over */
	pid_t pid; /* walked: the process it is read through and named by: see walk_process */
	bool whole; /* pid's root is the namespace's */
	bool init; /* pid is its pid namespace's first process */
	bool later; /* only others' mounts in it: visited again once the prober has answered */
	struct buf mounts; /* a release's: its mountinfo, read before anything is released */
};

/* The walk of /proc: every mount namespace met, found again by its inode through slot (an index
 * into v plus one; 0: free), and handed to ready as soon as its reader is known. */
struct ns_walk {
	struct ns *v;
	size_t n, cap;
	size_t *slot;
	size_t nslot; /* a power of two, more than twice n */
	void (*ready)(struct ns_walk *w, size_t k, void *arg);
	void *arg;
	uint64_t own_pidns; /* the walker's pid namespace (0: unknown) */
	unsigned met;       /* processes walked, or namespaces listed */
	bool listed;        /* from the kernel's list, not a walk of /proc */
};

static size_t slot_of(const struct ns_walk *w, ino_t ino)
{
	size_t m = w->nslot - 1, i = (size_t)(((uint64_t)ino * UINT64_C(0x9e3779b97f4a7c15)) >> 32) & m;
	while (w->slot[i] && w->v[w->slot[i] - 1].ino != ino)
		i = (i + 1) & m;
	return i;
}

/* The namespace of ino, added (read through pid until a better reader comes) if it is new: its
 * index, or -1 without memory. */
static ssize_t walk_ns(struct ns_walk *w, ino_t ino, pid_t pid)
{
	if (2 * (w->n + 1) >= w->nslot) {
		size_t nslot = w->nslot ? 2 * w->nslot : 1024, *old = w->slot, oldn = w->nslot;
		if (!(w->slot = calloc(nslot, sizeof(*w->slot)))) {
			w->slot = old;
			return -1;
		}
		w->nslot = nslot;
		for (size_t i = 0; i < oldn; i++)
			if (old[i])
				w->slot[slot_of(w, w->v[old[i] - 1].ino)] = old[i];
		free(old);
	}
	size_t i = slot_of(w, ino);
	if (w->slot[i])
		return (ssize_t)(w->slot[i] - 1);
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		struct ns *v = reallocarray(w->v, cap, sizeof(*v));
		if (!v)
			return -1;
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n] = (struct ns){ .ino = ino, .fd = -1, .pid = pid, .mounts = BUF_INIT };
	w->slot[i] = ++w->n;
	return (ssize_t)(w->n - 1);
}

/* Whether pid's root is its namespace's: a chrooted process (postfix's daemons, say) reads in
 * its mountinfo only the mounts beneath its root, and would hide the container's binds. */
static bool sees_whole(pid_t pid)
{
	char p[64], t[2];
	snprintf(p, sizeof(p), "/proc/%d/root", (int)pid);
	return readlink(p, t, sizeof(t)) == 1 && t[0] == '/';
}

/* Whether pid is the first process of its pid namespace: a container's init.  In the walker's
 * own pid namespace only its pid 1 is one, which the link of the process's pid namespace says in
 * one readlink, without the status file (the host's processes; a namespace whose init the walk
 * cannot read, or has not met yet, asks this of each of its processes). */
static bool ns_init(const struct ns_walk *w, pid_t pid)
{
	uint64_t pidns;
	if (w->own_pidns && proc_ns_inode(pid, "pid", &pidns) == 0 && pidns == w->own_pidns)
		return pid == 1;
	pid_t inner, ppid;
	return proc_status_ids(pid, &inner, &ppid) == 0 && inner == 1;
}

/* One process of the walk, which goes up the pids.  A namespace is read through, and named by,
 * the init of a pid namespace in it (a container's), ready the moment the walk meets it; one
 * with none (a service's own, one made by unshare) through its lowest pid whose root is the
 * namespace's, once the walk is done.  Not simply the lowest pid: pids wrap, and a process
 * lxc-attach put in later may then come first, in a cgroup of its own.  Nor the oldest process:
 * that takes a read of every process's stat for its start time (on a host of a thousand
 * containers of twenty processes, 20,000 reads) and the whole walk before the first heal. */
static int walk_process(pid_t pid, void *arg)
{
	struct ns_walk *w = arg;
	uint64_t ino;
	w->met++;
	if (proc_ns_inode(pid, "mnt", &ino) < 0)
		return 0; /* gone */
	ssize_t k = walk_ns(w, (ino_t)ino, pid);
	if (k < 0)
		return 1;
	struct ns *ns = &w->v[k];
	if (ns->init || !sees_whole(pid))
		return 0;
	if (!ns->whole) {
		ns->pid = pid;
		ns->whole = true;
	}
	if (!ns_init(w, pid))
		return 0;
	ns->pid = pid;
	ns->init = true;
	if (w->ready)
		w->ready(w, (size_t)k, w->arg);
	return 0;
}

/* Every mount namespace of the host's processes, each handed to w->ready once: those with an
 * init as the walk finds it (a container's own before those its services made, whose binds are
 * slaves of its and healed with them), then the others. */
static void walk_namespaces(struct ns_walk *w)
{
	/* (only where /proc numbers pids as our pid namespace does: its pid 1 is then our init) */
	char self[32];
	ssize_t n = readlink("/proc/self", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	if (atoi(self) != getpid() || proc_ns_inode(getpid(), "pid", &w->own_pidns) < 0)
		w->own_pidns = 0;
	proc_each_pid(walk_process, w);
	for (size_t k = 0; k < w->n; k++)
		if (!w->v[k].init && w->ready)
			w->ready(w, k, w->arg);
}

static void walk_free(struct ns_walk *w)
{
	for (size_t k = 0; k < w->n; k++)
		buf_free(&w->v[k].mounts);
	free(w->v);
	free(w->slot);
}

/* Opens the mount namespace of pid, if that process still has the one (inode ino) walked. */
static int open_ns(pid_t pid, ino_t ino)
{
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_ino != ino)) {
		close(fd); /* the pid was reused meanwhile */
		fd = -1;
	}
	return fd;
}

/* What shows at "/" in the namespace id (top: that mount), as "SOURCE:ROOT".  0 or -errno. */
static int root_name(uint64_t id, uint64_t top, char *dst, size_t size)
{
	char src[256], root[PATH_MAX];
	int r = mntns_root_of(id, top, src, sizeof(src), root, sizeof(root));
	if (r == 0)
		snprintf(dst, size, "%s:%s", src, root);
	return r;
}

/* A namespace's name in the log.  Listed, it has no process: its inode (as lsns and
 * /proc/PID/ns/mnt show it), and what shows at its "/" (top: that mount's id) when it is not
 * ours, which names a container: "/dev/vda1:/var/lib/lxc/NAME/rootfs", LXD's ".../containers/NAME",
 * a ZFS dataset "POOL/containers/NAME:/". */
static void describe_ns(const struct scan *s, const struct ns *ns, uint64_t top, char *dst, size_t size)
{
	char name[sizeof(s->our_root)];
	if (ns->pid)
		describe_pid(ns->ino, ns->pid, dst, size);
	else if (top && root_name(ns->id, top, name, sizeof(name)) == 0 && strcmp(name, s->our_root) != 0)
		snprintf(dst, size, "mount namespace %lu (root %s)", (unsigned long)ns->ino, name);
	else
		snprintf(dst, size, "mount namespace %lu", (unsigned long)ns->ino);
}

struct found_ours {
	const struct scan *s;
	bool found;
};

static bool is_ours(const struct mntent_info *m, void *arg)
{
	struct found_ours *f = arg;
	f->found |= m->id == f->s->our_id && makedev(m->major, m->minor) == f->s->ours && mountinfo_is_lxcfs(m);
	return !f->found;
}

/* Whether the kernel's list of mount namespaces serves the pass: where it shows what a walk of
 * /proc would (our pid namespace is the host's: an lxcfs in a container that shares the host's
 * user namespace could list the host's namespaces, and must heal only its own), and where
 * statmount says of our own mount what our mountinfo says (Linux 6.13 and later).  The name of
 * what shows at our "/" is kept, to name the others'. */
static bool can_list(struct scan *s)
{
	char pidns[32];
	ssize_t n = readlink("/proc/self/ns/pid", pidns, sizeof(pidns) - 1);
	pidns[n > 0 ? n : 0] = '\0';
	if (strcmp(pidns, "pid:[4026531836]") != 0 || fault_long("LXCFS_FAULT_REBIND_WALK_PROC", 0))
		return false; /* (the host's: PROC_PID_INIT_INO, fixed) */
	struct mntns me;
	struct found_ours f = { s, false };
	uint64_t top = 0;
	if (mntns_self(&me) < 0)
		return false;
	if (mntns_each_of(me.id, FUSE_SUPER_MAGIC, is_ours, &f, &top) == 0 && f.found && top)
		root_name(me.id, top, s->our_root, sizeof(s->our_root));
	mntns_close(&me);
	return f.found;
}

/* Every mount namespace from the kernel's list, each handed to w->ready as it comes, in the
 * order they were made (a container's before those its services made, whose binds are slaves
 * of its and healed with them).  0, or -errno before the first if there is no list. */
static int list_namespaces(struct ns_walk *w)
{
	struct mntns it;
	int r = mntns_first(&it);
	if (r < 0)
		return r;
	w->listed = true;
	do {
		ssize_t k = walk_ns(w, (ino_t)it.ino, 0);
		w->met++;
		if (k < 0) {
			r = -ENOMEM;
			break;
		}
		w->v[k].id = it.id;
		w->v[k].fd = it.fd;
		if (w->ready)
			w->ready(w, (size_t)k, w->arg);
		w->v[k].fd = -1;
	} while ((r = mntns_next(&it)) == 0);
	mntns_close(&it);
	if (r != -ENOENT)
		log_error("rebind: the list of mount namespaces ended after %u: %s; the others are not healed", w->met,
			  strerror(-r));
	return 0;
}

/* One namespace: its candidates; if there are any, queued for the runners, or (one that may
 * hang) healed or judged by a child of its own at once.  With later: a namespace whose
 * candidates are all left to others is not entered but marked. */
static void visit(struct pool *pool, struct scan *s, const struct ns *ns, int mntfd, const char *path,
		  bool *later, struct rebind_stats *stats)
{
	char p[PATH_MAX];
	int nsfd = ns->pid ? open_ns(ns->pid, ns->ino) : ns->fd;
	if (nsfd < 0)
		return; /* its process is gone (so is, most likely, the namespace), or the pid reused */
	/* Candidates from the namespace as the kernel lists it, or as its process sees it; mount
	 * ids are global, so the child finds them again from inside. */
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)ns->pid);
	s->skipped = 0;
	uint64_t top = 0;
	if (!ns->pid)
		mntns_each_of(ns->id, FUSE_SUPER_MAGIC, note_candidate, s, &top); /* (a namespace gone meanwhile has none) */
	else if (ns->mounts.data)
		mountinfo_each_text(ns->mounts.data, ns->mounts.len, note_candidate, s);
	else
		mountinfo_each(AT_FDCWD, p, note_candidate, s);
	stats->unvisited += !s->n && s->skipped;
	bool ours = false;
	for (size_t i = 0; i < s->n && !ours; i++)
		ours = !s->c[i].why_left || s->c[i].release;
	if (s->n && later && !ours) {
		*later = true;
	} else if (s->n) {
		char who[2 * PATH_MAX];
		describe_ns(s, ns, top, who, sizeof(who));
		/* A mount not proven ours (an orphan, another instance's) may hang on a daemon that
		 * does not answer: such a namespace is healed alone, so that a hang costs one bound
		 * wait and its device is skipped everywhere after (the queued ones are ours, whose
		 * dead connection fails at once). */
		bool alone = false;
		for (size_t i = 0; i < s->n && !alone; i++)
			alone = !s->c[i].proven;
		int r = alone ? 0 : pool_queue(pool, s->c, s->n, nsfd, who);
		if (r == -E2BIG)
			log_info("rebind: %s: %zu lxcfs mounts, more than a message to the runners holds: "
				 "healed by a child of its own", who, s->n);
		if (alone || r == -E2BIG || r == -EAGAIN) /* (-EAGAIN: no runner, the queue full) */
			heal_alone(nsfd, mntfd, path, s, who, alone ? NS_TIMEOUT_MS : NS_PROVEN_TIMEOUT_MS, stats);
		else if (r < 0)
			account(&(struct ns_result){ 0 }, r, who, s, stats);
	}
	free_candidates(s);
	if (ns->pid)
		close(nsfd);
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

/* A release reads every namespace's mounts before the first goes: an unmount in one namespace
 * can take our top binds in others with it (peers, see release_at), and a namespace scanned
 * after that would show only the dead lxcfs beneath, which is not ours to take. */
static void read_mounts_first(struct ns *all, size_t nns)
{
	char p[64];
	for (size_t k = 0; k < nns; k++) {
		snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)all[k].pid);
		if (file_read_at(AT_FDCWD, p, &all[k].mounts) < 0)
			buf_free(&all[k].mounts); /* gone: visit finds it so, as without */
	}
}

struct visiting {
	struct pool *pool;
	struct scan *s;
	int mntfd;
	const char *path;
	struct rebind_stats *stats;
};

static void visit_ready(struct ns_walk *w, size_t k, void *arg)
{
	struct visiting *x = arg;
	visit(x->pool, x->s, &w->v[k], x->mntfd, x->path, &w->v[k].later, x->stats);
}

/* The listed namespaces the first round marked later, listed again (their fds were not kept: on
 * a host of per-container instances every one is marked).  Both lists go by id. */
static void relist_later(struct ns_walk *w, struct visiting *x)
{
	struct mntns it;
	size_t k = 0;
	for (int r = mntns_first(&it); r == 0 && k < w->n; r = mntns_next(&it)) {
		while (k < w->n && (!w->v[k].later || w->v[k].id < it.id))
			k++;
		if (k < w->n && w->v[k].id == it.id) {
			w->v[k].fd = it.fd;
			visit(x->pool, x->s, &w->v[k], x->mntfd, x->path, NULL, x->stats);
			w->v[k].fd = -1;
		}
	}
	mntns_close(&it);
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
	struct ns_walk w = { .ready = s->req->release ? NULL : visit_ready, .arg = &x };
	/* (a release reads every namespace's mounts before the first goes: through its processes) */
	if (s->req->release || !can_list(s) || list_namespaces(&w) < 0)
		walk_namespaces(&w);
	stats->met = w.met;
	stats->listed = w.listed;
	stats->walk_ms = mono_since_ms(t0);
	if (s->req->release) {
		read_mounts_first(w.v, w.n);
		for (size_t k = 0; k < w.n; k++)
			visit_ready(&w, k, &x);
	}
	pool_finish(&pool, stats);
	probe_finish(s); /* (the hung devices are known before the second round) */
	if (w.listed)
		relist_later(&w, &x);
	else
		for (size_t k = 0; k < w.n; k++)
			if (w.v[k].later)
				visit(&pool, s, &w.v[k], mntfd, path, NULL, stats);
	pool_finish(&pool, stats);
	walk_free(&w);
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
