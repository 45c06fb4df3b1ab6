#include "fs/psi.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/lifeline.h"
#include "lib/log.h"
#include "reinit/psistore.h"
#include "fs/serve.h"

#define WINDOW_MAX_US 10000000u /* the kernel's */
#define UNPRIV_WINDOW_US 2000000u
#define MAX_TRIGGERS 1024
/* What poll answers for a file, as the kernel's DEFAULT_POLLMASK. */
#define DEFAULT_MASK (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)

struct trigger {
	struct trigger *next;
	uint64_t fh, kh;
	int fd;          /* the pressure file the trigger was written to */
	unsigned events; /* seen by the watcher, not answered yet */
	int waiting;     /* the kernel waits for a FUSE_NOTIFY_POLL of kh */
	struct psistore_entry *kept; /* its record in the store (NULL: none) */
};


static struct trigger *find(struct psi *p, uint64_t fh)
{
	for (struct trigger *t = p->head; t; t = t->next)
		if (t->fh == fh)
			return t;
	return NULL;
}

/* One event a turn, taken under the lock: a trigger released meanwhile is simply not found. */
static void watch(struct psi *p)
{
	for (;;) {
		struct epoll_event ev[16];
		int n = epoll_wait(p->ep, ev, 16, -1);
		if (n < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.u64 == 0)
				return; /* the stop eventfd */
			pthread_mutex_lock(&p->lock);
			struct trigger *t = find(p, ev[i].data.u64);
			if (t) {
				t->events |= ev[i].events & (EPOLLPRI | EPOLLERR | EPOLLHUP);
				if (t->waiting) {
					t->waiting = 0;
					if (t->kept)
						__atomic_store_n(&t->kept->waiting, 0, __ATOMIC_RELAXED);
					serve_notify_poll(p->serve, t->kh);
				}
			}
			pthread_mutex_unlock(&p->lock);
		}
	}
}

/* The watcher thread: a slot of the worker's lifeline while it runs (it writes the store). */
static void *watcher(void *arg)
{
	lifeline_hold();
	watch(arg);
	lifeline_release();
	return NULL;
}

int psi_init(struct psi *p, struct serve *serve, int store_fd)
{
	*p = (struct psi){ .ep = -1, .stop = -1, .serve = serve };
	pthread_mutex_init(&p->lock, NULL);
	p->ready = 1;
	if (store_fd >= 0 && psistore_attach(&p->store, store_fd) < 0)
		log_warn("psi: cannot map the trigger store; triggers will not outlive this worker");
	p->ep = epoll_create1(EPOLL_CLOEXEC);
	p->stop = eventfd(0, EFD_CLOEXEC);
	if (p->ep < 0 || p->stop < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 }; /* fh 0 is never issued */
	if (epoll_ctl(p->ep, EPOLL_CTL_ADD, p->stop, &ev) < 0)
		return -errno;
	int r = pthread_create(&p->tid, NULL, watcher, p);
	if (r)
		return -r;
	p->running = 1;
	return 0;
}

void psi_fini(struct psi *p)
{
	if (!p->ready)
		return; /* never started (no --enable-psi-poll) */
	if (p->running) {
		uint64_t one = 1;
		if (write(p->stop, &one, sizeof(one)) == sizeof(one))
			pthread_join(p->tid, NULL);
		p->running = 0;
	}
	pthread_mutex_lock(&p->lock);
	while (p->head) {
		struct trigger *t = p->head;
		p->head = t->next;
		close(t->fd);
		free(t);
	}
	p->n = 0;
	pthread_mutex_unlock(&p->lock);
	if (p->ep >= 0)
		close(p->ep);
	if (p->stop >= 0)
		close(p->stop);
	p->ep = p->stop = -1;
	p->store = (struct psistore){ 0 }; /* its mapping goes with the process */
	pthread_mutex_destroy(&p->lock);
	p->ready = 0;
}

static struct psistore_entry *kept_find(struct psi *p, uint64_t fh)
{
	for (unsigned i = 0; p->store.hdr && i < PSISTORE_ENTRIES; i++)
		if (__atomic_load_n(&p->store.e[i].fh, __ATOMIC_ACQUIRE) == fh)
			return &p->store.e[i];
	return NULL;
}

/* A record for a new trigger: filled first, then claimed by its fh (other workers of the
 * daemon, during an upgrade, claim beside us). */
