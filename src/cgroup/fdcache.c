#include "cgroup/fdcache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/fileio.h"
#include "lib/hash.h"
#include "lib/clock.h"
#include "lib/log.h"

#define SHARDS FDCACHE_SHARDS

struct fdcache_kept {
	struct fdcache_kept *next;
	uint64_t hash;
	uint64_t used; /* shard clock at last use */
	size_t last;   /* length of the last read: the next buffer is sized from it */
	char *saved;   /* content kept by fdcache_read_aged, with its time */
	uint64_t saved_ms;
	int fd;
	bool one_go; /* fileio_one_go(path) */
	char path[];
};


void fdcache_init(struct fdcache *f, unsigned max_fds)
{
	*f = (struct fdcache){ 0 };
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&f->lock[i], NULL);
	f->per_shard = max_fds / SHARDS ? max_fds / SHARDS : 1;
	
}

void fdcache_fini(struct fdcache *f)
{
	for (int i = 0; i < SHARDS; i++) {
		for (struct fdcache_kept *k = f->head[i], *n; k; k = n) {
			n = k->next;
			close(k->fd);
			free(k->saved);
			free(k);
		}
		f->head[i] = NULL;
		f->count[i] = 0;
	}
}

static uint64_t hash_path(const char *p)
{
	return fnv1a64(FNV1A64_INIT, p, strlen(p));
}

static void unlink_kept(struct fdcache *f, unsigned s, struct fdcache_kept *k)
{
	for (struct fdcache_kept **p = &f->head[s]; *p; p = &(*p)->next) {
		if (*p == k) {
			*p = k->next;
			f->count[s]--;
			close(k->fd);
			free(k->saved);
			free(k);
			return;
		}
	}
}

static void evict_lru(struct fdcache *f, unsigned s)
{
	struct fdcache_kept *old = f->head[s];
	for (struct fdcache_kept *k = f->head[s]; k; k = k->next)
		if (k->used < old->used)
			old = k;
	if (old)
		unlink_kept(f, s, old);
}

/* Out of fds (the process's limit, or the system's): this shard's oldest goes, and the open is
 * tried once more; the budget from the limit (worker.c) should keep this from happening. */
static int open_evicting(struct fdcache *f, unsigned s, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && (errno == EMFILE || errno == ENFILE) && f->head[s]) {
		int e = errno;
		if (!__atomic_exchange_n(&f->emfile_logged, 1, __ATOMIC_RELAXED))
			log_warn("out of file descriptors (%s) opening %s: dropping kept files to make room",
				 strerror(e), path);
		evict_lru(f, s);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	} else if (fd >= 0) {
		__atomic_store_n(&f->emfile_logged, 0, __ATOMIC_RELAXED);
	}
	return fd;
}

/* Finds or opens path's fd in shard s; lock held. */
static struct fdcache_kept *get_locked(struct fdcache *f, unsigned s, uint64_t h, const char *path, int *err)
{
	for (struct fdcache_kept *k = f->head[s]; k; k = k->next)
		if (k->hash == h && strcmp(k->path, path) == 0)
			return k;
	int fd = open_evicting(f, s, path);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	if (f->count[s] >= f->per_shard)
		evict_lru(f, s);
	size_t n = strlen(path) + 1;
	struct fdcache_kept *k = malloc(sizeof(*k) + n);
	if (!k) {
		close(fd);
		*err = -ENOMEM;
		return NULL;
	}
	k->hash = h;
	k->fd = fd;
	k->one_go = fileio_one_go(path);
	k->last = 0;
	k->saved = NULL;
	k->saved_ms = 0;
	memcpy(k->path, path, n);
	k->next = f->head[s];
	f->head[s] = k;
	f->count[s]++;
	return k;
}

