#include "cgroup/cputree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "fs/tree.h"

#define SHARDS CPUTREE_SHARDS
#define WALK_MAX_DEPTH 8
#define WALK_MAX_ENTRIES 500000

struct cputree_entry {
	uint64_t ino;
	struct cputree_entry *next;
	char path[];
};


static unsigned shard_of(uint64_t ino)
{
	return (unsigned)(ino ^ (ino >> 17)) % SHARDS;
}

int cputree_init(struct cputree *t, const char *hostdir)
{
	*t = (struct cputree){ .rootfd = -1, .ready = 1 };
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&t->lock[i], NULL);
	pthread_mutex_init(&t->walk_lock, NULL);
	t->rootfd = open(hostdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (t->rootfd < 0) {
		int e = errno;
		log_warn("cannot open %s: %s; sys/devices/system/cpu will be empty", hostdir, strerror(e));
		return -e;
	}
	return 0;
}

void cputree_fini(struct cputree *t)
{
	if (!t->ready)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct cputree_entry *e = t->head[i];
		while (e) {
			struct cputree_entry *n = e->next;
			free(e);
			e = n;
		}
		t->head[i] = NULL;
	}
	if (t->rootfd >= 0)
		close(t->rootfd);
	t->rootfd = -1;
	t->nentries = 0;
	t->last_walk = 0;
	t->ready = 0;
}

/* Records ino -> path.  -EIO on a hash collision: two paths must never share an id. */
static int remember(struct cputree *t, uint64_t ino, const char *path)
{
	unsigned s = shard_of(ino);
	int r = 0;
	pthread_mutex_lock(&t->lock[s]);
	struct cputree_entry *e = t->head[s];
	for (; e; e = e->next)
		if (e->ino == ino)
			break;
	if (e) {
		if (strcmp(e->path, path) != 0) {
			log_error("node id collision: %s and %s", e->path, path);
			r = -EIO;
		}
	} else if (__atomic_load_n(&t->nentries, __ATOMIC_RELAXED) >= WALK_MAX_ENTRIES) {
		r = -ENOSPC;
	} else {
		size_t n = strlen(path) + 1;
		e = malloc(sizeof(*e) + n);
		if (!e) {
			r = -ENOMEM;
		} else {
			e->ino = ino;
			memcpy(e->path, path, n);
			e->next = t->head[s];
			t->head[s] = e;
			__atomic_add_fetch(&t->nentries, 1, __ATOMIC_RELAXED);
		}
	}
	pthread_mutex_unlock(&t->lock[s]);
	return r;
}

static bool recall(struct cputree *t, uint64_t ino, char *rel, size_t size)
{
	unsigned s = shard_of(ino);
	bool found = false;
	pthread_mutex_lock(&t->lock[s]);
	for (struct cputree_entry *e = t->head[s]; e; e = e->next) {
		if (e->ino == ino) {
			found = (size_t)snprintf(rel, size, "%s", e->path) < size;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock[s]);
	return found;
}

/* Opens rel below the host cpu dir; never follows a symlink, never leaves the dir. */
static int open_beneath(struct cputree *t, const char *rel, int flags)
{
	if (t->rootfd < 0)
		return -ENOENT;
	if (!*rel)
		rel = ".";
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, t->rootfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS) {
		/* Before 5.6: names are validated single components and parents are directories we
		 * looked up ourselves, so a plain openat stays inside. */
		fd = openat(t->rootfd, rel, flags | O_CLOEXEC | O_NOFOLLOW);
	}
	return fd < 0 ? -errno : fd;
}

static int stat_rel(struct cputree *t, const char *rel, struct stat *st)
{
	int fd = open_beneath(t, rel, O_PATH);
	if (fd < 0)
		return fd;
	int r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Calls fn for each entry of directory rel (beneath the root) with a valid name, with the
 * entry's path and node id, after remembering that id (fn gets remember's result), until fn
 * returns false.  0 or -errno. */
