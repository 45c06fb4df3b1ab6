/* lib/mntns: the kernel's list of mount namespaces holds ours and a child's made after it, in
 * that order; the mounts it reads of the child's namespace from outside are the ones the child's
 * mountinfo shows (ids, device, root, mount point, type, source), of the type asked only; and
 * what shows at the child's "/" is named as its mountinfo names it; a mount whose strings are
 * longer than the first buffer is read all the same.  Root only; where the kernel
 * has no list (before 6.13) it says so and checks nothing. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/magic.h>

#include "lib/mntns.h"
#include "lib/mountinfo.h"
#include "check.h"
#include "nschild.h"

#define MAX_SEEN 128

struct seen {
	struct mntent_info m[MAX_SEEN];
	int n;
};

static bool keep(const struct mntent_info *m, void *arg)
{
	struct seen *s = arg;
	if (s->n < MAX_SEEN)
		s->m[s->n] = *m;
	s->n++;
	return true;
}

/* The line of pid's mountinfo for mount id, or for the last mount at "/" (id < 0). */
struct wanted {
	int id;
	struct mntent_info m;
	bool found;
};

static bool find(const struct mntent_info *m, void *arg)
{
	struct wanted *w = arg;
	if (w->id >= 0 ? m->id == w->id : strcmp(m->mountpoint, "/") == 0) {
		w->m = *m;
		w->found = true;
	}
	return true;
}

static struct wanted mountinfo_line(pid_t pid, int id)
{
	char p[64];
	struct wanted w = { .id = id };
	snprintf(p, sizeof(p), "/proc/%d/mountinfo", (int)pid);
	mountinfo_each(AT_FDCWD, p, find, &w);
	return w;
}

/* A source of 4,000 characters and a mount point of 9,000 (deeper than PATH_MAX: made a level at
 * a time): together more than statmount's first buffer holds. */
#define LONG_SOURCE 4000
#define DEEP_LEVELS 45

static bool deep_mount(const char *in)
{
	char name[201], *source = malloc(LONG_SOURCE + 1);
	memset(name, 'd', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	bool ok = source && chdir(in) == 0;
	for (int i = 0; i < DEEP_LEVELS && ok; i++)
		ok = mkdir(name, 0700) == 0 && chdir(name) == 0;
	if (ok) {
		memset(source, 's', LONG_SOURCE);
		source[LONG_SOURCE] = '\0';
		ok = mount(source, ".", "tmpfs", 0, "size=64k") == 0;
	}
	free(source);
	return chdir("/") == 0 && ok;
}

/* In the child's namespace: DIR/t/sub a tmpfs, its directory d bound at DIR/b, and deep in it
 * another with a long source. */
static bool set_up(void *arg)
{
	const char *dir = arg;
	char sub[64], at[64];
	snprintf(sub, sizeof(sub), "%s/t", dir);
	mkdir(sub, 0700);
	snprintf(sub, sizeof(sub), "%s/t/sub", dir);
	snprintf(at, sizeof(at), "%s/b", dir);
	return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 && mkdir(at, 0700) == 0 && mkdir(sub, 0700) == 0 &&
	       mount("mntns-test", sub, "tmpfs", 0, "size=64k") == 0 && mkdir(strcat(sub, "/d"), 0700) == 0 &&
	       mount(sub, at, NULL, MS_BIND, NULL) == 0 && deep_mount(sub);
}

int main(void)
{
	struct mntns me, it;
	int r = mntns_self(&me);
	if (r < 0 || (r = mntns_first(&it)) < 0) {
		printf("(the kernel lists no mount namespaces here: %s)\n", strerror(-r));
		return 0;
	}
	mntns_close(&it);
	char dir[] = "/tmp/test_mntns.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);

	/* a child in a mount namespace of its own, made after ours: a tmpfs, and a bind of a
	 * directory of it elsewhere */
	pid_t child;
	char c = child_in_own_mntns(set_up, dir, &child);
	CHECK(c != 0);
	if (c != 'y') {
		printf("(no mount namespace of its own for the child: not root?)\n");
		child_end(child);
		return check_failures != 0;
	}
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", (int)child);
	CHECK_INT(stat(p, &st), 0);

	/* the list: ours, then the child's later on, each once, by id upwards */
	int ours = 0, theirs = 0, ours_at = -1, theirs_at = -1, k = 0;
	uint64_t last = 0, child_id = 0;
	bool ascending = true;
	CHECK_INT(mntns_first(&it), 0);
	do {
		ascending &= it.id > last;
		last = it.id;
		if (it.ino == me.ino) {
			ours++;
			ours_at = k;
			CHECK_U64(it.id, me.id);
		}
		if (it.ino == (uint64_t)st.st_ino) {
			theirs++;
			theirs_at = k;
			child_id = it.id;
		}
		k++;
	} while ((r = mntns_next(&it)) == 0);
	CHECK_INT(r, -ENOENT);
	mntns_close(&it);
	CHECK(ascending);
	CHECK_INT(ours, 1);
	CHECK_INT(theirs, 1);
	CHECK(ours_at < theirs_at);

	/* its tmpfs mounts, read from outside: the child's own two, as its mountinfo says them */
	static struct seen s; /* (big: not on the stack) */
	uint64_t top = 0;
	CHECK_INT(mntns_each_of(child_id, TMPFS_MAGIC, keep, &s, &top), 0);
	int mine = 0, deep = 0;
	CHECK(s.n <= MAX_SEEN);
	for (int i = 0; i < s.n && i < MAX_SEEN; i++) {
		struct mntent_info *m = &s.m[i];
		if (m->source[0] == 's' && strspn(m->source, "s") == strlen(m->source)) {
			/* (cut to our fields' size; its mountinfo line is longer than ours reads) */
			deep++;
			CHECK_STR(m->fstype, "tmpfs");
			CHECK_INT((int)strlen(m->source), (int)sizeof(m->source) - 1);
			continue;
		}
		struct wanted w = mountinfo_line(child, m->id);
		CHECK(w.found);
		if (!w.found)
			continue;
		CHECK_INT(m->parent, w.m.parent);
		CHECK_INT(m->major, w.m.major);
		CHECK_INT(m->minor, w.m.minor);
		CHECK_STR(m->root, w.m.root);
		CHECK_STR(m->mountpoint, w.m.mountpoint);
		CHECK_STR(m->fstype, w.m.fstype);
		CHECK_STR(m->source, w.m.source);
		if (strcmp(m->source, "mntns-test") == 0) {
			mine++;
			CHECK(strcmp(m->root, "/") == 0 || strcmp(m->root, "/d") == 0);
		}
	}
	CHECK_INT(mine, 2);
	CHECK_INT(deep, 1);
	/* another type: none of those */
	s.n = 0;
	CHECK_INT(mntns_each_of(child_id, 0x12345678, keep, &s, NULL), 0);
	CHECK_INT(s.n, 0);

	/* what shows at its "/" */
	char src[256], root[4096];
	struct wanted slash = mountinfo_line(child, -1);
	CHECK(top != 0);
	CHECK(slash.found);
	CHECK_INT(mntns_root_of(child_id, top, src, sizeof(src), root, sizeof(root)), 0);
	CHECK_STR(root, slash.m.root);
	CHECK_STR(src, slash.m.source);

	child_end(child);
	mntns_close(&me);
	char path[64];
	snprintf(path, sizeof(path), "%s/t/sub", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/t", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/b", dir);
	rmdir(path);
	rmdir(dir);
	return check_failures != 0;
}
