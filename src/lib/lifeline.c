#include "lib/lifeline.h"

#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct lifeline {
	pthread_mutex_t slot[LIFELINE_SLOTS];
};

static struct lifeline *own;
static __thread int held = -1;

/* A lock's result: 0 once we hold the slot, which EOWNERDEAD also means (the holder died). */
static int taken(int r)
{
	return r == 0 || r == EOWNERDEAD ? 0 : r;
}

int lifeline_create(void)
{
	if (own)
		return -EBUSY;
	int fd = memfd_create(LIFELINE_MEMFD, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct lifeline *l = MAP_FAILED;
	if (ftruncate(fd, sizeof(*l)) == 0)
		l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	for (int i = 0; i < LIFELINE_SLOTS; i++)
		pthread_mutex_init(&l->slot[i], &a);
	pthread_mutexattr_destroy(&a);
	__atomic_store_n(&own, l, __ATOMIC_RELEASE);
	lifeline_hold();
	return fd;
}

void lifeline_hold(void)
{
	struct lifeline *l = __atomic_load_n(&own, __ATOMIC_ACQUIRE);
	if (!l || held >= 0)
		return;
	for (int i = 0; i < LIFELINE_SLOTS; i++) {
		int r = pthread_mutex_trylock(&l->slot[i]);
		if (r == EOWNERDEAD) /* a thread of ours that ended without giving it back */
			pthread_mutex_consistent(&l->slot[i]);
		if (taken(r) == 0) {
			held = i;
			return;
		}
	}
	/* More threads than slots: this one may still run when a watcher calls us dead.  Not with
	 * the few threads a worker has. */
}

void lifeline_release(void)
{
	struct lifeline *l = __atomic_load_n(&own, __ATOMIC_ACQUIRE);
	if (l && held >= 0)
		pthread_mutex_unlock(&l->slot[held]);
	held = -1;
}

int lifeline_watch(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((size_t)st.st_size < sizeof(struct lifeline))
		return -EINVAL;
	struct lifeline *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (l == MAP_FAILED)
		return -errno;
	int r = pthread_mutex_lock(&l->slot[0]);
	int end = r == EOWNERDEAD ? LIFELINE_DIED : r == 0 ? LIFELINE_LET_GO : -r;
	int last = end >= 0 ? 1 : 0;
	/* A death: wait out every other holder (the kernel kills them together; one that still ran
	 * a moment after the first died could still write what we are about to take over). */
	while (end == LIFELINE_DIED && last < LIFELINE_SLOTS && taken(pthread_mutex_lock(&l->slot[last])) == 0)
		last++;
	/* Given back before the unmap: the robust list of this thread must not point into it. */
	for (int i = 0; i < last; i++)
		pthread_mutex_unlock(&l->slot[i]);
	munmap(l, sizeof(*l));
	return end;
}