static int each_child(struct cputree *t, const char *rel,
		      bool (*fn)(struct cputree *t, const struct dirent *de, const char *child, uint64_t ino,
				 int remembered, void *arg),
		      void *arg)
{
	int fd = open_beneath(t, rel, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return fd;
	DIR *d = fdopendir(fd);
	if (!d) {
		int r = -errno;
		close(fd);
		return r;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!tree_name_ok(de->d_name))
			continue;
		char child[4096];
		if ((size_t)snprintf(child, sizeof(child), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >=
		    sizeof(child))
			continue;
		uint64_t ino = tree_dynamic_ino(child);
		if (!fn(t, de, child, ino, remember(t, ino, child), arg))
			break;
	}
	closedir(d);
	return 0;
}

static void walk(struct cputree *t, const char *rel, int depth);

static bool walk_child(struct cputree *t, const struct dirent *de, const char *child, uint64_t ino, int remembered,
		       void *depth)
{
	if (remembered == -ENOSPC)
		return false;
	if (de->d_type == DT_DIR)
		walk(t, child, *(int *)depth + 1);
	return true;
}

static void walk(struct cputree *t, const char *rel, int depth)
{
	if (depth <= WALK_MAX_DEPTH)
		each_child(t, rel, walk_child, &depth);
}

int cputree_path(struct cputree *t, uint64_t ino, char *rel, size_t size)
{
	if (ino == INO_SYS_CPU) {
		if (size)
			rel[0] = '\0';
		return 0;
	}
	if (!(ino & INO_DYNAMIC_BIT))
		return -ESTALE;
	if (recall(t, ino, rel, size))
		return 0;
	/* An id we never handed out: a previous process did.  Relearn the tree, at most once a
	 * second so a stream of truly stale ids cannot keep us walking. */
	pthread_mutex_lock(&t->walk_lock);
	time_t now = time(NULL);
	if (!recall(t, ino, rel, size) && now != t->last_walk) {
		t->last_walk = now;
		walk(t, "", 0);
	}
	pthread_mutex_unlock(&t->walk_lock);
	return recall(t, ino, rel, size) ? 0 : -ESTALE;
}

int cputree_lookup(struct cputree *t, uint64_t parent, const char *name, uint64_t *ino, struct stat *st)
{
	char prel[4096], rel[4096];
	if (!tree_name_ok(name))
		return -ENOENT;
	int r = cputree_path(t, parent, prel, sizeof(prel));
	if (r < 0)
		return r;
	if ((size_t)snprintf(rel, sizeof(rel), "%s%s%s", prel, *prel ? "/" : "", name) >= sizeof(rel))
		return -ENAMETOOLONG;
	r = stat_rel(t, rel, st);
	if (r < 0)
		return r;
	*ino = tree_dynamic_ino(rel);
	return remember(t, *ino, rel);
}

int cputree_stat(struct cputree *t, uint64_t ino, struct stat *st)
{
	char rel[4096];
	int r = cputree_path(t, ino, rel, sizeof(rel));
	return r < 0 ? r : stat_rel(t, rel, st);
}

int cputree_readlink(struct cputree *t, uint64_t ino, char *dst, size_t size)
{
	char rel[4096];
	int r = cputree_path(t, ino, rel, sizeof(rel));
	if (r < 0)
		return r;
	int fd = open_beneath(t, rel, O_PATH);
	if (fd < 0)
		return fd;
	ssize_t n = readlinkat(fd, "", dst, size - 1);
	r = n < 0 ? -errno : (int)n;
	close(fd);
	if (n >= 0)
		dst[n] = '\0';
	return r;
}

int cputree_read(struct cputree *t, uint64_t ino, off_t off, size_t size, struct buf *out)
{
	char rel[4096];
	int r = cputree_path(t, ino, rel, sizeof(rel));
	if (r < 0)
		return r;
	int fd = open_beneath(t, rel, O_RDONLY);
	if (fd < 0)
		return fd;
	if (!buf_reserve(out, size)) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t n = pread(fd, out->data + out->len, size, off);
	r = n < 0 ? -errno : 0;
	if (n > 0)
		out->len += (size_t)n;
	close(fd);
	return r;
}

struct list_arg {
	cputree_entry_fn fn;
	void *arg;
};

static bool list_child(struct cputree *t, const struct dirent *de, const char *child, uint64_t ino, int remembered,
		       void *arg)
{
	struct list_arg *l = arg;
	if (remembered < 0)
		return true; /* not listed: an id we could not remember would not be found again */
	mode_t type = de->d_type == DT_DIR ? S_IFDIR : de->d_type == DT_LNK ? S_IFLNK : S_IFREG;
	return l->fn(l->arg, de->d_name, ino, type);
}

int cputree_list(struct cputree *t, uint64_t ino, cputree_entry_fn fn, void *arg)
{
	char rel[4096];
	int r = cputree_path(t, ino, rel, sizeof(rel));
	if (r < 0)
		return r;
	struct list_arg l = { fn, arg };
	return each_child(t, rel, list_child, &l);
}
