#include "openfile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 64

struct kept {
	uint64_t fh;
	struct kept *next;
	size_t len;
	char *data;
};

static struct {
	uint64_t serial;
	pthread_mutex_t lock[SHARDS];
	struct kept *head[SHARDS];
	size_t count;
} O;

void openfile_init(uint64_t first_serial)
{
	O.serial = first_serial & FH_SERIAL_MASK;
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&O.lock[i], NULL);
}

void openfile_fini(void)
{
	for (int i = 0; i < SHARDS; i++) {
		for (struct kept *k = O.head[i], *n; k; k = n) {
			n = k->next;
			free(k->data);
			free(k);
		}
		O.head[i] = NULL;
	}
	O.count = 0;
}

uint64_t fh_make(enum fh_kind kind)
{
	uint64_t s = __atomic_add_fetch(&O.serial, 1, __ATOMIC_RELAXED) & FH_SERIAL_MASK;
	return ((uint64_t)kind << 56) | s;
}

enum fh_kind fh_kind(uint64_t fh)
{
	return (enum fh_kind)(fh >> 56);
}

static unsigned shard(uint64_t fh)
{
	return (unsigned)((fh * UINT64_C(0x9e3779b97f4a7c15)) >> 58);
}

void openfile_keep(uint64_t fh, struct buf *content)
{
	unsigned s = shard(fh);
	pthread_mutex_lock(&O.lock[s]);
	struct kept *k = O.head[s];
	while (k && k->fh != fh)
		k = k->next;
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			pthread_mutex_unlock(&O.lock[s]);
			buf_free(content);
			return;
		}
		k->fh = fh;
		k->next = O.head[s];
		O.head[s] = k;
		__atomic_add_fetch(&O.count, 1, __ATOMIC_RELAXED);
	}
	free(k->data);
	k->data = content->data;
	k->len = content->len;
	pthread_mutex_unlock(&O.lock[s]);
	*content = (struct buf)BUF_INIT;
}

bool openfile_slice(uint64_t fh, off_t off, size_t size, struct buf *out)
{
	unsigned s = shard(fh);
	bool found = false;
	pthread_mutex_lock(&O.lock[s]);
	for (struct kept *k = O.head[s]; k; k = k->next) {
		if (k->fh != fh)
			continue;
		found = true;
		if (off >= 0 && (size_t)off < k->len) {
			size_t n = k->len - (size_t)off;
			buf_append(out, k->data + off, n < size ? n : size);
		}
		break;
	}
	pthread_mutex_unlock(&O.lock[s]);
	return found;
}

void openfile_forget(uint64_t fh)
{
	unsigned s = shard(fh);
	pthread_mutex_lock(&O.lock[s]);
	for (struct kept **p = &O.head[s]; *p; p = &(*p)->next) {
		if ((*p)->fh == fh) {
			struct kept *k = *p;
			*p = k->next;
			free(k->data);
			free(k);
			__atomic_sub_fetch(&O.count, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	pthread_mutex_unlock(&O.lock[s]);
}

size_t openfile_count(void)
{
	return __atomic_load_n(&O.count, __ATOMIC_RELAXED);
}
