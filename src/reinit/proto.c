#include "reinit/proto.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fdpass.h"
#include "lib/log.h"
#include "reinit/legacy.h"

static const struct {
	const char *name;
	const char *memfd;
} fd_names[FD_N] = {
	[FD_FUSE] = { "fuse", NULL },
	[FD_STATE] = { "state", MEMFD_STATE },
	[FD_HISTORY] = { "history", MEMFD_HISTORY },
	[FD_PSI] = { "psi", MEMFD_PSI },
	[FD_PIDFILE] = { "pidfile", NULL },
	[FD_CTL] = { "ctl", NULL },
	[FD_LIFELINE] = { "lifeline", NULL }, /* (never stored nor adopted: it dies with its worker) */
};

const char *fd_name(enum fd_name n)
{
	return n < FD_N ? fd_names[n].name : "?";
}

const char *fd_memfd_name(enum fd_name n)
{
	return n < FD_N ? fd_names[n].memfd : NULL;
}

void fdset_close(struct fdset *s)
{
	for (int i = 0; i < FD_N; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
}

#define HAND (FD_BIT(FD_FUSE) | FD_BIT(FD_STATE))
#define STORES (FD_BIT(FD_HISTORY) | FD_BIT(FD_PSI))

/* What each message is: its exact payload size, the fds it must carry and those it may. */
static const struct {
	const char *name;
	uint32_t size;
	uint32_t need, may;
} types[MSG_N] = {
	[MSG_READY] = { "READY", sizeof(struct msg_ready), 0, FD_BIT(FD_LIFELINE) },
	[MSG_RECOVER] = { "RECOVER", sizeof(struct msg_recover), 0, 0 },
	[MSG_STOP] = { "STOP", 0, 0, 0 },
	[MSG_VIRT] = { "VIRT", sizeof(struct msg_virt), 0, 0 },
	[MSG_HANDOVER] = { "HANDOVER", 0, 0, 0 },
	[MSG_START] = { "START", sizeof(struct msg_start), HAND, HAND | STORES },
	[MSG_KEEPER_RESUME] = { "KEEPER_RESUME", sizeof(struct msg_keeper_resume),
				HAND | FD_BIT(FD_CTL), HAND | FD_BIT(FD_CTL) | STORES },
	[MSG_STANDALONE_RESUME] = { "STANDALONE_RESUME", sizeof(struct msg_standalone_resume),
				    HAND, HAND | STORES },
	[MSG_PRIME] = { "PRIME", sizeof(struct msg_start), HAND | FD_BIT(FD_LIFELINE),
			HAND | STORES | FD_BIT(FD_LIFELINE) },
};

struct proto_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;
	uint32_t fds; /* FD_BIT()s of the names carried, in this order */
};

const char *msg_name(enum msg_type t)
{
	return t > 0 && t < MSG_N ? types[t].name : "?";
}

#define MAX_PAYLOAD sizeof(((struct msg *)0)->u)

int proto_send(int sock, enum msg_type type, const void *payload, size_t len, const struct fdset *s)
{
	if (type <= 0 || type >= MSG_N || len != types[type].size)
		return -EINVAL;
	unsigned char buf[sizeof(struct proto_hdr) + MAX_PAYLOAD];
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, (uint16_t)type, (uint32_t)len, 0 };
	int fds[FD_N], n = 0;
	for (int i = 0; s && i < FD_N; i++)
		if (s->fd[i] >= 0 && (types[type].may & FD_BIT(i))) {
			h.fds |= FD_BIT(i);
			fds[n++] = s->fd[i];
		}
	if ((h.fds & types[type].need) != types[type].need)
		return -EINVAL;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	struct iovec iov = { buf, sizeof(h) + len };
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * FD_N)];
	} c;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	fdpass_attach(&mh, c.b, sizeof(c.b), fds, (size_t)n);
	ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL);
	if (r < 0)
		return -errno;
	return r == (ssize_t)iov.iov_len ? 0 : -EIO;
}

int proto_tell(int sock, enum msg_type type, uint64_t arg)
{
	struct msg_virt v = { .on = arg != 0 };
	if (type == MSG_VIRT)
		return proto_send(sock, type, &v, sizeof(v), NULL);
	return proto_send(sock, type, &arg, types[type > 0 && type < MSG_N ? type : 0].size, NULL);
}

/* Checks the datagram raw (n bytes, nfd fds in got) and fills m; -EBADMSG if it is not a
 * message of ours (the fds are then the caller's to close). */
