#include "reinit/heal/runners.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/fdpass.h"
#include "lib/log.h"
#include "fs/fault.h"

pid_t fork_reporting(int *rd, int *wr)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(p[0]);
		close(p[1]);
		return -e;
	}
	if (pid == 0) {
		close(p[0]);
		fcntl(p[1], F_SETFL, 0);
		*wr = p[1];
		return 0;
	}
	close(p[1]);
	*rd = p[0];
	return pid;
}

#define REC_MAX (128 * 1024) /* a namespace's message at most (below the socket's buffer); a
				* bigger one (3,000 mounts and more) is healed alone */

/* (the namespace itself comes with the message: its fd, SCM_RIGHTS) */
struct rec_head {
	uint32_t ns, n;   /* its index in the pass, its candidates */
	uint32_t who_len; /* with the NUL */
};

struct rec_cand {
	uint64_t dev;
	int32_t id;
	uint32_t root_len, why_len; /* with the NUL; why_len 0: ours to heal if dead */
	uint32_t mp_len;            /* with the NUL; 0: none (a heal's) */
	uint8_t proven, live, release, pad;
};

void pool_init(struct pool *p, int mntfd, const char *mnt, pool_done_fn *done_fn, void *arg, const dev_t *hung,
	       const size_t *nhung)
{
	*p = (struct pool){ .mntfd = mntfd, .mnt = mnt, .done_fn = done_fn, .arg = arg, .hung = hung, .nhung = nhung,
			    .q = { -1, -1 } };
}

/* A namespace and its candidates cs[n] as a message into p->msg: its length, or 0 if too big. */
static size_t rec_make(struct pool *p, const struct cand *cs, size_t n, uint32_t ns, const char *who)
{
	struct rec_head h = { .ns = ns, .n = (uint32_t)n, .who_len = (uint32_t)strlen(who) + 1 };
	size_t len = sizeof(h) + h.who_len;
	if (len > p->rec_max)
		return 0;
	memcpy(p->msg, &h, sizeof(h));
	memcpy(p->msg + sizeof(h), who, h.who_len);
	for (size_t i = 0; i < n; i++) {
		const struct cand *c = &cs[i];
		struct rec_cand rc = { .dev = c->dev, .id = c->id, .root_len = (uint32_t)strlen(c->root) + 1,
				       .why_len = c->why_left ? (uint32_t)strlen(c->why_left) + 1 : 0,
				       .mp_len = c->mountpoint ? (uint32_t)strlen(c->mountpoint) + 1 : 0,
				       .proven = c->proven, .live = c->live, .release = c->release };
		if (len + sizeof(rc) + rc.root_len + rc.why_len + rc.mp_len > p->rec_max)
			return 0;
		memcpy(p->msg + len, &rc, sizeof(rc));
		len += sizeof(rc);
		memcpy(p->msg + len, c->root, rc.root_len);
		len += rc.root_len;
		if (rc.why_len)
			memcpy(p->msg + len, c->why_left, rc.why_len);
		len += rc.why_len;
		if (rc.mp_len)
			memcpy(p->msg + len, c->mountpoint, rc.mp_len);
		len += rc.mp_len;
	}
	return len;
}

/* A string of len bytes (NUL included) at m + *at, within n: the string, or NULL. */
static char *rec_str(char *m, size_t n, size_t *at, uint32_t len)
{
	if (!len || len > n - *at || m[*at + len - 1] != '\0')
		return NULL;
	char *str = m + *at;
	*at += len;
	return str;
}

/* A message back into a namespace (h, *who) and its candidates (*cs, grown as needed; their
 * strings point into m): 0, or -EINVAL if it does not hold together. */
