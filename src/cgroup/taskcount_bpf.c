/* The kernel pass: loads src/bpf/taskcount.bpf.c (embedded as a skeleton), tells it which
 * cgroups to count and in which hierarchy each is, runs one of its iterators once, and reads
 * the counts back.  Cost, whatever the number of containers: with the cgroup iterator, one walk
 * of the hierarchy's cgroups and of the containers' own tasks; with the task iterator (kernels
 * before 6.7), one walk of the host's task list.  Instead of one /proc file per thread. */
#include "cgroup/taskcount.h"

#include "version.h"

#if LXCFS_BPF

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/parse.h"

#include "bpf/taskcount_bpf.h"
#include "taskcount.skel.h"

#define MAX_DEVS 16 /* cgroup hierarchies remembered (by mount device) */

/* The loaded program and what it was told: one engine's, used by that engine's thread only. */
struct taskcount_bpf {
	struct taskcount *skel;
	bool by_cgroup;             /* count_cgroups, else count_tasks */
	struct bpf_link *task_link; /* count_tasks' */
	int map_fd;
	struct hier {
		dev_t dev;
		struct tc_hier h;
		struct bpf_link *link; /* count_cgroups', walking this hierarchy from its root */
	} devs[MAX_DEVS];
	unsigned ndevs;
	int broken; /* a walk could not be set up: the next pass fails with this */
	struct slot {
		struct tc_key key; /* what the map sends here (id 0: nothing) */
		unsigned hier;     /* its index in devs */
		uint64_t tag;      /* the caller's tag for that cgroup */
		uint32_t seen;     /* the last pass that asked for it */
	} slot[TC_MAX_TRACKED];
	uint16_t inmap[TC_MAX_TRACKED]; /* the slots the last pass left a key in the map for */
	unsigned ninmap;
};

__attribute__((format(printf, 2, 0))) static int libbpf_log(enum libbpf_print_level level, const char *fmt,
								 va_list ap)
{
	if (level == LIBBPF_DEBUG || !log_debug_enabled())
		return 0;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

static int load(struct taskcount_bpf *tb, bool by_cgroup)
{
	tb->skel = taskcount__open();
	if (!tb->skel)
		return -errno;
	bpf_program__set_autoload(tb->skel->progs.count_cgroups, by_cgroup);
	bpf_program__set_autoload(tb->skel->progs.count_tasks, !by_cgroup);
	int r = taskcount__load(tb->skel);
	if (r == 0 && !by_cgroup) {
		tb->task_link = bpf_program__attach_iter(tb->skel->progs.count_tasks, NULL);
		if (!tb->task_link)
			r = -errno;
	}
	if (r < 0) {
		taskcount__destroy(tb->skel);
		tb->skel = NULL;
		return r;
	}
	tb->by_cgroup = by_cgroup;
	tb->map_fd = bpf_map__fd(tb->skel->maps.slots);
	memset(tb->slot, 0, sizeof(tb->slot));
	tb->ninmap = 0;
	tb->ndevs = 0;
	tb->broken = 0;
	return 0;
}

struct taskcount_bpf *taskcount_bpf_init(bool by_cgroup, const char **what)
{
	libbpf_set_print(libbpf_log);
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		*what = "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
		return NULL;
	}
	struct taskcount_bpf *tb = calloc(1, sizeof(*tb));
	if (!tb) {
		*what = "out of memory";
		return NULL;
	}
	tb->map_fd = -1;
	/* the cgroup iterator needs the css_task kfuncs (6.7); before them, the task iterator */
	if (by_cgroup && load(tb, true) == 0) {
		*what = "BPF cgroup iterator";
		return tb;
	}
	if (load(tb, false) < 0) {
		*what = "the task counting program did not load (no task iterators, or no CAP_BPF)";
		free(tb);
		return NULL;
	}
	*what = "BPF task iterator";
	return tb;
}

void taskcount_bpf_fini(struct taskcount_bpf *tb)
{
	if (!tb)
		return;
	bpf_link__destroy(tb->task_link);
	tb->task_link = NULL;
	for (unsigned i = 0; i < tb->ndevs; i++)
		bpf_link__destroy(tb->devs[i].link);
	tb->ndevs = 0;
	if (tb->skel)
		taskcount__destroy(tb->skel);
	free(tb);
}

struct find_mount {
	dev_t dev;
	const char *dir;
	char opts[256];     /* the same for every mount of the hierarchy */
	char top[PATH_MAX]; /* a mount of it, the one dir is under if any (the walk starts there) */
	bool found;
};

