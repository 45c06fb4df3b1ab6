#include "serve.h"

#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	struct fuse_session *se;
	int fd;
	struct initrec *init;
	pthread_t *tids;
	int nthreads;
	int running;
	int stopping;
	int ended;
	void (*on_end)(void);
} S = { .fd = -1 };

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	(void)userdata;
	if (S.init && !S.init->rep_len)
		initrec_note_reply(S.init, iov, count);
	ssize_t n = writev(fd, iov, count);
	/* ENOENT: the caller was interrupted and the kernel dropped the request; not our error. */
	if (n < 0 && errno != ENOENT)
		log_debug("reply write failed: %s", strerror(errno));
	return n;
}

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	(void)userdata;
	return read(fd, buf, len);
}

int serve_attach(struct fuse_session *se, int fd, struct initrec *rec)
{
	static const struct fuse_custom_io io = { .writev = io_writev, .read = io_read };
	S.se = se;
	S.fd = fd;
	S.init = rec;
	return fuse_session_custom_io(se, &io, fd);
}

static void wake(int sig)
{
	(void)sig; /* only here to interrupt read() */
}

static void *loop(void *arg)
{
	(void)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	char *buf = malloc(SERVE_BUFSZ);
	if (!buf) {
		log_error("out of memory for a request buffer");
		goto out;
	}
	while (!__atomic_load_n(&S.stopping, __ATOMIC_ACQUIRE)) {
		ssize_t n = read(S.fd, buf, SERVE_BUFSZ);
		if (n < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN || e == ENOENT)
				continue;
			if (e != ENODEV)
				log_error("reading /dev/fuse: %s", strerror(e));
			break;
		}
		if (n == 0)
			break;
		if (S.init && !S.init->req_len)
			initrec_note_request(S.init, buf, (size_t)n);
		struct fuse_buf fb = { .size = (size_t)n, .mem = buf };
		fuse_session_process_buf(S.se, &fb);
		if (fuse_session_exited(S.se))
			break;
	}
out:
	free(buf);
	if (!__atomic_load_n(&S.stopping, __ATOMIC_ACQUIRE) && !__atomic_exchange_n(&S.ended, 1, __ATOMIC_ACQ_REL) &&
	    S.on_end)
		S.on_end();
	__atomic_sub_fetch(&S.running, 1, __ATOMIC_ACQ_REL);
	return NULL;
}

int serve_start(int nthreads, void (*on_end)(void))
{
	struct sigaction sa = { .sa_handler = wake }; /* no SA_RESTART: read() must return EINTR */
	sigaction(SIGUSR2, &sa, NULL);
	S.on_end = on_end;
	S.tids = calloc((size_t)nthreads, sizeof(*S.tids));
	if (!S.tids)
		return -ENOMEM;
	for (int i = 0; i < nthreads; i++) {
		__atomic_add_fetch(&S.running, 1, __ATOMIC_ACQ_REL);
		int r = pthread_create(&S.tids[i], NULL, loop, NULL);
		if (r) {
			__atomic_sub_fetch(&S.running, 1, __ATOMIC_ACQ_REL);
			log_error("cannot start request thread: %s", strerror(r));
			if (i == 0)
				return -r;
			break;
		}
		S.nthreads = i + 1;
	}
	return 0;
}

void serve_stop(void)
{
	__atomic_store_n(&S.stopping, 1, __ATOMIC_RELEASE);
	/* A loop can be between its check and read(): keep poking until all are out. */
	while (__atomic_load_n(&S.running, __ATOMIC_ACQUIRE) > 0) {
		for (int i = 0; i < S.nthreads; i++)
			pthread_kill(S.tids[i], SIGUSR2);
		nanosleep(&(struct timespec){ .tv_nsec = 2 * 1000 * 1000 }, NULL);
	}
	for (int i = 0; i < S.nthreads; i++)
		pthread_join(S.tids[i], NULL);
	free(S.tids);
	S.tids = NULL;
	S.nthreads = 0;
}