static int rec_read(char *m, size_t n, struct rec_head *h, char **who, struct cand **cs, size_t *cap)
{
	size_t at = sizeof(*h);
	if (n < at)
		return -EINVAL;
	memcpy(h, m, sizeof(*h));
	if (!(*who = rec_str(m, n, &at, h->who_len)))
		return -EINVAL;
	if (h->n > *cap) {
		struct cand *more = reallocarray(*cs, h->n, sizeof(**cs));
		if (!more)
			return -ENOMEM;
		*cs = more;
		*cap = h->n;
	}
	for (uint32_t i = 0; i < h->n; i++) {
		struct rec_cand rc;
		if (n - at < sizeof(rc))
			return -EINVAL;
		memcpy(&rc, m + at, sizeof(rc));
		at += sizeof(rc);
		struct cand *c = &(*cs)[i];
		*c = (struct cand){ .id = rc.id, .dev = (dev_t)rc.dev, .tree = -1, .proven = rc.proven, .live = rc.live,
				    .release = rc.release };
		if (!(c->root = rec_str(m, n, &at, rc.root_len)) ||
		    (rc.why_len && !(c->why_left = rec_str(m, n, &at, rc.why_len))) ||
		    (rc.mp_len && !(c->mountpoint = rec_str(m, n, &at, rc.mp_len))))
			return -EINVAL;
	}
	return at == n ? 0 : -EINVAL;
}

/* A message from the queue and the namespace's fd that came with it (*fd, else -1): its length,
 * 0 at the end, or -1 (errno). */
static ssize_t recv_with_fd(int q, char *m, size_t size, int *fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = m, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof(ctl.b) };
	ssize_t got = recvmsg(q, &msg, MSG_CMSG_CLOEXEC);
	if (got >= 0 && fdpass_take(&msg, fd, 1) != 1)
		*fd = -1;
	return got;
}

/* In a runner: namespaces from the queue until the pass has queued them all.  Each starts with
 * a report naming it, so that one whose runner is killed is still accounted for.  Never returns. */
static void run_queue(int q, struct pool_shared *sh, unsigned slot, int mntfd, const char *mnt, int out)
{
	struct heal_home home = heal_home_open(mntfd, mnt);
	struct ns_result *res = &sh->at[slot];
	char *m = malloc(REC_MAX);
	struct cand *cs = NULL;
	size_t cap = 0;
	bool away = false;
	if (!m)
		_exit(4);
	for (;;) {
		int nsfd = -1;
		ssize_t got = recv_with_fd(q, m, REC_MAX, &nsfd);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break; /* the end of the queue, or of the pass */
		struct rec_head h = { .ns = UINT_MAX };
		char *who;
		int bad = rec_read(m, (size_t)got, &h, &who, &cs, &cap);
		if (h.ns == UINT_MAX) {
			if (nsfd >= 0)
				close(nsfd);
			continue; /* cannot even say which: the pass counts it as not healed at its end */
		}
		__atomic_store_n(&sh->taken_ms[slot], mono_ms(), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE); /* the time before the namespace it is for */
		*res = (struct ns_result){ .ns = h.ns };
		if (bad < 0) {
			log_error("rebind: namespace %u of the pass: its message is bad (%s)", h.ns, strerror(-bad));
			res->failed++;
		} else {
			unsigned nhung = __atomic_load_n(&sh->nhung, __ATOMIC_ACQUIRE);
			for (size_t k = 0; k < h.n; k++)
				for (unsigned i = 0; i < nhung && i < sizeof(sh->hung) / sizeof(sh->hung[0]); i++)
					cs[k].hung |= cs[k].dev == sh->hung[i];
			/* back home first: the trees are cloned there */
			if (away && setns(home.ns, CLONE_NEWNS) < 0) {
				log_error("rebind: cannot return to our mount namespace: %s", strerror(errno));
				_exit(3);
			}
			away = false;
			if (nsfd >= 0) {
				away = true;
				heal_in(&home, nsfd, cs, h.n, who, -1, res);
			} else {
				log_error("rebind: %s: its namespace did not come with its message", who);
				res->failed++;
			}
		}
		if (nsfd >= 0)
			close(nsfd);
		struct ns_result done = *res;
		done.done = true;
		if (write(out, &done, sizeof(done)) != sizeof(done))
			_exit(2);
	}
	_exit(0);
}

static int runner_start(struct pool *p, struct runner *r)
{
	int rd = -1, wr = -1;
	unsigned slot = (unsigned)(r - p->run);
	p->sh->at[slot] = (struct ns_result){ .ns = UINT_MAX };
	pid_t pid = fork_reporting(&rd, &wr);
	if (pid == 0) {
		close(p->q[1]);
		run_queue(p->q[0], p->sh, slot, p->mntfd, p->mnt, wr);
	}
	if (pid < 0)
		return (int)pid;
	*r = (struct runner){ .pid = pid, .pipe = rd, .slot = slot, .last_done = UINT_MAX };
	p->running++;
	return 0;
}