static bool match_mount(const struct mntent_info *m, void *arg)
{
	struct find_mount *f = arg;
	if ((strcmp(m->fstype, "cgroup") != 0 && strcmp(m->fstype, "cgroup2") != 0) ||
	    makedev(m->major, m->minor) != f->dev)
		return true;
	snprintf(f->opts, sizeof(f->opts), "%s", m->superopts);
	snprintf(f->top, sizeof(f->top), "%s", m->mountpoint);
	f->found = true;
	size_t n = strlen(m->mountpoint);
	/* a walk from elsewhere would miss dir: its cgroup is then scanned (-EXDEV) each pass */
	return !(strncmp(f->dir, m->mountpoint, n) == 0 && (f->dir[n] == '/' || f->dir[n] == '\0' || n == 1));
}

/* The v1 hierarchy of these mount options: the controllers named there, looked up in
 * /proc/cgroups, whose rows are in subsystem index order. */
static int v1_hier(const char *opts, struct tc_hier *h)
{
	struct buf b = BUF_INIT;
	int r = file_read_at(AT_FDCWD, "/proc/cgroups", &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	unsigned hid, ssid;
	r = proc_cgroups_find(b.data, b.len, opts, &hid, &ssid);
	if (r == 0)
		*h = (struct tc_hier){ .hierarchy_id = hid, .ssid = ssid };
	buf_free(&b);
	return r;
}

/* count_cgroups' walk of a hierarchy, from the top of its mount */
static int attach_walk(struct taskcount_bpf *tb, struct hier *hr, const char *top)
{
	int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* (the walk holds the kernel's cgroup_mutex: cgroups are neither made nor removed during a
	 * pass; a whole pass costs about 0.5 ms of cpu for a thousand containers' tasks) */
	union bpf_iter_link_info info = { .cgroup = { .cgroup_fd = (uint32_t)fd, .order = BPF_CGROUP_ITER_DESCENDANTS_PRE } };
	DECLARE_LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &info, .link_info_len = sizeof(info));
	hr->link = bpf_program__attach_iter(tb->skel->progs.count_cgroups, &o);
	int r = hr->link ? 0 : -errno;
	close(fd);
	if (r < 0)
		log_warn("load averages: cannot walk the cgroups under %s: %s", top, strerror(-r));
	return r;
}

/* The hierarchy (index in tb->devs) and kernfs id of a cgroup directory.  The mount's type and
 * hierarchy are found once per mount. */
static int resolve(struct taskcount_bpf *tb, const char *dir, unsigned *hier, uint64_t *id)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	for (unsigned i = 0; i < tb->ndevs; i++)
		if (tb->devs[i].dev == st.st_dev) {
			*hier = i;
			return 0;
		}
	if (tb->ndevs == MAX_DEVS)
		return -E2BIG;
	struct statfs sf;
	if (statfs(dir, &sf) < 0)
		return -errno;
	if (sf.f_type != CGROUP2_SUPER_MAGIC && sf.f_type != CGROUP_SUPER_MAGIC)
		return -EINVAL;
	struct find_mount f = { .dev = st.st_dev, .dir = dir };
	int r = mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", match_mount, &f);
	if (r == 0 && !f.found)
		r = -ENODEV; /* (not -ENOENT: that says the cgroup is gone) */
	struct hier hr = { .dev = st.st_dev };
	if (r == 0 && sf.f_type == CGROUP_SUPER_MAGIC)
		r = v1_hier(f.opts, &hr.h);
	if (r == 0 && tb->by_cgroup && (r = attach_walk(tb, &hr, f.top)) < 0)
		tb->broken = r; /* the kernel would not walk it: this pass fails, the scan takes over */
	if (r < 0)
		return r;
	*hier = tb->ndevs;
	tb->devs[tb->ndevs++] = hr;
	return 0;
}

static int run_iterator(struct bpf_link *link)
{
	int fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	char sink[64];
	ssize_t n;
	int again = 0;
	/* The program prints nothing: one read walks it all (up to a million steps per read). */
	while ((n = read(fd, sink, sizeof(sink))) != 0) {
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			n = -errno;
			break;
		}
		if (n < 0 && ++again > 64)
			break;
	}
	close(fd);
	return n < 0 ? (int)n : 0;
}

/* Makes the map send key's tasks to slot s. */
static int install(struct taskcount_bpf *tb, struct slot *sl, uint32_t s, const struct tc_key *key)
{
	if (sl->key.id == key->id && sl->key.hierarchy_id == key->hierarchy_id)
		return 0;
	if (sl->key.id)
		bpf_map_delete_elem(tb->map_fd, &sl->key);
	sl->key.id = 0;
	if (bpf_map_update_elem(tb->map_fd, key, &s, BPF_ANY) < 0)
		return -errno;
	sl->key = *key;
	return 0;
}

/* Where q's cgroup is: looked up again, and installed under its (new) key. */
static int locate(struct taskcount_bpf *tb, struct taskcount_req *q, struct slot *sl)
{
	uint64_t id = 0;
	unsigned hier = 0;
	int r = resolve(tb, q->dir, &hier, &id);
	if (r < 0)
		return r;
	struct tc_key key = { .id = id, .hierarchy_id = tb->devs[hier].h.hierarchy_id };
	sl->hier = hier;
	sl->tag = q->tag;
	return install(tb, sl, q->slot, &key);
}

