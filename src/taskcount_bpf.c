/* The kernel pass: loads src/bpf/taskcount.bpf.c (embedded as a skeleton), tells it which
 * cgroups to count and in which hierarchy each is, runs its task iterator once, and reads the
 * counts back.  Cost: one walk of the host's task list in the kernel per pass, whatever the
 * number of containers, instead of one /proc file per thread. */
#include "taskcount.h"

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

#include "buf.h"
#include "fileio.h"
#include "log.h"
#include "mountinfo.h"
#include "parse.h"

#include "bpf/taskcount_bpf.h"
#include "taskcount.skel.h"

#define MAX_DEVS 16 /* cgroup mounts remembered (one per hierarchy, in practice) */

static struct {
	struct taskcount *skel;
	struct bpf_link *link;
	int map_fd;
	struct {
		dev_t dev;
		struct tc_hier h;
	} devs[MAX_DEVS];
	unsigned ndevs;
	struct slot {
		struct tc_key key; /* what the map sends here (id 0: nothing) */
		struct tc_hier hier;
		uint64_t tag;  /* the caller's tag for that cgroup */
		uint32_t seen; /* the last pass that asked for it */
		bool live;     /* that pass saw a task in it */
	} slot[TC_MAX_TRACKED];
} B = { .map_fd = -1 };

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || !log_debug_enabled())
		return 0;
	char line[512];
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

int taskcount_bpf_init(const char **why)
{
	libbpf_set_print(libbpf_log);
	*why = NULL;
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		*why = "the kernel has no BTF (/sys/kernel/btf/vmlinux)";
		return -ENOTSUP;
	}
	B.skel = taskcount__open_and_load();
	if (!B.skel) {
		int r = -errno;
		*why = "the task counting program did not load (no task iterators, or no CAP_BPF)";
		return r < 0 ? r : -EINVAL;
	}
	B.link = bpf_program__attach_iter(B.skel->progs.count_tasks, NULL);
	if (!B.link) {
		int r = -errno;
		taskcount__destroy(B.skel);
		B.skel = NULL;
		*why = "the task iterator did not attach";
		return r < 0 ? r : -EINVAL;
	}
	B.map_fd = bpf_map__fd(B.skel->maps.slots);
	memset(B.slot, 0, sizeof(B.slot));
	return 0;
}

bool taskcount_bpf_ready(void)
{
	return B.skel != NULL;
}

void taskcount_bpf_fini(void)
{
	bpf_link__destroy(B.link);
	B.link = NULL;
	if (B.skel)
		taskcount__destroy(B.skel);
	B.skel = NULL;
	B.map_fd = -1;
	B.ndevs = 0;
}

struct find_mount {
	dev_t dev;
	char opts[256];
	bool found;
};

static bool match_mount(const struct mntent_info *m, void *arg)
{
	struct find_mount *f = arg;
	if (strcmp(m->fstype, "cgroup") != 0 || makedev(m->major, m->minor) != f->dev)
		return true;
	snprintf(f->opts, sizeof(f->opts), "%s", m->superopts);
	f->found = true;
	return false;
}

/* The v1 hierarchy mounted with device dev: the controllers in its mount options, looked up in
 * /proc/cgroups, whose rows are in subsystem index order. */
static int v1_hier(dev_t dev, struct tc_hier *h)
{
	struct find_mount f = { .dev = dev };
	int r = mountinfo_each(AT_FDCWD, "/proc/self/mountinfo", match_mount, &f);
	if (r < 0)
		return r;
	if (!f.found)
		return -ENOENT;
	struct buf b = BUF_INIT;
	r = file_read_at(AT_FDCWD, "/proc/cgroups", &b);
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	size_t pos = 0, len;
	const char *line;
	int ssid = -1;
	r = -ENOENT;
	while (r < 0 && next_line(b.data, b.len, &pos, &line, &len)) {
		if (len == 0 || line[0] == '#')
			continue;
		ssid++;
		char text[128], name[64];
		unsigned hid;
		snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1), line);
		if (sscanf(text, "%63s %u", name, &hid) != 2 || hid == 0)
			continue;
		if (opt_list_has(f.opts, name)) {
			*h = (struct tc_hier){ .hierarchy_id = hid, .ssid = (unsigned)ssid };
			r = 0;
		}
	}
	buf_free(&b);
	return r;
}

/* The hierarchy and kernfs id of a cgroup directory: a stat per pass (a cgroup removed, or
 * made again under the same name, shows there); the mount's type and hierarchy once per mount. */
