#include "reinit/heal/rebind.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <linux/openat2.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/child.h"
#include "lib/clock.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/procfs.h"
#include "lib/mount.h"
#include "lib/mountinfo.h"
#include "lib/parse.h"
#include "fs/fault.h"
#include "reinit/claim.h"
#include "reinit/heal/drain.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* Linux >= 6.5 */
#endif

#define NS_TIMEOUT_MS 5000
/* A namespace holding only mounts proven ours cannot hang (their connection is dead: every call
 * fails at once), so its bound is only a safety net, wide enough for 16 children sharing a busy
 * machine: timed out there, a child's mounts would stay dead for no reason. */
#define NS_PROVEN_TIMEOUT_MS 30000
#define DRAIN_TIMEOUT_MS 10000 /* for files opened on a replaced lxcfs before their mount moved */
#define FIRST_CANDIDATES 64 /* grown as a namespace needs: no mount is ever dropped for room */

/* A mount of another lxcfs device in some namespace: maybe dead, maybe ours to heal. */
struct cand {
	int id;
	dev_t dev;
	char *root;
	char *why_left; /* NULL: ours to heal if dead */
	bool proven;    /* ours by proof or by the operator's word, not an orphan */
	int tree;       /* the fresh bind, cloned before entering the namespace */
	int tree_err;   /* why it could not be cloned */
	bool hung;      /* its daemon did not answer in another namespace */
	bool live;      /* of the live lxcfs being replaced: moved although it answers */
	bool release;   /* ours, to be detached (lxcfs --release) */
};

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
	if (c->root) {
		s->n++;
	} else {
		free(c->why_left);
		log_error("rebind: out of memory: lxcfs mount %d at '%s' left as it is", m->id, m->root);
	}
	return true;
}

static void free_candidates(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->c[i].root);
		free(s->c[i].why_left);
		if (s->c[i].tree >= 0)
			close(s->c[i].tree);
	}
	s->n = 0;
}

/* What the namespace's first process belongs to, for the log: its cgroup v2 path, else (the
 * unified hierarchy of a hybrid host has everyone at "/") its first hierarchy's that says more
 * (LXC names them lxc.payload.NAME). */
static void describe_pid(pid_t pid, char *dst, size_t size)
{
	char path[64];
	struct buf b = BUF_INIT;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(dst, size, "mount namespace of pid %d", (int)pid);
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
		snprintf(dst, size, "mount namespace of pid %d (cgroup %.*s)", (int)pid, (int)bestlen, best);
	buf_free(&b);
}

struct live_mount {
	int id, parent;
	bool lxcfs;
	char *mountpoint;
};

struct ns_view {
	struct live_mount *m;
	size_t n;
};

static bool note_view(const struct mntent_info *m, void *arg)
{
	struct ns_view *v = arg;
	struct live_mount *n = realloc(v->m, (v->n + 1) * sizeof(*n));
	if (!n)
		return false;
	v->m = n;
	v->m[v->n++] = (struct live_mount){ .id = m->id, .parent = m->parent, .lxcfs = mountinfo_is_lxcfs(m),
					    .mountpoint = strdup(m->mountpoint) };
	return true;
}

/* Replaces the dead mount at mp by the fresh tree: beneath it, then the dead one goes (Linux >=
 * 6.5: readers never see what is under the mount); else over it, the dead one left below. */