static int decode(const unsigned char *raw, size_t n, const int *got, int nfd, struct msg *m)
{
	struct proto_hdr h;
	if (n < sizeof(h))
		return -EBADMSG;
	memcpy(&h, raw, sizeof(h));
	if (h.magic == PROTO_MAGIC && h.version == LEGACY_CTL_VERSION)
		return nfd ? -EBADMSG : legacy_ctl_decode(raw, n, m);
	if (h.magic != PROTO_MAGIC || h.version != PROTO_VERSION || h.type == 0 || h.type >= MSG_N)
		return -EBADMSG;
	if (h.len != types[h.type].size || n != sizeof(h) + h.len)
		return -EBADMSG;
	if ((h.fds & ~types[h.type].may) || (h.fds & types[h.type].need) != types[h.type].need ||
	    __builtin_popcount(h.fds) != nfd)
		return -EBADMSG;
	m->type = (enum msg_type)h.type;
	memset(&m->u, 0, sizeof(m->u));
	memcpy(&m->u, raw + sizeof(h), h.len);
	for (int i = 0, k = 0; i < FD_N; i++)
		m->fds.fd[i] = (h.fds & FD_BIT(i)) ? got[k++] : -1;
	return 0;
}

int proto_recv(int sock, struct msg *m)
{
	unsigned char raw[sizeof(struct proto_hdr) + MAX_PAYLOAD + 1];
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(int) * FD_N)];
	} c;
	struct iovec iov = { raw, sizeof(raw) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b, .msg_controllen = sizeof(c.b) };
	for (int i = 0; i < FD_N; i++)
		m->fds.fd[i] = -1;
	ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	int got[FD_N];
	int nfd = fdpass_take(&mh, got, FD_N);
	if (n == 0 && nfd == 0)
		return -EPIPE; /* the peer is gone */
	int r = 0;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		log_error("control message from a peer that is not root: refused");
		r = -EPERM;
	} else if (nfd < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		log_error("control message of %zd bytes with more data or fds than any message has: refused", n);
		r = -EBADMSG;
	} else if ((r = decode(raw, (size_t)n, got, nfd, m)) < 0) {
		log_error("control message of %zd bytes and %d fd(s) that is none of ours (bad magic, version, "
			  "type, length or fds): refused", n, nfd);
	}
	if (r < 0)
		while (nfd > 0)
			close(got[--nfd]);
	return r;
}

static int proto_recv_wait(int sock, struct msg *m, int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0) {
		for (int i = 0; i < FD_N; i++)
			m->fds.fd[i] = -1;
		return -ETIMEDOUT;
	}
	return proto_recv(sock, m);
}

int proto_recv_arg(const char *arg, enum msg_type want, int timeout_ms, struct msg *m)
{
	char *end;
	long sock = strtol(arg, &end, 10);
	if (*end || end == arg || sock < 0 || sock > INT_MAX)
		return -EINVAL;
	int r = proto_recv_wait((int)sock, m, timeout_ms);
	if (r == 0 && m->type != want && !(want == MSG_START && m->type == MSG_PRIME)) {
		fdset_close(&m->fds);
		r = -EBADMSG;
	}
	return r < 0 ? r : (int)sock;
}

int proto_recv_handover(const char *arg, enum msg_type want, struct msg *m)
{
	int sock = proto_recv_arg(arg, want, 1000, m);
	if (sock < 0)
		return sock;
	close(sock);
	int32_t pidfile = want == MSG_KEEPER_RESUME ? m->u.keeper_resume.pidfile : m->u.standalone_resume.pidfile;
	if (proto_kept(m, pidfile) < 0) {
		fdset_close(&m->fds);
		return -EBADMSG;
	}
	return 0;
}

static void set_cloexec(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, on ? fl | FD_CLOEXEC : fl & ~FD_CLOEXEC);
}

int proto_kept(struct msg *m, int32_t pidfile)
{
	struct stat st;
	if (pidfile < 3 || fstat(pidfile, &st) < 0 || !S_ISREG(st.st_mode))
		return -EBADF;
	set_cloexec(pidfile, true);
	m->fds.fd[FD_PIDFILE] = pidfile;
	return 0;
}

int proto_exec_self(const char *path, char **argv, int fdarg, int keep, enum msg_type type,
		    const void *payload, size_t len, const struct fdset *s)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	int r = proto_send(sv[0], type, payload, len, s);
	close(sv[0]); /* the message stays queued at sv[1], fds and all */
	if (r < 0) {
		close(sv[1]);
		return r;
	}
	snprintf(argv[fdarg], 16, "%d", sv[1]);
	set_cloexec(sv[1], false);
	if (keep >= 0)
		set_cloexec(keep, false);
	execv(path, argv);
	r = -errno;
	if (keep >= 0)
		set_cloexec(keep, true);
	/* the copies in flight are ours again: take them back and close them */
	struct msg m;
	if (proto_recv(sv[1], &m) == 0)
		fdset_close(&m.fds);
	close(sv[1]);
	return r;
}