static int resolve(const char *dir, struct tc_hier *h, uint64_t *id)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	*id = st.st_ino;
	for (unsigned i = 0; i < B.ndevs; i++)
		if (B.devs[i].dev == st.st_dev) {
			*h = B.devs[i].h;
			return 0;
		}
	struct statfs sf;
	if (statfs(dir, &sf) < 0)
		return -errno;
	if (sf.f_type == CGROUP2_SUPER_MAGIC) {
		*h = (struct tc_hier){ 0 };
	} else if (sf.f_type == CGROUP_SUPER_MAGIC) {
		int r = v1_hier(st.st_dev, h);
		if (r < 0)
			return r;
	} else {
		return -EINVAL;
	}
	if (B.ndevs < MAX_DEVS)
		B.devs[B.ndevs++] = (typeof(B.devs[0])){ st.st_dev, *h };
	return 0;
}

static int run_iterator(void)
{
	int fd = bpf_iter_create(bpf_link__fd(B.link));
	if (fd < 0)
		return -errno;
	char sink[64];
	ssize_t n;
	int again = 0;
	/* The program prints nothing: one read walks every task (up to a million per read). */
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
static int install(struct slot *sl, uint32_t s, const struct tc_key *key)
{
	if (sl->key.id == key->id && sl->key.hierarchy_id == key->hierarchy_id)
		return 0;
	if (sl->key.id)
		bpf_map_delete_elem(B.map_fd, &sl->key);
	sl->key.id = 0;
	if (bpf_map_update_elem(B.map_fd, key, &s, BPF_ANY) < 0)
		return -errno;
	sl->key = *key;
	return 0;
}

int taskcount_bpf_pass(struct taskcount_req *req, unsigned n)
{
	if (!B.skel)
		return -ENODEV;
	struct taskcount__bss *bss = B.skel->bss;
	uint32_t g = bss->gen + 1;
	if (g == 0)
		g = 1; /* 0 is what a slot no pass has written holds */
	unsigned nh = 0;
	for (unsigned i = 0; i < n; i++) {
		struct taskcount_req *q = &req[i];
		memset(&q->count, 0, sizeof(q->count));
		if (q->slot >= TC_MAX_TRACKED) {
			q->err = -E2BIG;
			continue;
		}
		struct slot *sl = &B.slot[q->slot];
		/* A cgroup that had a task at the last pass is still there (a cgroup with tasks
		 * cannot be removed), under the same id: no need to look at its directory.  Only new
		 * and empty ones are stat()ed, to see them removed or made again. */
		struct tc_key key = sl->key;
		struct tc_hier h = sl->hier;
		if (!(key.id && sl->live && sl->tag == q->tag)) {
			uint64_t id = 0;
			q->err = resolve(q->dir, &h, &id);
			if (q->err < 0)
				continue;
			key = (struct tc_key){ .id = id, .hierarchy_id = h.hierarchy_id };
		}
		unsigned k = 0;
		while (k < nh && bss->hiers[k].hierarchy_id != h.hierarchy_id)
			k++;
		if (k == nh) {
			if (nh == TC_MAX_HIERS) {
				q->err = -E2BIG;
				continue;
			}
			bss->hiers[nh++] = h;
		}
		q->err = install(sl, q->slot, &key);
		sl->hier = h;
		sl->tag = q->tag;
		sl->seen = g;
	}
	/* a slot nobody asked for this time: its cgroup leaves the map */
	for (unsigned s = 0; s < TC_MAX_TRACKED; s++)
		if (B.slot[s].key.id && B.slot[s].seen != g) {
			bpf_map_delete_elem(B.map_fd, &B.slot[s].key);
			B.slot[s].key.id = 0;
		}
	bss->nhiers = nh;
	bss->mismatch = 0;
	bss->gen = g;
	int r = run_iterator();
	if (r == 0 && bss->mismatch)
		r = -EPROTO; /* a subsystem index led elsewhere: /proc/cgroups is not in index order */
	for (unsigned i = 0; i < n; i++) {
		if (req[i].err < 0)
			continue;
		const struct tc_count *c = &bss->counts[req[i].slot];
		B.slot[req[i].slot].live = r == 0 && c->gen == g;
		if (r < 0)
			req[i].err = r;
		else if (c->gen == g) /* else no task was seen in it */
			req[i].count = (struct task_count){ c->running, c->active, c->total, c->newest_ns };
	}
	return r;
}

#else /* built without clang, bpftool or libbpf */

#include <errno.h>

int taskcount_bpf_init(const char **why)
{
	*why = "this build has no BPF support";
	return -ENOTSUP;
}

bool taskcount_bpf_ready(void)
{
	return false;
}

int taskcount_bpf_pass(struct taskcount_req *req, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		req[i].err = -ENODEV;
	return -ENODEV;
}

void taskcount_bpf_fini(void)
{
}

#endif