/* One pass of the loaded program over the hierarchies in `used` (a bit per tb->devs index). */
static int run_pass(struct taskcount_bpf *tb, uint32_t used)
{
	struct taskcount__bss *bss = tb->skel->bss;
	if (tb->by_cgroup) {
		for (unsigned i = 0; i < tb->ndevs; i++)
			if (used & (1u << i)) {
				int r = run_iterator(tb->devs[i].link);
				if (r < 0)
					return r;
			}
		return 0;
	}
	unsigned nh = 0;
	for (unsigned i = 0; i < tb->ndevs; i++)
		if (used & (1u << i)) {
			if (nh == TC_MAX_HIERS)
				return -E2BIG;
			bss->hiers[nh++] = tb->devs[i].h;
		}
	bss->nhiers = nh;
	bss->mismatch = 0;
	int r = run_iterator(tb->task_link);
	if (r == 0 && bss->mismatch)
		r = -EPROTO; /* a subsystem index led elsewhere: /proc/cgroups is not in index order */
	return r;
}

int taskcount_bpf_pass(struct taskcount_bpf *tb, struct taskcount_req *req, unsigned n)
{
	if (!tb->skel)
		return -ENODEV;
	struct taskcount__bss *bss = tb->skel->bss;
	uint32_t g = bss->gen + 1;
	if (g == 0)
		g = 1; /* 0 is what a slot no pass has written holds */
	uint32_t used = 0;
	for (unsigned i = 0; i < n; i++) {
		struct taskcount_req *q = &req[i];
		memset(&q->count, 0, sizeof(q->count));
		q->err = 0;
		if (q->slot >= TC_MAX_TRACKED) {
			q->err = -E2BIG;
			continue;
		}
		struct slot *sl = &tb->slot[q->slot];
		/* A known cgroup is looked up again only after a pass that counted nothing in it */
		if (!(sl->key.id && sl->tag == q->tag))
			q->err = locate(tb, q, sl);
		if (q->err < 0)
			continue;
		sl->seen = g;
		used |= 1u << sl->hier;
	}
	/* a slot nobody asked for this time: its cgroup leaves the map (only the last pass's
	 * slots are looked at: the whole table is 40 cache-cold pages) */
	for (unsigned k = 0; k < tb->ninmap; k++) {
		struct slot *sl = &tb->slot[tb->inmap[k]];
		if (sl->key.id && sl->seen != g) {
			bpf_map_delete_elem(tb->map_fd, &sl->key);
			sl->key.id = 0;
		}
	}
	bss->gen = g;
	int r = tb->broken ? tb->broken : run_pass(tb, used);
	for (unsigned i = 0; i < n; i++) {
		struct taskcount_req *q = &req[i];
		if (q->err < 0)
			continue;
		struct slot *sl = &tb->slot[q->slot];
		const struct tc_count *c = &bss->counts[q->slot];
		if (r < 0) {
			q->err = r;
		} else if (c->gen == g) {
			/* counted: it is there (visited, or it has a task: a cgroup with tasks
			 * cannot be removed) */
			q->count = (struct task_count){ c->running, c->active, c->total, c->newest_ns };
		} else {
			/* Nothing counted: the task iterator saw no task in it (it is empty, or was
			 * removed, perhaps made again under its name), or the cgroup iterator did not
			 * visit it (removed, remade, or outside the walk).  Looked up again: what is
			 * still the same cgroup counts zero tasks (task iterator) or is scanned (not
			 * walked); a new one is scanned this time. */
			struct tc_key before = sl->key;
			q->err = locate(tb, q, sl);
			if (q->err == 0 && sl->key.id != before.id)
				q->err = -ESTALE;
			else if (q->err == 0 && tb->by_cgroup)
				q->err = -EXDEV;
		}
	}
	tb->ninmap = 0;
	for (unsigned i = 0; i < n; i++)
		if (req[i].slot < TC_MAX_TRACKED && tb->slot[req[i].slot].key.id)
			tb->inmap[tb->ninmap++] = (uint16_t)req[i].slot;
	return r;
}

#else /* built without clang, bpftool or libbpf */

#include <errno.h>
#include <stddef.h>

struct taskcount_bpf *taskcount_bpf_init(bool by_cgroup, const char **what)
{
	(void)by_cgroup;
	*what = "this build has no BPF support";
	return NULL;
}

int taskcount_bpf_pass(struct taskcount_bpf *tb, struct taskcount_req *req, unsigned n)
{
	(void)tb;
	for (unsigned i = 0; i < n; i++)
		req[i].err = -ENODEV;
	return -ENODEV;
}

void taskcount_bpf_fini(struct taskcount_bpf *tb)
{
	(void)tb;
}

#endif
