/* Inside one mount namespace: its dead lxcfs mounts replaced by fresh binds (beneath them, then
 * they go), ours released, others' dead mounts said, with one log line per kind of heal. */
#include "reinit/heal/heal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/mount.h"
#include "lib/mountinfo.h"
#include "fs/fault.h"
#include "reinit/heal/fresh.h"

#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200 /* Linux >= 6.5 */
#endif

struct live_mount {
	int id, parent;
	dev_t dev;
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
	v->m[v->n++] = (struct live_mount){ .id = m->id, .parent = m->parent, .dev = makedev(m->major, m->minor),
					    .lxcfs = mountinfo_is_lxcfs(m), .mountpoint = strdup(m->mountpoint) };
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
	/* EINVAL: no MOVE_MOUNT_BENEATH.  ENOENT: the kernel cannot mount at the place beneath (or
	 * the fresh tree's root left its cache of names: then over fails alike, see heal_one).
	 * Over it, readers see the fresh mount all the same. */
	int why = errno;
	if (why != EINVAL && why != ENOENT)
		return -why;
	if (move_mount(tree, "", AT_FDCWD, mp, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return -errno;
	*stacked = why;
	return 0;
}

static int clone_beneath(int mntfd, const char *rel)
{
	int fd = *rel ? mount_open_beneath(mntfd, rel) : dup(mntfd);
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

/* A clone of a shared mount (the host's mountpoint, under a systemd whose root is shared) joins
 * its peer group: moved into a container, a mount made over it there would show in every other
 * container's bind and in the host's tree, and an unmount there would take the others' binds
 * with it.  Private, it is the container's own.  false if this kernel cannot say it of a
 * detached mount (before Linux 5.12): done once it is in place (private_in_place). */
static bool make_private(int tree)
{
	struct mount_attr a = { .propagation = MS_PRIVATE };
	return mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) == 0;
}

static void private_in_place(const char *mp, const char *who)
{
	if (mount(NULL, mp, NULL, MS_PRIVATE, NULL) < 0)
		log_warn("rebind: %s: %s stays shared with the host's mount: %s", who, mp, strerror(errno));
}

/* Test builds (LXCFS_FAULT_REBIND_DROP): the first file bind this child clones has its fresh
 * tree's root dropped from the kernel's cache of names, N times in all. */
static void fault_drop(const struct heal_home *home, const struct cand *c)
{
	static const struct cand *victim;
	static long dropped;
	if (dropped >= fault_long("LXCFS_FAULT_REBIND_DROP", 0) || c->tree < 0 || !strcmp(c->root, "/"))
		return;
	if (!victim)
		victim = c;
	if (c == victim && fault_drop_name(home->mnt, c->root + 1))
		dropped++;
}

/* c's fresh bind: a clone of its root in the live tree, made at home.  The path is resolved
 * beneath the mount, through no symlink and no other mount: a root of the old tree can never
 * name a host path in the new one. */
static void fresh_tree(const struct heal_home *home, struct cand *c)
{
	c->tree = clone_beneath(home->mnt, c->root + 1);
	c->tree_err = c->tree < 0 ? errno : 0;
	c->tree_private = c->tree >= 0 && make_private(c->tree);
	fault_drop(home, c);
}

/* c's fresh bind cloned again: at home, then back into the namespace nsfd.  false if the child
 * could not get back in: it is at home then, where nothing more may be put in. */
static bool reclone(const struct heal_home *home, int nsfd, struct cand *c)
{
	close(c->tree);
	c->tree = -1;
	if (setns(home->ns, CLONE_NEWNS) < 0) {
		c->tree_err = errno;
		return true; /* still inside, with nothing cloned */
	}
	fresh_tree(home, c);
	return setns(nsfd, CLONE_NEWNS) == 0;
}

static const struct live_mount *view_find(const struct ns_view *v, int id)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->m[j].id == id)
			return &v->m[j];
	return NULL;
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
	struct said_list released;
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
	if (h->released.n) {
		const char *names = list_text(&h->released, more, sizeof(more));
		log_info("rebind: %s: %u mount(s) released, what is beneath (the kernel's file) shows again: %s%s", who,
			 h->released.n, names, more);
		list_done(&h->released);
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

/* The lxcfs devices the namespace had mounted when its view was read. */
static bool view_lxcfs_dev(const struct ns_view *v, dev_t dev)
{
	for (size_t j = 0; j < v->n; j++)
		if (v->m[j].lxcfs && v->m[j].dev == dev)
			return true;
	return false;
}

static void view_free(struct ns_view *v)
{
	for (size_t j = 0; j < v->n; j++)
		free(v->m[j].mountpoint);
	free(v->m);
	*v = (struct ns_view){ 0 };
}

static int view_read(int procfd, struct ns_view *v)
{
	view_free(v);
	return mountinfo_each(procfd, "thread-self/mountinfo", note_view, v);
}

/* How a release at a path ended (else -errno). */
enum release_end {
	RELEASED,    /* something was taken, and neither ours nor a dead lxcfs shows there now */
	NOT_ON_TOP,  /* nothing was taken: what shows there is no lxcfs (a mount over ours, or ours
		      * gone before we came) */
};

#define RELEASE_LAYERS_MAX 64 /* the stacks of heals before Linux 6.5, and then some */

/* A release at mp: the mounts on top there go while they are ours or a dead lxcfs (ours stacked
 * by heals before Linux 6.5, or Debian's left below a takeover), and what is beneath (the
 * kernel's file) shows.  Each goes by an fd of the very mount vetted, never by its path: binds
 * healed by a version before this one are peers of one another on a host whose root is shared
 * (systemd's), so that an unmount in another namespace, by a runner beside us, takes mounts here
 * with it, and the path may name another mount by the time it is unmounted.  procfd: the host's
 * /proc, the way to our own fds from inside a namespace of another pid namespace.  A live lxcfs
 * not ours, or what is no lxcfs, stays. */
static int release_at(int procfd, const char *mp, dev_t ours, const struct ns_view *v)
{
	int refused = 0;
	bool taken = false;
	for (int n = 0; n < RELEASE_LAYERS_MAX; n++) {
		/* (ENOENT: gone with what held it; ENOTCONN: a dead FUSE mount above it cuts the
		 * path, and no reader gets through it either) */
		int fd = open(mp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno != ENOENT ? -errno : taken ? RELEASED : NOT_ON_TOP;
		struct statx sx;
		if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE, &sx) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		dev_t dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
		bool root = !(sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
		struct statfs sf;
		if (!root || (dev != ours && (!view_lxcfs_dev(v, dev) || fstatfs(fd, &sf) == 0 || errno != ENOTCONN))) {
			close(fd); /* the kernel's file, a mount not lxcfs's, or a live lxcfs not ours */
			return taken ? RELEASED : NOT_ON_TOP;
		}
		char self[32];
		snprintf(self, sizeof(self), "thread-self/fd/%d", fd);
		int r = fchdir(procfd) < 0 ? -errno : umount2(self, MNT_DETACH) < 0 ? -errno : 0;
		close(fd);
		/* EINVAL: gone meanwhile (an unmount that propagated), so look again; twice in a row,
		 * the kernel refuses this one (a mount locked in a user namespace) */
		if (r == -EINVAL && ++refused < 2)
			continue;
		if (r < 0)
			return r;
		refused = 0;
		taken = true;
	}
	return -ELOOP;
}

/* A release of candidate c (me: where it is now, NULL if it is gone): said in the namespace's
 * lines, counted as released if neither it nor a dead lxcfs shows at its path afterwards. */
static void release_one(int procfd, const struct cand *c, const struct live_mount *me, struct ns_view *v,
			const char *who, struct ns_result *res, struct heal_said *h)
{
	const char *mp = me && me->mountpoint ? me->mountpoint : c->mountpoint;
	if (!mp)
		return;
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", mp); /* (me's string goes with a fresh view) */
	int r = release_at(procfd, path, c->dev, v);
	if (r == -ENOTCONN) {
		log_info("rebind: %s: %s (device %u:%u) left: a dead mount above it cuts the path, for its "
			 "readers too", who, path, major(c->dev), minor(c->dev));
		res->left++;
		return;
	}
	if (r < 0) {
		log_error("rebind: %s: cannot detach %s: %s", who, path, strerror(-r));
		res->failed++;
		return;
	}
	if (r == NOT_ON_TOP && me) {
		/* Ours under a mount not lxcfs's (the container's own), or gone with a mount of ours
		 * released before at the same path: the namespace says which. */
		if (view_read(procfd, v) < 0 || view_find(v, c->id)) {
			log_info("rebind: %s: %s (device %u:%u) left: a mount that is not lxcfs's is over it", who, path,
				 major(c->dev), minor(c->dev));
			res->left++;
			return;
		}
	}
	list_add(&h->released, path, NULL, NULL);
	res->healed++;
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

/* What is on top at mp, for the log: its mount id and device, and whether it is still the one
 * the scan found there (id). */
static void say_top(const char *mp, int id, char *dst, size_t size)
{
	struct statx sx;
	if (statx(AT_FDCWD, mp, AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) < 0)
		snprintf(dst, size, "unknown, %s", strerror(errno));
	else
		snprintf(dst, size, "mount %llu, device %u:%u, %s", (unsigned long long)sx.stx_mnt_id, sx.stx_dev_major,
			 sx.stx_dev_minor,
			 (sx.stx_mask & STATX_MNT_ID) && sx.stx_mnt_id == (uint64_t)id ? "the dead one the scan found"
											 : "not the one the scan found");
}

/* One candidate, inside its namespace nsfd: dead and ours -> replaced by a bind of the live tree
 * (and checked, and added to what h says); dead and not ours -> said.  false if the child is no
 * longer inside (see reclone). */
static bool heal_one(const struct heal_home *home, int nsfd, struct cand *c, struct ns_view *v, const char *who,
		     struct ns_result *res, int out, struct heal_said *h)
{
	const struct live_mount *me = view_find(v, c->id);
	if (c->release) {
		release_one(home->proc, c, me, v, who, res, h);
		return true;
	}
	if (!me || !me->mountpoint)
		return true; /* gone meanwhile */
	if (!to_heal(c, me, v, who, res, out, h))
		return true;
	if (c->tree < 0) {
		log_error("rebind: %s: %s cannot be healed: %s%s is not in the new tree (%s)", who, me->mountpoint,
			  home->path, c->root, strerror(c->tree_err));
		res->failed++;
		return true;
	}
	int stacked; /* 0, or why the fresh mount went over the old one */
	/* What readers see afterwards is checked by the device on top, which the kernel says
	 * without asking the daemon (a statfs was a round trip to it per mount: 8% of a pass) */
	dev_t fresh = dev_of(c->tree, "", AT_EMPTY_PATH);
	int rr = replace(c->tree, me->mountpoint, &stacked);
	if (rr == -ENOENT) {
		/* Refused beneath and over alike.  The kernel does that when the fresh tree's root
		 * has left its cache of names (the name itself is fine): dropped by first lookups of
		 * it at once (fresh.h; seen in 2 of 34 passes over 1,000 namespaces, before the pass
		 * held the names) or by a lookup whose revalidation failed.  A second clone looks the
		 * name up again. */
		bool dropped = fresh_dropped(home->proc, c->tree);
		char top[96];
		say_top(me->mountpoint, c->id, top, sizeof(top));
		if (!reclone(home, nsfd, c)) {
			log_error("rebind: %s: cannot get back into it after a second clone for %s: %s; what is "
				  "left of it is not healed", who, me->mountpoint, strerror(errno));
			res->failed++;
			return false;
		}
		rr = c->tree < 0 ? -c->tree_err : replace(c->tree, me->mountpoint, &stacked);
		const char *first = dropped ? "its root had left the kernel's cache of names"
					    : "its root was still in the kernel's cache of names";
		if (rr == 0)
			log_info("rebind: %s: %s was healed with a second clone of the fresh tree; the first was "
				 "refused beneath and over (ENOENT: %s; on top there: %s)", who, me->mountpoint, first,
				 top);
		else
			log_error("rebind: %s: %s cannot be healed: %s with a second clone of the fresh tree; the "
				  "first was refused beneath and over (ENOENT: %s; on top there: %s)", who,
				  me->mountpoint, strerror(-rr), first, top);
	} else if (rr < 0) {
		log_error("rebind: %s: %s cannot be healed: %s", who, me->mountpoint, strerror(-rr));
	}
	if (c->tree >= 0)
		close(c->tree);
	c->tree = -1;
	if (rr < 0) {
		res->failed++;
		return true;
	}
	/* Over a dead bind that is a peer of others (healed so by a version before this one), the
	 * attach made ours a peer of the copies it propagated: out of that group again. */
	if (!c->tree_private || stacked)
		private_in_place(me->mountpoint, who);
	dev_t now = dev_of(AT_FDCWD, me->mountpoint, AT_SYMLINK_NOFOLLOW);
	if (!now || now != fresh) {
		log_error("rebind: %s: %s still shows device %u:%u after the rebind, not %u:%u", who, me->mountpoint,
			  major(now), minor(now), major(fresh), minor(fresh));
		res->failed++;
		return true;
	}
	log_debug("rebind: %s: %s %s to %s%s", who, me->mountpoint, c->live ? "moved" : "rebound", home->path,
		  strcmp(c->root, "/") ? c->root : "");
	enum heal_way way = !stacked ? PUT_BENEATH : stacked == ENOENT ? PUT_OVER_REFUSED : PUT_OVER_NO_BENEATH;
	list_add(&h->healed[c->live][way], me->mountpoint, home->path, c->root);
	res->healed++;
	return true;
}

struct heal_home heal_home_open(int mntfd, const char *path)
{
	return (struct heal_home){ .ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC),
				   .proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), .mnt = mntfd, .path = path };
}

/* In a child: clones the fresh trees (at home), enters the namespace, heals its candidates cs;
 * res says how far it got, and goes out after each step, so that a child killed for a hang still
 * reports. */
void heal_in(const struct heal_home *home, int nsfd, struct cand *cs, size_t n, const char *who, int out,
	     struct ns_result *res)
{
	for (size_t i = 0; i < n; i++)
		if (!cs[i].why_left && !cs[i].release)
			fresh_tree(home, &cs[i]); /* before setns: see reclone */
	if (setns(nsfd, CLONE_NEWNS) < 0) {
		log_error("rebind: cannot enter the mount namespace of %s: %s", who, strerror(errno));
		res->failed++;
		return;
	}
	struct ns_view v = { 0 };
	int r = view_read(home->proc, &v);
	if (r < 0) {
		log_error("rebind: %s: cannot read its mounts: %s", who, strerror(-r));
		res->failed++;
	}
	/* Proven mounts first: they fail at once (their connection is gone), while an orphan or
	 * another instance's mount may hang on a daemon that does not answer, and a hang ends this
	 * child. */
	struct heal_said h = { 0 };
	bool inside = true;
	for (int pass = 0; pass < 3 && inside; pass++) {
		for (size_t i = 0; i < n && inside; i++) {
			struct cand *c = &cs[i];
			int want = c->why_left ? 2 : c->proven ? 0 : 1;
			if (want != pass)
				continue;
			inside = heal_one(home, nsfd, c, &v, who, res, out, &h);
			report(out, res);
		}
		said_flush(&h, who, home->path); /* before the next pass, which may hang and end this child */
	}
	view_free(&v);
	for (size_t i = 0; i < n; i++)
		if (cs[i].tree >= 0) {
			close(cs[i].tree);
			cs[i].tree = -1;
		}
}
