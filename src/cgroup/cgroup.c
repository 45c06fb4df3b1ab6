#include "cgroup/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup/fdcache.h"
#include "lib/fileio.h"
#include "lib/log.h"
#include "lib/parse.h"

/* v1 mount option and v2 controller name, per controller.  cpuacct has no v2 controller of its
 * own: cpu.stat is a core file of every v2 cgroup, so it maps to the unified hierarchy. */
static const struct {
	const char *v1;
	const char *v2;
} names[CG_N] = {
	[CG_MEMORY] = { "memory", "memory" },
	[CG_CPUSET] = { "cpuset", "cpuset" },
	[CG_CPU] = { "cpu", "cpu" },
	[CG_CPUACCT] = { "cpuacct", NULL },
	[CG_BLKIO] = { "blkio", "io" },
};

const char *cg_ctrl_name(enum cg_ctrl c)
{
	return names[c].v1;
}

/* Undoes mountinfo's octal escapes (\040 for space) in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
		    r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int set_hier(struct cg_hier *h, const char *mnt, const char *root, bool v2)
{
	if (h->mnt)
		return 0; /* first mount of a hierarchy wins, as in the kernel's own listing order */
	h->mnt = strdup(mnt);
	h->root = strdup(root);
	h->v2 = v2;
	if (!h->mnt || !h->root)
		return -ENOMEM;
	return 0;
}

/* Does the v2 mount offer controller name (listed in its cgroup.controllers)? */
static bool v2_has(const char *mnt, const char *name)
{
	char path[4096], text[1024];
	snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
	if (file_read_small(AT_FDCWD, path, text, sizeof(text)) < 0)
		return false;
	for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strcmp(tok, name) == 0)
			return true;
	return false;
}

int cg_layout_parse(struct cg_layout *l, const char *mi, size_t len)
{
	memset(l, 0, sizeof(*l));
	size_t pos = 0, ll;
	const char *line;
	int r = 0;
	while (r == 0 && next_line(mi, len, &pos, &line, &ll)) {
		char *s = strndup(line, ll);
		if (!s)
			return -ENOMEM;
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *f[6] = { 0 }, *save = NULL, *tok = strtok_r(s, " ", &save);
		int i = 0;
		for (; tok && i < 6; i++, tok = strtok_r(NULL, " ", &save))
			f[i] = tok;
		while (tok && strcmp(tok, "-") != 0)
			tok = strtok_r(NULL, " ", &save);
		char *fstype = tok ? strtok_r(NULL, " ", &save) : NULL;
		char *source = fstype ? strtok_r(NULL, " ", &save) : NULL;
		char *super = source ? strtok_r(NULL, " ", &save) : NULL;
		(void)source;
		if (i == 6 && fstype && super) {
			unescape(f[3]);
			unescape(f[4]);
			if (strcmp(fstype, "cgroup") == 0) {
				for (int c = 0; c < CG_N && r == 0; c++)
					if (opt_list_has(super, names[c].v1))
						r = set_hier(&l->ctrl[c], f[4], f[3], false);
			} else if (strcmp(fstype, "cgroup2") == 0) {
				r = set_hier(&l->unified, f[4], f[3], true);
			}
		}
		free(s);
	}
	if (r < 0 || !l->unified.mnt)
		return r;
	for (int c = 0; c < CG_N && r == 0; c++) {
		if (l->ctrl[c].mnt)
			continue;
		/* cpuacct's data is cpu.stat, present in every v2 cgroup. */
		if (!names[c].v2 || v2_has(l->unified.mnt, names[c].v2))
			r = set_hier(&l->ctrl[c], l->unified.mnt, l->unified.root, true);
	}
	return r;
}

int cg_layout_discover(struct cg_layout *l)
{
	struct buf b = BUF_INIT;
	int r = file_read("/proc/self/mountinfo", &b);
	if (r == 0)
		r = cg_layout_parse(l, b.data, b.len);
	buf_free(&b);
	return r;
}

static void hier_free(struct cg_hier *h)
{
	free(h->mnt);
	free(h->root);
	h->mnt = h->root = NULL;
}

void cg_layout_free(struct cg_layout *l)
{
	for (int c = 0; c < CG_N; c++)
		hier_free(&l->ctrl[c]);
	hier_free(&l->unified);
}

void cgview_free(struct cgview *v)
{
	for (int c = 0; c < CG_N; c++) {
		free(v->dir[c]);
		v->dir[c] = NULL;
	}
}