/* One more runner, while fewer run than the pass wants: 0 if one was started. */
static int runner_add(struct pool *p)
{
	for (unsigned i = 0; i < p->want && p->running < p->want; i++)
		if (!p->run[i].pid) {
			int r = runner_start(p, &p->run[i]);
			if (r < 0)
				log_error("rebind: cannot start a child: %s", strerror(-r));
			return r;
		}
	return -EBUSY;
}

static const char *pool_who(const struct pool *p, unsigned ns)
{
	return ns < p->n ? p->who[ns] : "a namespace";
}

/* A runner's reports, each a namespace done, into the stats: 0 at the end of its pipe. */
static ssize_t runner_drain(struct pool *p, struct runner *r)
{
	struct ns_result res;
	ssize_t got;
	while ((got = read(r->pipe, &res, sizeof(res))) == (ssize_t)sizeof(res)) {
		r->last_done = res.ns;
		if (res.ns < p->n) {
			p->done_fn(&res, 0, pool_who(p, res.ns), p->arg);
			p->done++;
		}
	}
	return got;
}

/* Ends a runner: killed (timed out) or exited.  The namespace it had in hand and did not finish
 * counts as failed, with how far it got there (the device it was asking: hung). */
static void runner_end(struct pool *p, struct runner *r, bool timed_out)
{
	int status;
	if (timed_out)
		kill(r->pid, SIGKILL);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	runner_drain(p, r);
	close(r->pipe);
	struct ns_result at = p->sh->at[r->slot];
	if (at.ns < p->n && at.ns != r->last_done) {
		p->done_fn(&at, timed_out ? -ETIMEDOUT : -EIO, pool_who(p, at.ns), p->arg);
		p->done++;
	}
	*r = (struct runner){ 0 };
	p->running--;
}

/* The devices found hung since the runners last heard, told them. */
static void pool_share_hung(struct pool *p)
{
	unsigned have = __atomic_load_n(&p->sh->nhung, __ATOMIC_RELAXED);
	for (size_t h = have; h < *p->nhung && h < sizeof(p->sh->hung) / sizeof(p->sh->hung[0]); h++) {
		__atomic_store_n(&p->sh->hung[h], p->hung[h], __ATOMIC_RELAXED);
		__atomic_store_n(&p->sh->nhung, (unsigned)h + 1, __ATOMIC_RELEASE);
	}
}

/* When r is past its bound: the bound after it took the namespace it has in hand, none while it
 * waits for the queue. */
static uint64_t runner_deadline(const struct pool *p, const struct runner *r)
{
	if (__atomic_load_n(&p->sh->at[r->slot].ns, __ATOMIC_ACQUIRE) == r->last_done)
		return UINT64_MAX;
	return __atomic_load_n(&p->sh->taken_ms[r->slot], __ATOMIC_RELAXED) + (uint64_t)p->bound_ms;
}

/* Reads what the runners said and ends the ones past their bound (starting another in place of
 * each: the queue may hold more).  Waits for a report, a runner's end or a bound, and with room
 * also for room in the queue; not at all with nowait. */
static void pool_step(struct pool *p, bool nowait, bool room)
{
	struct pollfd fds[MAX_JOBS + 1];
	struct runner *by[MAX_JOBS];
	nfds_t n = 0;
	uint64_t now = mono_ms(), first = UINT64_MAX;
	for (unsigned i = 0; i < MAX_JOBS; i++) {
		struct runner *r = &p->run[i];
		if (!r->pid)
			continue;
		uint64_t deadline = runner_deadline(p, r);
		if (now >= deadline && runner_drain(p, r) == 0) {
			runner_end(p, r, false); /* it ended meanwhile */
			continue;
		}
		if (now >= deadline && (deadline = runner_deadline(p, r)) <= now) {
			runner_end(p, r, true);
			pool_share_hung(p);
			runner_add(p); /* the namespaces after the hung one still need a runner */
			nowait = true;
			continue;
		}
		if (deadline == UINT64_MAX)
			deadline = now + (uint64_t)p->bound_ms; /* to look again: it may take one meanwhile */
		if (deadline < first)
			first = deadline;
		fds[n] = (struct pollfd){ .fd = r->pipe, .events = POLLIN };
		by[n++] = r;
	}
	nfds_t nr = n;
	if (room)
		fds[n++] = (struct pollfd){ .fd = p->q[1], .events = POLLOUT };
	if (!n)
		return;
	int timeout = nowait ? 0 : first == UINT64_MAX ? -1 : (int)(first - now);
	if (poll(fds, n, timeout) < 0) {
		if (errno == EINTR)
			return;
		log_error("rebind: cannot wait for the children: %s", strerror(errno));
		for (unsigned i = 0; i < MAX_JOBS; i++)
			if (p->run[i].pid)
				runner_end(p, &p->run[i], true);
		return;
	}
	for (nfds_t k = 0; k < nr; k++)
		if (fds[k].revents && runner_drain(p, by[k]) == 0)
			runner_end(p, by[k], false);
}