static int replace(int tree, const char *mp, int *stacked)
{
	*stacked = 0;
	if (move_mount(tree, "", AT_FDCWD, mp, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_BENEATH) == 0) {
		if (umount2(mp, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
			int e = errno;
			log_warn("rebind: %s: the fresh mount is in place beneath, but the dead one over it "
				 "cannot be detached: %s", mp, strerror(e));
			return -e;
		}
		return 0;
	}
	/* EINVAL: no MOVE_MOUNT_BENEATH.  ENOENT: the kernel found the mount on top changed
	 * between its lookup and its lock, and says so again when asked again: seen for a few of
	 * the first namespaces when 16 runners start at once (bench/rebind, 1,000 namespaces, about
	 * one run in three; not understood).  Over it, readers see the fresh mount all the same. */
	int why = errno;
	if (why != EINVAL && why != ENOENT)
		return -why;
	if (move_mount(tree, "", AT_FDCWD, mp, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	*stacked = why;
	return 0;
}

struct ns_result {
	unsigned healed, failed, left;
	dev_t probing; /* the device of the mount being asked, 0 between mounts */
	unsigned ns;   /* a runner's: which namespace of the pass */
	bool done;     /* the namespace's total */
};

static int clone_beneath(int mntfd, const char *rel)
{
	struct open_how how = { .flags = O_PATH | O_CLOEXEC,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV |
					   RESOLVE_NO_MAGICLINKS };
	int fd = *rel ? (int)syscall(SYS_openat2, mntfd, rel, &how, sizeof(how)) : dup(mntfd);
	if (fd < 0 && errno == ENOSYS) /* before Linux 5.6: the root was checked for ".." steps */
		return open_tree(mntfd, rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
	if (fd < 0)
		return -1;
	int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	int e = errno;
	close(fd);
	errno = e;
	return tree;
}

static const struct live_mount *view_find(const struct ns_view *v, int id)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->m[j].id == id)
			return &v->m[j];
	return NULL;
}

/* A release: our mount at me goes, and with it any dead lxcfs mount it was stacked on (a kernel
 * without MOVE_MOUNT_BENEATH healed by stacking), so the path shows what is beneath. */
static void release_one(const struct live_mount *me, const struct ns_view *v, const char *who,
			struct ns_result *res)
{
	if (umount2(me->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0) {
		if (errno != EINVAL) { /* EINVAL: gone with a mount it was stacked on */
			log_error("rebind: %s: cannot detach %s: %s", who, me->mountpoint, strerror(errno));
			res->failed++;
		}
		return;
	}
	res->healed++;
	const struct live_mount *below = view_find(v, me->parent);
	struct statfs sf;
	while (below && below->lxcfs && below->mountpoint && strcmp(below->mountpoint, me->mountpoint) == 0 &&
	       statfs(me->mountpoint, &sf) < 0 && errno == ENOTCONN) {
		if (umount2(me->mountpoint, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
			break;
		below = view_find(v, below->parent);
	}
	log_info("rebind: %s: %s released: what is beneath (the kernel's file) shows again", who, me->mountpoint);
}

/* A child's progress, on its pipe.  A runner's (out < 0) needs none: its result lives in memory
 * the pass shares, read there if the runner has to be killed. */
static void report(int out, const struct ns_result *res)
{
	if (out >= 0 && write(out, res, sizeof(*res)) != sizeof(*res))
		_exit(2);
}

/* What a namespace's pass says: a line per kind of heal, and per device left alone, naming its
 * mounts; not a line per mount.  A host of 1,000 containers has 11,000 of them, past journald's
 * default rate limit (10,000 in 30 s), which would drop the summary and any error after them;
 * with an lxcfs per container (Incus), each start would also say every other instance's dead
 * mounts.  Heals are moved (a live lxcfs replaced) or rebound (a dead one), by how the fresh
 * mount went in. */
enum heal_way { PUT_BENEATH, PUT_OVER_REFUSED, PUT_OVER_NO_BENEATH, HEAL_WAYS };

#define SAID_NAMES_MAX 512 /* bytes of names in a line (a log line has 1,024); the rest are counted */

struct said_list {
	struct buf names;
	unsigned n, unnamed;
};

struct said_left {
	dev_t dev;
	const char *why; /* the candidate's, which outlives the pass */
	struct said_list l;
};

struct heal_said {
	struct said_list healed[2][HEAL_WAYS]; /* [live][way] */
	struct said_left *left;
	size_t nleft;
};

static void list_add(struct said_list *l, const char *mp, const char *mnt, const char *root)
{
	l->n++;
	if (l->names.len >= SAID_NAMES_MAX) {
		l->unnamed++;
		return;
	}
	if (l->n > 1)
		buf_puts(&l->names, ", ");
	buf_puts(&l->names, mp);
	if (mnt && strcmp(mp, root)) /* bound from elsewhere in the tree: say where */
		buf_printf(&l->names, " (%s%s)", mnt, strcmp(root, "/") ? root : "");
}

/* The names, and how many more there are; the list is emptied by list_done. */
static const char *list_text(struct said_list *l, char *more, size_t size)
{
	if (l->unnamed)
		snprintf(more, size, ", and %u more", l->unnamed);
	else
		more[0] = '\0';
	return buf_cstr(&l->names);
}

static void list_done(struct said_list *l)
{
	buf_free(&l->names);
	l->n = l->unnamed = 0;
}

static void said_left_alone(struct heal_said *h, dev_t dev, const char *why, const char *mp, const char *who)
{
	size_t i = 0;
	while (i < h->nleft && (h->left[i].dev != dev || strcmp(h->left[i].why, why)))
		i++;
	if (i == h->nleft) {
		struct said_left *more = reallocarray(h->left, h->nleft + 1, sizeof(*more));
		if (!more) { /* said alone, then */
			log_info("rebind: %s: dead lxcfs mount at %s (device %u:%u) left alone: %s", who, mp, major(dev),
				 minor(dev), why);
			return;
		}
		h->left = more;
		h->left[h->nleft++] = (struct said_left){ .dev = dev, .why = why };
	}
	list_add(&h->left[i].l, mp, NULL, NULL);
}

/* Says what was healed or left since the last time, and forgets it. */
static void said_flush(struct heal_said *h, const char *who, const char *mnt)
{
	static const char *const how[2][HEAL_WAYS] = {
		{ "", " (over the old ones, which stay below: the kernel refused to put them beneath)",
		  " (over the dead mounts: this kernel has no MOVE_MOUNT_BENEATH)" },
		{ "", " (over the old ones, which stay below: the kernel refused to put them beneath)",
		  " (over the replaced ones, which stay below: no MOVE_MOUNT_BENEATH)" },
	};
	char more[48];
	for (int live = 0; live < 2; live++)
		for (int way = 0; way < HEAL_WAYS; way++) {
			struct said_list *l = &h->healed[live][way];
			if (!l->n)
				continue;
			const char *names = list_text(l, more, sizeof(more));
			log_info("rebind: %s: %u mount(s) %s to %s%s: %s%s", who, l->n, live ? "moved" : "rebound", mnt,
				 how[live][way], names, more);
			list_done(l);
		}
	for (size_t i = 0; i < h->nleft; i++) {
		struct said_left *g = &h->left[i];
		const char *names = list_text(&g->l, more, sizeof(more));
		log_info("rebind: %s: %u dead lxcfs mount(s) at %s%s (device %u:%u) left alone: %s", who, g->l.n, names, more,
			 major(g->dev), minor(g->dev), g->why);
		list_done(&g->l);
	}
	free(h->left);
	h->left = NULL;
	h->nleft = 0;
}

/* Whether candidate c (mounted at me) is one to heal now: what readers see, dead (or, moving a
 * live lxcfs, alive), ours to judge.  What it is left for is counted and said. */
static bool to_heal(struct cand *c, const struct live_mount *me, const struct ns_view *v, const char *who,
		    struct ns_result *res, int out, struct heal_said *h)
{
	bool covered = false;
	for (size_t j = 0; j < v->n && !covered; j++)
		covered = v->m[j].parent == c->id && v->m[j].mountpoint && strcmp(v->m[j].mountpoint, me->mountpoint) == 0;
	if (covered)
		return false; /* something is mounted over it: not what readers see */
	if (c->hung) {
		if (!c->why_left)
			log_info("rebind: %s: %s (device %u:%u) skipped: its daemon did not answer before", who,
				 me->mountpoint, major(c->dev), minor(c->dev));
		res->failed += !c->why_left;
		return false;
	}
	struct statfs sf;
	res->probing = c->dev;
	report(out, res);
	int err = statfs(me->mountpoint, &sf) < 0 ? errno : 0;
	res->probing = 0;
	if (err != ENOTCONN && !(err == 0 && c->live)) {
		if (err)
			log_debug("rebind: %s: %s: %s; not a dead mount", who, me->mountpoint, strerror(err));
		return false; /* alive, or not ours to judge */
	}
	if (c->why_left) {
		said_left_alone(h, c->dev, c->why_left, me->mountpoint, who);
		res->left++;
		return false;
	}
	return true;
}

/* The device of the mount on top at path (dirfd, flags as statx's), without a request to its
 * daemon; 0 if it cannot be said. */
static dev_t dev_of(int dirfd, const char *path, int flags)
{
	struct statx sx;
	if (statx(dirfd, path, flags | AT_STATX_DONT_SYNC, 0, &sx) < 0)
		return 0;
	return makedev(sx.stx_dev_major, sx.stx_dev_minor);
}

/* One candidate, inside its namespace: dead and ours -> replaced by a bind of the live tree (and
 * checked, and added to what h says); dead and not ours -> said. */
static void heal_one(struct cand *c, const struct ns_view *v, const char *mnt, const char *who, struct ns_result *res,
		     int out, struct heal_said *h)
{
	const struct live_mount *me = view_find(v, c->id);
	if (!me || !me->mountpoint)
		return; /* gone meanwhile */
	if (c->release) { /* whatever covers it goes with it: our stacked copies, most likely */
		release_one(me, v, who, res);
		return;
	}
	if (!to_heal(c, me, v, who, res, out, h))
		return;
	if (c->tree < 0) {
		log_error("rebind: %s: %s cannot be healed: %s%s is not in the new tree (%s)", who, me->mountpoint,
			  mnt, c->root, strerror(c->tree_err));
		res->failed++;
		return;
	}
	int stacked; /* 0, or why the fresh mount went over the old one */
	/* What readers see afterwards is checked by the device on top, which the kernel says
	 * without asking the daemon (a statfs was a round trip to it per mount: 8% of a pass) */
	dev_t fresh = dev_of(c->tree, "", AT_EMPTY_PATH);
	int rr = replace(c->tree, me->mountpoint, &stacked);
	close(c->tree);
	c->tree = -1;
	if (rr < 0) {
		log_error("rebind: %s: %s cannot be healed: %s", who, me->mountpoint, strerror(-rr));
		res->failed++;
		return;
	}
	dev_t now = dev_of(AT_FDCWD, me->mountpoint, AT_SYMLINK_NOFOLLOW);
	if (!now || now != fresh) {
		log_error("rebind: %s: %s still shows device %u:%u after the rebind, not %u:%u", who, me->mountpoint,
			  major(now), minor(now), major(fresh), minor(fresh));
		res->failed++;
		return;
	}
	log_debug("rebind: %s: %s %s to %s%s", who, me->mountpoint, c->live ? "moved" : "rebound", mnt,
		  strcmp(c->root, "/") ? c->root : "");
	enum heal_way way = !stacked ? PUT_BENEATH : stacked == ENOENT ? PUT_OVER_REFUSED : PUT_OVER_NO_BENEATH;
	list_add(&h->healed[c->live][way], me->mountpoint, mnt, c->root);
	res->healed++;
}

/* In a child: clones the fresh trees (from our namespace), enters the namespace, heals its
 * candidates cs; res says how far it got, and goes out after each step, so that a child killed
 * for a hang still reports.  procfd: the host's /proc (the namespace's may belong to another pid
 * namespace, where we have no /proc/self). */
static void heal_in(int nsfd, int procfd, int mntfd, const char *mnt, struct cand *cs, size_t n, const char *who,
		    int out, struct ns_result *res)
{
	for (size_t i = 0; i < n; i++) {
		struct cand *c = &cs[i];
		if (c->why_left || c->release)
			continue;
		/* Cloning needs the source in the caller's namespace: before setns.  The path is
		 * resolved beneath the mount, through no symlink and no other mount: a root of the
		 * old tree can never name a host path in the new one. */
		c->tree = clone_beneath(mntfd, c->root + 1);
		c->tree_err = c->tree < 0 ? errno : 0;
	}
	if (setns(nsfd, CLONE_NEWNS) < 0) {
		log_error("rebind: cannot enter the mount namespace of %s: %s", who, strerror(errno));
		res->failed++;
		return;
	}
	struct ns_view v = { 0 };
	int r = mountinfo_each(procfd, "thread-self/mountinfo", note_view, &v);
	if (r < 0) {
		log_error("rebind: %s: cannot read its mounts: %s", who, strerror(-r));
		res->failed++;
	}
	/* Proven mounts first: they fail at once (their connection is gone), while an orphan or
	 * another instance's mount may hang on a daemon that does not answer, and a hang ends this
	 * child. */
	struct heal_said h = { 0 };
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < n; i++) {
			struct cand *c = &cs[i];
			int want = c->why_left ? 2 : c->proven ? 0 : 1;
			if (want != pass)
				continue;
			heal_one(c, &v, mnt, who, res, out, &h);
			report(out, res);
		}
		said_flush(&h, who, mnt); /* before the next pass, which may hang and end this child */
	}
	for (size_t j = 0; j < v.n; j++)
		free(v.m[j].mountpoint);
	free(v.m);
	for (size_t i = 0; i < n; i++)
		if (cs[i].tree >= 0) {
			close(cs[i].tree);
			cs[i].tree = -1;
		}
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

/* Runners at once (below; a namespace healed alone has its child to itself).  Their waits in the kernel overlap: with a child per namespace, bench/rebind's
 * 200 namespaces took 1059-1104 ms with 16 at once, 1181-1185 ms with 4 and 1669-1684 ms with
 * one (2 idle cpus).  A child that outlives its bound is killed (a mount of a daemon that does
 * not answer). */
#define MAX_JOBS 16

/* A child with a pipe for its reports: in the parent its pid, the read end (non-blocking) in
 * *rd; in the child 0, the write end (blocking) in *wr; or -errno. */
static pid_t fork_reporting(int *rd, int *wr)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		fcntl(p[1], F_SETFL, 0);
		*wr = p[1];
		return 0;
	}
	close(p[1]);
	*rd = p[0];
	return pid;
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

/* Opens the mount namespace of ns, if its process still has the one we scanned. */
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

/* The namespaces that may be healed side by side (their mounts are all proven ours: none can
 * hang) are healed by at most MAX_JOBS runners, each a child taking namespace after namespace
 * from a queue: a fork per runner, not per namespace.  On 2 cpus a fork, its copy-on-write
 * faults, the lazy binding of the child's first calls and its exit were the largest part of a
 * namespace's cost (bench/rebind, perf).  The pass queues each namespace as its scan finds it,
 * so the healing starts with the first one instead of after the scan (100-160 ms of a pass over
 * 1,000 namespaces).  The queue is a SOCK_SEQPACKET pair: a message per namespace, which one
 * runner takes whole; the pass keeps only each namespace's name, for the log. */
#define REC_MAX (128 * 1024) /* a namespace's message at most (below the socket's buffer); a
				* bigger one (3,000 mounts and more) is healed alone */

struct rec_head {
	uint32_t ns, n; /* its index in the pass, its candidates */
	uint64_t ino;
	int32_t pid;
	uint32_t who_len; /* with the NUL */
};

struct rec_cand {
	uint64_t dev;
	int32_t id;
	uint32_t root_len, why_len; /* with the NUL; why_len 0: ours to heal if dead */
	uint8_t proven, live, release, pad;
};

/* What the runners share with the pass: the devices found hung (a runner killed on one), whose
 * mounts are skipped from then on, and each runner's namespace at hand, as far as it got. */
struct batch_shared {
	unsigned nhung;
	dev_t hung[16];
	struct ns_result at[MAX_JOBS];
};

struct runner {
	pid_t pid;
	int pipe;
	unsigned slot; /* its result in the shared at[] */
	uint64_t deadline_ms; /* the bound since its last namespace done */
	unsigned last_done;   /* that namespace */
};

/* The runners of a round of the pass, and what it queued for them. */
struct pool {
	int mntfd;
	const char *mnt;
	int bound_ms;
	unsigned want, running;
	struct runner run[MAX_JOBS];
	struct batch_shared *sh; /* NULL until a first namespace is queued */
	int q[2];                /* the runners' end, ours (non-blocking) */
	char *msg;               /* a message being made */
	size_t rec_max;          /* its most: REC_MAX (less in tests) */
	char **who;              /* each queued namespace's name, by index */
	size_t n, cap, done;
};

static void pool_init(struct pool *p, int mntfd, const char *mnt)
{
	*p = (struct pool){ .mntfd = mntfd, .mnt = mnt, .q = { -1, -1 } };
}

/* The namespace at s (its candidates) as a message into p->msg: its length, or 0 if too big. */
static size_t rec_make(struct pool *p, const struct scan *s, uint32_t ns, ino_t ino, pid_t pid, const char *who)
{
	struct rec_head h = { .ns = ns, .n = (uint32_t)s->n, .ino = ino, .pid = pid, .who_len = (uint32_t)strlen(who) + 1 };
	size_t len = sizeof(h) + h.who_len;
	if (len > p->rec_max)
		return 0;
	memcpy(p->msg, &h, sizeof(h));
	memcpy(p->msg + sizeof(h), who, h.who_len);
	for (size_t i = 0; i < s->n; i++) {
		const struct cand *c = &s->c[i];
		struct rec_cand rc = { .dev = c->dev, .id = c->id, .root_len = (uint32_t)strlen(c->root) + 1,
				       .why_len = c->why_left ? (uint32_t)strlen(c->why_left) + 1 : 0,
				       .proven = c->proven, .live = c->live, .release = c->release };
		if (len + sizeof(rc) + rc.root_len + rc.why_len > p->rec_max)
			return 0;
		memcpy(p->msg + len, &rc, sizeof(rc));
		len += sizeof(rc);
		memcpy(p->msg + len, c->root, rc.root_len);
		len += rc.root_len;
		if (rc.why_len)
			memcpy(p->msg + len, c->why_left, rc.why_len);
		len += rc.why_len;
	}
	return len;
}

/* A string of len bytes (NUL included) at m + *at, within n: the string, or NULL. */
static char *rec_str(char *m, size_t n, size_t *at, uint32_t len)
{
	if (!len || len > n - *at || m[*at + len - 1] != '\0')
		return NULL;
	char *str = m + *at;
	*at += len;
	return str;
}

/* A message back into a namespace (h, *who) and its candidates (*cs, grown as needed; their
 * strings point into m): 0, or -EINVAL if it does not hold together. */
static int rec_read(char *m, size_t n, struct rec_head *h, char **who, struct cand **cs, size_t *cap)
{
	size_t at = sizeof(*h);
	if (n < at)
		return -EINVAL;
	memcpy(h, m, sizeof(*h));
	if (!(*who = rec_str(m, n, &at, h->who_len)))
		return -EINVAL;
	if (h->n > *cap) {
		struct cand *more = reallocarray(*cs, h->n, sizeof(**cs));
		if (!more)
			return -ENOMEM;
		*cs = more;
		*cap = h->n;
	}
	for (uint32_t i = 0; i < h->n; i++) {
		struct rec_cand rc;
		if (n - at < sizeof(rc))
			return -EINVAL;
		memcpy(&rc, m + at, sizeof(rc));
		at += sizeof(rc);
		struct cand *c = &(*cs)[i];
		*c = (struct cand){ .id = rc.id, .dev = (dev_t)rc.dev, .tree = -1, .proven = rc.proven, .live = rc.live,
				    .release = rc.release };
		if (!(c->root = rec_str(m, n, &at, rc.root_len)) ||
		    (rc.why_len && !(c->why_left = rec_str(m, n, &at, rc.why_len))))
			return -EINVAL;
	}
	return at == n ? 0 : -EINVAL;
}

/* In a runner: namespaces from the queue until the pass has queued them all.  Each starts with
 * a report naming it, so that one whose runner is killed is still accounted for.  Never returns. */
static void run_queue(int q, struct batch_shared *sh, unsigned slot, int mntfd, const char *mnt, int out)
{
	int home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct ns_result *res = &sh->at[slot];
	char *m = malloc(REC_MAX);
	struct cand *cs = NULL;
	size_t cap = 0;
	bool away = false;
	if (!m)
		_exit(4);
	for (;;) {
		ssize_t got = recv(q, m, REC_MAX, MSG_TRUNC);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the end of the queue, or of the pass */
		struct rec_head h = { .ns = UINT_MAX };
		char *who;
		int bad = -EMSGSIZE;
		if (got <= REC_MAX)
			bad = rec_read(m, (size_t)got, &h, &who, &cs, &cap);
		else
			memcpy(&h, m, sizeof(h));
		if (h.ns == UINT_MAX)
			continue; /* cannot even say which: the pass counts it as not healed at its end */
		*res = (struct ns_result){ .ns = h.ns };
		if (bad < 0) {
			log_error("rebind: namespace %u of the pass: its message is bad (%s)", h.ns, strerror(-bad));
			res->failed++;
		} else {
			unsigned nhung = __atomic_load_n(&sh->nhung, __ATOMIC_ACQUIRE);
			for (size_t k = 0; k < h.n; k++)
				for (unsigned i = 0; i < nhung && i < sizeof(sh->hung) / sizeof(sh->hung[0]); i++)
					cs[k].hung |= cs[k].dev == sh->hung[i];
			/* back home first: the trees are cloned there, and the next namespace is
			 * opened through the host's /proc */
			if (away && setns(home, CLONE_NEWNS) < 0) {
				log_error("rebind: cannot return to our mount namespace: %s", strerror(errno));
				_exit(3);
			}
			away = false;
			int nsfd = open_ns(h.pid, (ino_t)h.ino);
			if (nsfd >= 0) {
				away = true;
				heal_in(nsfd, procfd, mntfd, mnt, cs, h.n, who, -1, res);
				close(nsfd);
			}
		}
		struct ns_result done = *res;
		done.done = true;
		if (write(out, &done, sizeof(done)) != sizeof(done))
			_exit(2);
	}
	_exit(0);
}

static int runner_start(struct pool *p, struct runner *r)
{
	int rd = -1, wr = -1;
	unsigned slot = (unsigned)(r - p->run);
	p->sh->at[slot] = (struct ns_result){ .ns = UINT_MAX };
	pid_t pid = fork_reporting(&rd, &wr);
	if (pid == 0) {
		close(p->q[1]);
		run_queue(p->q[0], p->sh, slot, p->mntfd, p->mnt, wr);
	}
	if (pid < 0)
		return (int)pid;
	*r = (struct runner){ .pid = pid, .pipe = rd, .slot = slot,
			      .deadline_ms = mono_ms() + (uint64_t)p->bound_ms, .last_done = UINT_MAX };
	p->running++;
	return 0;
}

/* One more runner, while fewer run than the pass wants: 0 if one was started. */
static int runner_add(struct pool *p)
{
	for (unsigned i = 0; i < p->want && p->running < p->want; i++)
		if (!p->run[i].pid) {
			int r = runner_start(p, &p->run[i]);
			if (r < 0)
				log_error("rebind: cannot start a child: %s", strerror(-r));
			return r;
		}
	return -EBUSY;
}

static const char *pool_who(const struct pool *p, unsigned ns)
{
	return ns < p->n ? p->who[ns] : "a namespace";
}

/* A runner's reports, each a namespace done, into the stats: 0 at the end of its pipe. */
static ssize_t runner_drain(struct pool *p, struct runner *r, struct scan *s, struct rebind_stats *stats)
{
	struct ns_result res;
	ssize_t got;
	while ((got = read(r->pipe, &res, sizeof(res))) == (ssize_t)sizeof(res)) {
		r->deadline_ms = mono_ms() + (uint64_t)p->bound_ms;
		r->last_done = res.ns;
		if (res.ns < p->n) {
			account(&res, 0, pool_who(p, res.ns), s, stats);
			p->done++;
		}
	}
	return got;
}

/* Ends a runner: killed (timed out) or exited.  The namespace it had in hand and did not finish
 * counts as failed, with how far it got there (the device it was asking: hung). */
static void runner_end(struct pool *p, struct runner *r, bool timed_out, struct scan *s, struct rebind_stats *stats)
{
	int status;
	if (timed_out)
		kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	runner_drain(p, r, s, stats);
	close(r->pipe);
	struct ns_result at = p->sh->at[r->slot];
	if (at.ns < p->n && at.ns != r->last_done) {
		account(&at, timed_out ? -ETIMEDOUT : -EIO, pool_who(p, at.ns), s, stats);
		p->done++;
	}
	*r = (struct runner){ 0 };
	p->running--;
}

/* The devices found hung since the runners last heard, told them. */
static void pool_share_hung(struct pool *p, const struct scan *s)
{
	unsigned have = __atomic_load_n(&p->sh->nhung, __ATOMIC_RELAXED);
	for (size_t h = have; h < s->nhung && h < sizeof(p->sh->hung) / sizeof(p->sh->hung[0]); h++) {
		__atomic_store_n(&p->sh->hung[h], s->hung[h], __ATOMIC_RELAXED);
		__atomic_store_n(&p->sh->nhung, (unsigned)h + 1, __ATOMIC_RELEASE);
	}
}

/* Reads what the runners said and ends the ones past their bound (starting another in place of
 * each: the queue may hold more).  Waits for a report, a runner's end or a bound, and with room
 * also for room in the queue; not at all with nowait. */
static void pool_step(struct pool *p, bool nowait, bool room, struct scan *s, struct rebind_stats *stats)
{
	struct pollfd fds[MAX_JOBS + 1];
	struct runner *by[MAX_JOBS];
	nfds_t n = 0;
	uint64_t now = mono_ms(), first = UINT64_MAX;
	for (unsigned i = 0; i < MAX_JOBS; i++) {
		struct runner *r = &p->run[i];
		if (!r->pid)
			continue;
		if (now >= r->deadline_ms) {
			runner_end(p, r, true, s, stats);
			pool_share_hung(p, s);
			runner_add(p); /* the namespaces after the hung one still need a runner */
			nowait = true;
			continue;
		}
		if (r->deadline_ms < first)
			first = r->deadline_ms;
		fds[n] = (struct pollfd){ .fd = r->pipe, .events = POLLIN };
		by[n++] = r;
	}
	nfds_t nr = n;
	if (room)
		fds[n++] = (struct pollfd){ .fd = p->q[1], .events = POLLOUT };
	if (!n)
		return;
	int timeout = nowait ? 0 : first == UINT64_MAX ? -1 : (int)(first - now);
	if (poll(fds, n, timeout) < 0) {
		if (errno == EINTR)
			return;
		log_error("rebind: cannot wait for the children: %s", strerror(errno));
		for (unsigned i = 0; i < MAX_JOBS; i++)
			if (p->run[i].pid)
				runner_end(p, &p->run[i], true, s, stats);
		return;
	}
	for (nfds_t k = 0; k < nr; k++)
		if (fds[k].revents && runner_drain(p, by[k], s, stats) == 0)
			runner_end(p, by[k], false, s, stats);
}

/* Starts a round: the shared memory, the queue, the first runner. */
static int pool_open(struct pool *p, const struct scan *s)
{
	p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -errno;
	}
	*p->sh = (struct batch_shared){ 0 };
	p->msg = malloc(REC_MAX);
	if (!p->msg || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->q) < 0) {
		int e = p->msg ? errno : ENOMEM;
		free(p->msg);
		p->msg = NULL;
		munmap(p->sh, sizeof(*p->sh));
		p->sh = NULL;
		return -e;
	}
	fcntl(p->q[1], F_SETFL, O_NONBLOCK);
	pool_share_hung(p, s);
	p->bound_ms = (int)fault_long("LXCFS_FAULT_REBIND_BOUND_MS", NS_PROVEN_TIMEOUT_MS);
	long most = fault_long("LXCFS_FAULT_REBIND_RUNNERS", MAX_JOBS);
	p->want = (unsigned)(most < 1 ? 1 : most > MAX_JOBS ? MAX_JOBS : most);
	long rec = fault_long("LXCFS_FAULT_REBIND_REC_MAX", REC_MAX);
	p->rec_max = (size_t)(rec < 1024 ? 1024 : rec > REC_MAX ? REC_MAX : rec);
	return 0;
}

/* Queues the namespace with the candidates found in s, starting a runner for it while fewer run
 * than wanted: 0, -E2BIG if it is too big for a message (to be healed alone), or -errno. */
static int pool_queue(struct pool *p, struct scan *s, ino_t ino, pid_t pid, const char *who,
		      struct rebind_stats *stats)
{
	int r;
	if (!p->sh && (r = pool_open(p, s)) < 0)
		return r;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **more = reallocarray(p->who, cap, sizeof(*more));
		if (!more)
			return -ENOMEM;
		p->who = more;
		p->cap = cap;
	}
	size_t len = rec_make(p, s, (uint32_t)p->n, ino, pid, who);
	if (!len)
		return -E2BIG;
	char *w = strdup(who);
	if (!w)
		return -ENOMEM;
	pool_share_hung(p, s);
	if (p->running < p->want)
		runner_add(p);
	while (send(p->q[1], p->msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* EMSGSIZE: a socket buffer smaller than REC_MAX here (net.core.wmem_default) */
		r = errno == EMSGSIZE ? -E2BIG
		    : errno == EAGAIN && !p->running && runner_add(p) < 0 ? -EAGAIN
		    : errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r < 0) {
			free(w);
			return r;
		}
		pool_step(p, false, true, s, stats); /* the queue is full: the runners take from it */
	}
	p->who[p->n++] = w;
	pool_step(p, true, false, s, stats);
	return 0;
}