static struct psistore_entry *kept_add(struct psi *p, uint64_t fh, const char *path, const char *line)
{
	for (unsigned i = 0; p->store.hdr && i < PSISTORE_ENTRIES; i++) {
		struct psistore_entry *e = &p->store.e[i];
		uint64_t zero = 0;
		if (__atomic_load_n(&e->fh, __ATOMIC_RELAXED) != 0 ||
		    !__atomic_compare_exchange_n(&e->fh, &zero, UINT64_MAX, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		snprintf(e->path, sizeof(e->path), "%s", path);
		snprintf(e->line, sizeof(e->line), "%s", line);
		e->kh = 0;
		e->waiting = 0;
		__atomic_store_n(&e->fh, fh, __ATOMIC_RELEASE);
		return e;
	}
	if (p->store.hdr)
		log_warn("psi: the trigger store is full; this trigger will not outlive the worker");
	return NULL;
}

/* Arms line on path and adds the trigger; the lock is held.  0 or -errno. */
static int arm(struct psi *p, uint64_t fh, const char *path, const char *line, struct psistore_entry *kept)
{
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct trigger *t = calloc(1, sizeof(*t));
	struct epoll_event ev = { .events = EPOLLPRI | EPOLLONESHOT, .data.u64 = fh };
	int r = !t ? -ENOMEM : write(fd, line, strlen(line) + 1) < 0 ? -errno
			    : epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
	if (r < 0) {
		close(fd);
		free(t);
		return r;
	}
	t->fh = fh;
	t->fd = fd;
	t->kept = kept;
	t->next = p->head;
	p->head = t;
	p->n++;
	return 0;
}

void psi_wake_own(struct psi *p)
{
	pthread_mutex_lock(&p->lock);
	for (struct trigger *t = p->head; t; t = t->next) {
		if (t->waiting) {
			t->waiting = 0;
			serve_notify_poll(p->serve, t->kh);
		}
	}
	pthread_mutex_unlock(&p->lock);
}

void psi_wake_waiters(struct psi *p)
{
	unsigned n = 0;
	for (unsigned i = 0; p->store.hdr && i < PSISTORE_ENTRIES; i++) {
		struct psistore_entry *e = &p->store.e[i];
		uint64_t fh = __atomic_load_n(&e->fh, __ATOMIC_ACQUIRE);
		if (fh && fh != UINT64_MAX && __atomic_load_n(&e->waiting, __ATOMIC_RELAXED) && e->kh) {
			serve_notify_poll(p->serve, e->kh);
			n++;
		}
	}
	if (n)
		log_info("psi: woke %u reader(s) waiting on triggers armed before this worker", n);
}

/* The pressure files, and the cgroup controller whose directory holds each one's. */
static const struct {
	const char *res;
	enum cg_ctrl ctrl;
} files[] = { { "cpu", CG_CPU }, { "io", CG_BLKIO }, { "memory", CG_MEMORY } };

/* The reader's pressure file: its cgroup's where it has one, else the host's. */
static int target(const char *res, const struct rctx *rc, char *path, size_t size)
{
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (strcmp(files[i].res, res) != 0)
			continue;
		if (rc->cg && rc->cg->dir[files[i].ctrl]) {
			snprintf(path, size, "%s/%s.pressure", rc->cg->dir[files[i].ctrl], res);
			if (access(path, F_OK) == 0)
				return 0;
		}
		snprintf(path, size, "%s/pressure/%s", rc->host->proc, res);
		return 0;
	}
	return -EINVAL;
}

/* The kernel's parsing (kernel/sched/psi.c): the last byte written is dropped (writers send the
 * string's terminating NUL), "some" or "full", a window up to 10 s, a threshold within it.
 * The line that reaches the kernel is rebuilt from the numbers. */
int psi_parse_trigger(const char *buf, size_t size, char *line, size_t linesz)
{
	if (size == 0)
		return -EINVAL;
	char tmp[32];
	size_t n = size < sizeof(tmp) ? size : sizeof(tmp);
	memcpy(tmp, buf, n);
	tmp[n - 1] = '\0';
	unsigned threshold, window;
	const char *kind;
	if (sscanf(tmp, "some %u %u", &threshold, &window) == 2)
		kind = "some";
	else if (sscanf(tmp, "full %u %u", &threshold, &window) == 2)
		kind = "full";
	else
		return -EINVAL;
	if (window == 0 || window > WINDOW_MAX_US)
		return -EINVAL;
	/* as upstream: a container may not ask for finer windows than an unprivileged host user */
	if (window % UNPRIV_WINDOW_US)
		window = UNPRIV_WINDOW_US;
	if (threshold == 0 || threshold > window)
		return -EINVAL;
	snprintf(line, linesz, "%s %u %u", kind, threshold, window);
	return 0;
}

long psi_write(struct psi *p, uint64_t fh, const char *res, const struct rctx *rc, const char *buf, size_t size, long off)
{
	char line[32], path[256];
	int r = psi_parse_trigger(buf, size, line, sizeof(line));
	pthread_mutex_lock(&p->lock);
	bool armed = find(p, fh) != NULL;
	struct psistore_entry *e = armed ? NULL : kept_find(p, fh);
	if (e && r == 0 && strcmp(e->line, line) == 0) {
		/* Armed by a worker that died before it answered: this is that write again, from
		 * the journal or resent by the kernel; answered as the first time. */
		r = arm(p, fh, e->path, e->line, e);
		pthread_mutex_unlock(&p->lock);
		return r < 0 ? r : (long)size;
	}
	pthread_mutex_unlock(&p->lock);
	if (armed || e)
		return -EBUSY; /* one trigger per open file, as the kernel's */
	if (off != 0 || r < 0)
		return off != 0 ? -EINVAL : r;
	r = target(res, rc, path, sizeof(path));
	if (r < 0)
		return r;
	pthread_mutex_lock(&p->lock);
	if (find(p, fh)) /* a second write of the same handle raced us */
		r = -EBUSY;
	else if (p->n >= MAX_TRIGGERS)
		r = -ENOMEM;
	else
		r = arm(p, fh, path, line, NULL);
	if (r == 0)
		p->head->kept = kept_add(p, fh, path, line);
	pthread_mutex_unlock(&p->lock);
	if (r == -ENOMEM)
		log_warn("psi: %u triggers armed already, or no memory: refused one", p->n);
	return r < 0 ? r : (long)size;
}

unsigned psi_poll(struct psi *p, uint64_t fh, uint64_t kh, int schedule)
{
	pthread_mutex_lock(&p->lock);
	struct trigger *t = find(p, fh);
	if (!t) {
		/* armed by a worker before us: armed again from its record */
		struct psistore_entry *e = kept_find(p, fh);
		if (e && arm(p, fh, e->path, e->line, e) == 0)
			t = p->head;
	}
	if (!t) {
		pthread_mutex_unlock(&p->lock);
		return DEFAULT_MASK | POLLERR | POLLPRI; /* the kernel's answer without a trigger */
	}
	unsigned ev = t->events;
	t->events = 0;
	if (!ev) {
		struct pollfd pf = { .fd = t->fd, .events = POLLPRI };
		if (poll(&pf, 1, 0) > 0)
			ev = (unsigned)pf.revents;
	}
	ev &= POLLPRI | POLLERR | POLLHUP;
	if (!ev && schedule) {
		/* Nothing yet: the watcher wakes the kernel at the next event.  One-shot, so that
		 * a trigger in error (its cgroup removed) cannot spin it. */
		t->kh = kh;
		t->waiting = 1;
		if (t->kept) {
			__atomic_store_n(&t->kept->kh, kh, __ATOMIC_RELAXED);
			__atomic_store_n(&t->kept->waiting, 1, __ATOMIC_RELAXED);
		}
		struct epoll_event e = { .events = EPOLLPRI | EPOLLONESHOT, .data.u64 = fh };
		epoll_ctl(p->ep, EPOLL_CTL_MOD, t->fd, &e);
	}
	pthread_mutex_unlock(&p->lock);
	return DEFAULT_MASK | ev;
}

void psi_release(struct psi *p, uint64_t fh)
{
	pthread_mutex_lock(&p->lock);
	for (struct trigger **tp = &p->head; *tp; tp = &(*tp)->next) {
		if ((*tp)->fh != fh)
			continue;
		struct trigger *t = *tp;
		*tp = t->next;
		p->n--;
		epoll_ctl(p->ep, EPOLL_CTL_DEL, t->fd, NULL);
		close(t->fd);
		free(t);
		break;
	}
	struct psistore_entry *e = kept_find(p, fh);
	if (e)
		__atomic_store_n(&e->fh, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p->lock);
}