/* Maps a cgroup path as /proc/<pid>/cgroup prints it to a directory under the mount. */
static char *resolve(const struct cg_hier *h, const char *path, size_t plen)
{
	char p[4096];
	if (plen >= sizeof(p))
		return NULL;
	memcpy(p, path, plen);
	p[plen] = '\0';
	/* "(deleted)" suffix: the cgroup is gone; nothing there to read. */
	if (!path_clean_abs(p) || strstr(p, " (deleted)"))
		return NULL;
	static const char scope[] = "/init.scope";
	size_t n = strlen(p);
	if (n > sizeof(scope) - 1 && strcmp(p + n - (sizeof(scope) - 1), scope) == 0)
		p[n - (sizeof(scope) - 1)] = '\0';
	else if (strcmp(p, scope) == 0)
		strcpy(p, "/");
	size_t rl = strlen(h->root);
	const char *rest = p;
	if (strcmp(h->root, "/") != 0) {
		if (strncmp(p, h->root, rl) != 0 || (p[rl] != '/' && p[rl] != '\0'))
			return NULL;
		rest = p + rl;
	}
	while (*rest == '/')
		rest++;
	char *out = NULL;
	if (asprintf(&out, "%s%s%s", h->mnt, *rest ? "/" : "", rest) < 0)
		return NULL;
	return out;
}

int cgview_from_text(struct cgview *v, const struct cg_layout *l, const char *text, size_t len)
{
	memset(v, 0, sizeof(*v));
	size_t pos = 0, ll;
	const char *line;
	while (next_line(text, len, &pos, &line, &ll)) {
		const char *c1 = memchr(line, ':', ll);
		const char *c2 = c1 ? memchr(c1 + 1, ':', ll - (size_t)(c1 + 1 - line)) : NULL;
		if (!c2)
			continue;
		size_t clen = (size_t)(c2 - c1 - 1);
		const char *path = c2 + 1;
		size_t plen = ll - (size_t)(path - line);
		bool v2line = clen == 0 && c1 - line == 1 && line[0] == '0';
		for (int c = 0; c < CG_N; c++) {
			const struct cg_hier *h = &l->ctrl[c];
			if (!h->mnt || v->dir[c])
				continue;
			bool match;
			if (h->v2) {
				match = v2line;
			} else {
				char ctrls[256];
				if (clen >= sizeof(ctrls))
					continue;
				memcpy(ctrls, c1 + 1, clen);
				ctrls[clen] = '\0';
				match = opt_list_has(ctrls, names[c].v1);
			}
			if (match) {
				v->dir[c] = resolve(h, path, plen);
				v->hier[c] = v->dir[c] ? h : NULL;
			}
		}
	}
	return 0;
}

bool cgview_is_root(const struct cgview *v, enum cg_ctrl c)
{
	return v->dir[c] && strcmp(v->dir[c], v->hier[c]->mnt) == 0;
}

int cg_read(const struct cgview *v, enum cg_ctrl c, const char *file, struct buf *out)
{
	if (!v->dir[c])
		return -ENOENT;
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", v->dir[c], file) >= sizeof(path))
		return -ENAMETOOLONG;
	return fdcache_read(v->files, path, out);
}

int cg_read_u64(const struct cgview *v, enum cg_ctrl c, const char *file, bool allow_max, uint64_t *out)
{
	if (!v->dir[c])
		return -ENOENT;
	char path[4096], text[64];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", v->dir[c], file) >= sizeof(path))
		return -ENAMETOOLONG;
	int r = fdcache_read_small(v->files, path, text, sizeof(text));
	if (r < 0)
		return r;
	return parse_u64(text, allow_max, out);
}

/* Calls fn with the cgroup's directory, then each ancestor's up to the hierarchy's mount.  The
 * hierarchy's own root is left out when the mount shows it (root "/"): no limit can be set
 * there (v1 refuses it, v2 has no such files), so each request would pay a read, or on v2 a
 * failed open, for nothing.  A mount of a sub-cgroup (inside a cgroup namespace) is a real
 * cgroup that may be limited: it is read. */
static int walk_up(const struct cgview *v, enum cg_ctrl c,
		   void (*fn)(struct fdcache *files, const char *dir, void *arg), void *arg)
{
	if (!v->dir[c])
		return -ENOENT;
	char path[4096];
	size_t mlen = strlen(v->hier[c]->mnt);
	bool skip_root = v->hier[c]->root && strcmp(v->hier[c]->root, "/") == 0;
	if ((size_t)snprintf(path, sizeof(path), "%s", v->dir[c]) >= sizeof(path))
		return -ENAMETOOLONG;
	for (;;) {
		if (!(skip_root && strlen(path) <= mlen))
			fn(v->files, path, arg);
		char *slash = strrchr(path, '/');
		if (strlen(path) <= mlen || !slash || (size_t)(slash - path) < mlen)
			return 0;
		*slash = '\0';
	}
}