/* Ends a round: the queue closed, every runner's end awaited; a namespace no runner took counts
 * as failed.  p can start another round. */
static void pool_finish(struct pool *p, struct scan *s, struct rebind_stats *stats)
{
	if (p->sh) {
		shutdown(p->q[1], SHUT_WR);
		if (p->done < p->n && !p->running)
			runner_add(p); /* (every one ended on its bound meanwhile and none could start) */
		while (p->running)
			pool_step(p, false, false, s, stats);
		if (p->done < p->n) {
			log_error("rebind: %zu namespace(s) not healed: no child could be started for them", p->n - p->done);
			stats->namespaces += (unsigned)(p->n - p->done);
			stats->failed += (unsigned)(p->n - p->done);
		}
		close(p->q[0]);
		close(p->q[1]);
		munmap(p->sh, sizeof(*p->sh));
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->who[i]);
	free(p->who);
	free(p->msg);
	pool_init(p, p->mntfd, p->mnt);
}

struct ns {
	ino_t ino;
	pid_t pid;
	uint64_t start;
};

static uint64_t start_of(pid_t pid)
{
	char path[64], text[1024];
	uint64_t st = UINT64_MAX;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0 || stat_starttime(text, &st) < 0)
		return UINT64_MAX;
	return st;
}

struct ns_list {
	struct ns *v;
	size_t n;
};

