#include "reinit/ctl.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"

int ctl_send(int fd, enum ctl_type type, uint64_t arg)
{
	struct ctl_msg m = { CTL_MAGIC, CTL_VERSION, (uint16_t)type, arg };
	ssize_t n = send(fd, &m, sizeof(m), MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(m) ? 0 : -EIO;
}

int ctl_recv(int fd, struct ctl_msg *m)
{
	unsigned char raw[sizeof(*m) + 1];
	ssize_t n = recv(fd, raw, sizeof(raw), MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE; /* the peer is gone */
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
		log_error("control message from a peer that is not root: refused");
		return -EPERM;
	}
	if (n != (ssize_t)sizeof(*m)) {
		log_error("control message of %zd bytes (want %zu): refused", n, sizeof(*m));
		return -EBADMSG;
	}
	__builtin_memcpy(m, raw, sizeof(*m));
	if (m->magic != CTL_MAGIC || m->version != CTL_VERSION || m->type < CTL_READY || m->type > CTL_LAST) {
		log_error("control message with bad magic, version %u or type %u: refused", m->version, m->type);
		return -EBADMSG;
	}
	return 0;
}