void fdcache_drop_under(struct fdcache *f, const char *dir)
{
	size_t n = strlen(dir);
	if (!f || n == 0)
		return;
	for (int s = 0; s < SHARDS; s++) {
		pthread_mutex_lock(&f->lock[s]);
		for (struct fdcache_kept *k = f->head[s], *next; k; k = next) {
			next = k->next;
			if (strncmp(k->path, dir, n) == 0 && k->path[n] == '/')
				unlink_kept(f, (unsigned)s, k);
		}
		pthread_mutex_unlock(&f->lock[s]);
	}
}

/* Reads through a kept fd with fn; the shard lock is held across the read so an eviction can
 * never close an fd another thread is reading (cgroup and proc reads take microseconds). */
static int with_fd(struct fdcache *f, const char *path, int (*fn)(struct fdcache_kept *k, void *arg), void *arg)
{
	uint64_t h = hash_path(path);
	unsigned s = (unsigned)(h >> 58) % SHARDS;
	int r = 0;
	pthread_mutex_lock(&f->lock[s]);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct fdcache_kept *k = get_locked(f, s, h, path, &r);
		if (!k)
			break;
		k->used = ++f->clock[s];
		r = fn(k, arg);
		/* ENODEV: the cgroup went away under a kept fd; ESRCH: the task of a /proc/<pid>
		 * file did.  Drop it: a new cgroup or task of the same path gets a fresh open. */
		if (r != -ENODEV && r != -ESTALE && r != -ESRCH)
			break;
		unlink_kept(f, s, k);
	}
	pthread_mutex_unlock(&f->lock[s]);
	return r;
}

/* Until pread returns 0: a seq_file hands out about a page per read when its records are small
 * (slabinfo), so a short read is not the end, except of a file made in one go. */
static int read_all_fn(struct fdcache_kept *k, void *arg)
{
	struct buf *out = arg;
	size_t start = out->len;
	if (!buf_reserve(out, k->last + 4096)) {
		out->len = start;
		return -ENOMEM;
	}
	int r = k->one_go ? fd_read_one_go(k->fd, out) : fd_read_all(k->fd, out);
	if (r == 0)
		k->last = out->len - start;
	return r;
}

int fdcache_read(struct fdcache *f, const char *path, struct buf *out)
{
	if (!f)
		return file_read(path, out);
	return with_fd(f, path, read_all_fn, out);
}

struct aged {
	struct buf *out;
	unsigned max_age_ms;
};

static int read_aged_fn(struct fdcache_kept *k, void *arg)
{
	struct aged *a = arg;
	uint64_t now = mono_ms();
	if (k->saved && now - k->saved_ms < a->max_age_ms)
		return buf_append(a->out, k->saved, k->last) ? 0 : -ENOMEM;
	size_t start = a->out->len;
	int r = read_all_fn(k, a->out);
	if (r < 0)
		return r;
	char *copy = malloc(k->last ? k->last : 1);
	if (copy) {
		if (k->last)
			memcpy(copy, a->out->data + start, k->last);
		free(k->saved);
		k->saved = copy;
		k->saved_ms = now;
	}
	return 0;
}

int fdcache_read_aged(struct fdcache *f, const char *path, unsigned max_age_ms, struct buf *out)
{
	if (!f)
		return file_read(path, out);
	struct aged a = { out, max_age_ms };
	return with_fd(f, path, read_aged_fn, &a);
}

struct small {
	char *dst;
	size_t size;
};

static int read_small_fn(struct fdcache_kept *k, void *arg)
{
	struct small *s = arg;
	ssize_t n = pread(k->fd, s->dst, s->size - 1, 0);
	if (n < 0)
		return -errno;
	s->dst[n] = '\0';
	return 0;
}

int fdcache_read_small(struct fdcache *f, const char *path, char *dst, size_t size)
{
	if (size == 0)
		return -EINVAL;
	if (!f) {
		ssize_t n = file_read_small(AT_FDCWD, path, dst, size);
		return n < 0 ? (int)n : 0;
	}
	struct small s = { dst, size };
	return with_fd(f, path, read_small_fn, &s);
}