static int note_namespace(pid_t pid, void *arg)
{
	struct ns_list *l = arg;
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)pid);
	if (stat(p, &st) < 0)
		return 0; /* gone, or a kernel thread */
	uint64_t start = start_of(pid);
	size_t i = 0;
	while (i < l->n && l->v[i].ino != st.st_ino)
		i++;
	if (i == l->n) {
		struct ns *m = realloc(l->v, (l->n + 1) * sizeof(*l->v));
		if (!m)
			return 1;
		l->v = m;
		l->v[l->n++] = (struct ns){ .ino = st.st_ino, .pid = pid, .start = start };
	} else if (start < l->v[i].start) {
		l->v[i].pid = pid;
		l->v[i].start = start;
	}
	return 0;
}

static size_t list_namespaces(struct ns **out)
{
	struct ns_list l = { NULL, 0 };
	proc_each_pid(note_namespace, &l);
	*out = l.v;
	return l.n;
}

/* One namespace: its candidates; if there are any, queued for the runners, or (one that may
 * hang) healed or judged by a child of its own at once.  With later: a namespace whose
 * candidates are all left to others is not entered but marked. */
static void visit(struct pool *pool, struct scan *s, const struct ns *ns, int mntfd, const char *path,
		  bool *later, struct rebind_stats *stats)
{
	char p[PATH_MAX];
	int nsfd = open_ns(ns->pid, ns->ino);
	if (nsfd < 0)
		return; /* its process is gone (so is, most likely, the namespace), or the pid reused */
	/* Candidates from the namespace as this process sees it; mount ids are global, so the
	 * child finds them again from inside. */
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)ns->pid);
	s->skipped = 0;
	mountinfo_each(AT_FDCWD, p, note_candidate, s);
	stats->unvisited += !s->n && s->skipped;
	bool ours = false;
	for (size_t i = 0; i < s->n && !ours; i++)
		ours = !s->c[i].why_left || s->c[i].release;
	if (s->n && later && !ours) {
		*later = true;
	} else if (s->n) {
		char who[PATH_MAX + 64];
		describe_pid(ns->pid, who, sizeof(who));
		/* A mount not proven ours (an orphan, another instance's) may hang on a daemon that
		 * does not answer: such a namespace is healed alone, so that a hang costs one bound
		 * wait and its device is skipped everywhere after (the queued ones are ours, whose
		 * dead connection fails at once). */
		bool alone = false;
		for (size_t i = 0; i < s->n && !alone; i++)
			alone = !s->c[i].proven;
		int r = alone ? 0 : pool_queue(pool, s, ns->ino, ns->pid, who, stats);
		if (r == -E2BIG)
			log_info("rebind: %s: %zu lxcfs mounts, more than a message to the runners holds: "
				 "healed by a child of its own", who, s->n);
		if (alone || r == -E2BIG || r == -EAGAIN) /* (-EAGAIN: no runner, the queue full) */
			heal_alone(nsfd, mntfd, path, s, who, alone ? NS_TIMEOUT_MS : NS_PROVEN_TIMEOUT_MS, stats);
		else if (r < 0)
			account(&(struct ns_result){ 0 }, r, who, s, stats);
	}
	free_candidates(s);
	close(nsfd);
}