/* dir/file into text (small, NUL-terminated); false if missing or too long a path. */
static bool read_level(struct fdcache *files, const char *dir, const char *file, char *text, size_t size)
{
	char fp[4096 + 256];
	return (size_t)snprintf(fp, sizeof(fp), "%s/%s", dir, file) < sizeof(fp) &&
	       fdcache_read_small(files, fp, text, size) >= 0;
}

struct limit_walk {
	const char *file;
	uint64_t best;
	bool found;
};

static void limit_level(struct fdcache *files, const char *dir, void *arg)
{
	struct limit_walk *w = arg;
	char text[64];
	uint64_t val;
	if (!read_level(files, dir, w->file, text, sizeof(text)))
		return;
	if (parse_u64(text, true, &val) < 0) {
		log_debug("ignoring unparsable %s/%s", dir, w->file);
		return;
	}
	w->found = true;
	if (val < w->best)
		w->best = val;
}

int cg_limit_min(const struct cgview *v, enum cg_ctrl c, const char *file, uint64_t *out)
{
	struct limit_walk w = { .file = file, .best = UINT64_MAX };
	int r = walk_up(v, c, limit_level, &w);
	if (r < 0)
		return r;
	if (!w.found)
		return -ENOENT;
	*out = w.best;
	return 0;
}

struct quota_walk {
	bool v2, found;
	uint64_t quota, period; /* the smallest quota/period seen */
};

static void quota_level(struct fdcache *files, const char *dir, void *arg)
{
	struct quota_walk *w = arg;
	char text[64], ptext[64];
	uint64_t q, p;
	if (w->v2) {
		/* cpu.max: "max 100000" or "50000 100000" */
		if (!read_level(files, dir, "cpu.max", text, sizeof(text)) || strncmp(text, "max", 3) == 0)
			return;
		char *sp = strchr(text, ' ');
		if (!sp)
			return;
		*sp = '\0';
		if (parse_u64(text, false, &q) < 0 || parse_u64(sp + 1, false, &p) < 0)
			return;
	} else {
		/* cpu.cfs_quota_us: -1 when unlimited */
		if (!read_level(files, dir, "cpu.cfs_quota_us", text, sizeof(text)) || text[0] == '-' ||
		    !read_level(files, dir, "cpu.cfs_period_us", ptext, sizeof(ptext)) || parse_u64(text, false, &q) < 0 ||
		    parse_u64(ptext, false, &p) < 0)
			return;
	}
	/* Outside what the kernel accepts (periods up to 1 s): ignored, not trusted.  The bounds
	 * also keep the cross products below from overflowing. */
	if (q == 0 || p == 0 || q > 1000000000000ull || p > 10000000)
		return;
	if (!w->found || q * w->period < w->quota * p) {
		w->quota = q;
		w->period = p;
		w->found = true;
	}
}

int cg_cpu_quota_cpus(const struct cgview *v, unsigned *out)
{
	if (!v->dir[CG_CPU])
		return -ENOENT;
	struct quota_walk w = { .v2 = v->hier[CG_CPU]->v2 };
	int r = walk_up(v, CG_CPU, quota_level, &w);
	if (r < 0)
		return r;
	if (!w.found)
		return -ENOENT;
	uint64_t n = (w.quota + w.period - 1) / w.period; /* a fraction of a cpu is a whole cpu */
	*out = n > CPUSET_MAX ? CPUSET_MAX : (unsigned)n;
	return 0;
}

int cg_cpuset(const struct cgview *v, struct cpuset *out)
{
	if (!v->dir[CG_CPUSET])
		return -ENOENT;
	bool v2 = v->hier[CG_CPUSET]->v2;
	static const char *const files[2][2] = {
		{ "cpuset.effective_cpus", "cpuset.cpus" },
		{ "cpuset.cpus.effective", "cpuset.cpus" },
	};
	/* The nearest level that says something: older kernels have no effective file, and a v2
	 * cgroup without the cpuset controller enabled has no cpuset files at all. */
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", v->dir[CG_CPUSET]);
	size_t mlen = strlen(v->hier[CG_CPUSET]->mnt);
	for (;;) {
		for (int f = 0; f < 2; f++) {
			char path[4096 + 64], text[4096];
			snprintf(path, sizeof(path), "%s/%s", dir, files[v2][f]);
			if (fdcache_read_small(v->files, path, text, sizeof(text)) == 0 && cpuset_parse(text, out) == 0 &&
			    !cpuset_empty(out))
				return 0;
		}
		char *slash = strrchr(dir, '/');
		if (strlen(dir) <= mlen || !slash || (size_t)(slash - dir) < mlen)
			return -ENOENT;
		*slash = '\0';
	}
}