/* Starts a round: the shared memory, the queue, the first runner. */
static int pool_open(struct pool *p)
{
	p->sh = mmap(NULL, sizeof(*p->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->sh == MAP_FAILED) {
		p->sh = NULL;
		return -errno;
	}
	*p->sh = (struct pool_shared){ 0 };
	p->msg = malloc(REC_MAX);
	if (!p->msg || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, p->q) < 0) {
		int e = p->msg ? errno : ENOMEM;
		free(p->msg);
		p->msg = NULL;
		munmap(p->sh, sizeof(*p->sh));
		p->sh = NULL;
		return -e;
	}
	fcntl(p->q[1], F_SETFL, O_NONBLOCK);
	pool_share_hung(p);
	p->bound_ms = (int)fault_long("LXCFS_FAULT_REBIND_BOUND_MS", NS_PROVEN_TIMEOUT_MS);
	long most = fault_long("LXCFS_FAULT_REBIND_RUNNERS", MAX_JOBS);
	p->want = (unsigned)(most < 1 ? 1 : most > MAX_JOBS ? MAX_JOBS : most);
	long rec = fault_long("LXCFS_FAULT_REBIND_REC_MAX", REC_MAX);
	p->rec_max = (size_t)(rec < 1024 ? 1024 : rec > REC_MAX ? REC_MAX : rec);
	return 0;
}

int pool_queue(struct pool *p, const struct cand *cs, size_t ncs, int nsfd, const char *who)
{
	int r;
	if (!p->sh && (r = pool_open(p)) < 0)
		return r;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		char **more = reallocarray(p->who, cap, sizeof(*more));
		if (!more)
			return -ENOMEM;
		p->who = more;
		p->cap = cap;
	}
	size_t len = rec_make(p, cs, ncs, (uint32_t)p->n, who);
	if (!len)
		return -E2BIG;
	char *w = strdup(who);
	if (!w)
		return -ENOMEM;
	pool_share_hung(p);
	if (p->running < p->want)
		runner_add(p);
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = p->msg, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	fdpass_attach(&msg, ctl.b, sizeof(ctl.b), &nsfd, 1);
	while (sendmsg(p->q[1], &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* EMSGSIZE: a socket buffer smaller than REC_MAX here (net.core.wmem_default) */
		r = errno == EMSGSIZE ? -E2BIG
		    : errno == EAGAIN && !p->running && runner_add(p) < 0 ? -EAGAIN
		    : errno == EAGAIN || errno == EINTR ? 0 : -errno;
		if (r < 0) {
			free(w);
			return r;
		}
		pool_step(p, false, true); /* the queue is full: the runners take from it */
	}
	p->who[p->n++] = w;
	pool_step(p, true, false);
	return 0;
}

size_t pool_finish(struct pool *p)
{
	size_t untaken = 0;
	if (p->sh) {
		shutdown(p->q[1], SHUT_WR);
		if (p->done < p->n && !p->running)
			runner_add(p); /* (every one ended on its bound meanwhile and none could start) */
		while (p->running)
			pool_step(p, false, false);
		if (p->done < p->n) {
			untaken = p->n - p->done;
			log_error("rebind: %zu namespace(s) not healed: no child could be started for them", untaken);
		}
		close(p->q[0]);
		close(p->q[1]);
		munmap(p->sh, sizeof(*p->sh));
	}
	for (size_t i = 0; i < p->n; i++)
		free(p->who[i]);
	free(p->who);
	free(p->msg);
	pool_init(p, p->mntfd, p->mnt, p->done_fn, p->arg, p->hung, p->nhung);
	return untaken;
}