/* The live mount at mnt to heal from: an O_PATH fd of it, its canonical path and device; or -errno
 * (said why). */
static int open_live(const char *mnt, char *path, size_t size, dev_t *ours)
{
	int r = mount_canonical(mnt, path, size);
	if (r == 0)
		r = live_lxcfs_at(path, ours);
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

/* Every mount namespace: first those with something we may heal; those holding only others'
 * mounts once the prober has said which of those answer (most of them, then, need no visit). */
static void visit_all(struct scan *s, int mntfd, const char *path, struct rebind_stats *stats)
{
	probe_start(s);
	struct ns *all;
	size_t nns = list_namespaces(&all);
	bool *later = calloc(nns ? nns : 1, sizeof(*later));
	struct pool pool;
	pool_init(&pool, mntfd, path);
	for (size_t k = 0; k < nns; k++)
		visit(&pool, s, &all[k], mntfd, path, later ? &later[k] : NULL, stats);
	pool_finish(&pool, s, stats);
	probe_finish(s); /* (the hung devices are known before the second round) */
	for (size_t k = 0; k < nns; k++)
		if (later && later[k])
			visit(&pool, s, &all[k], mntfd, path, NULL, stats);
	pool_finish(&pool, s, stats);
	free(later);
	free(all);
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
	int loaded = claims_load(req->claim_dir, &s.claims);
	if (loaded < 0)
		log_error("rebind: cannot read the claims in %s (%s): only mounts named or found dead at %s "
			  "are healed", req->claim_dir, strerror(-loaded), path);
	log_request(req, path);
	mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", note_instance, &s);
	*stats = (struct rebind_stats){ 0 };
	visit_all(&s, mntfd, path, stats);
	if (req->live)
		stats->still_open = (unsigned)drain_wait(s.live_ids, s.nlive, DRAIN_TIMEOUT_MS);
	note_seen(&s, ours);
	if (loaded == 0)
		claims_prune(req->claim_dir, &s.claims, s.seen, s.nseen, started);
	scan_free(&s);
	close(mntfd);
	return 0;
}
