/* Messages between lxcfs's processes (proto.h): whatever arrives on the socket (any size up to a
 * page, with up to 7 fds attached: the input's last byte says how many) goes through proto_recv,
 * which must refuse everything but a well-formed message, and leave none of the fds of a refused
 * one open. */
#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "lib/log.h"
#include "reinit/proto.h"

static int sv[2] = { -1, -1 };
static int devnull = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		abort();
	return 0;
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static int send_with(const uint8_t *data, size_t size, int nfd)
{
	int fds[8];
	for (int i = 0; i < nfd; i++)
		fds[i] = devnull;
	struct iovec iov = { (void *)data, size };
	union {
		struct cmsghdr align;
		char b[CMSG_SPACE(sizeof(fds))];
	} c;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfd) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfd);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfd);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)nfd);
	}
	return (int)sendmsg(sv[0], &mh, MSG_NOSIGNAL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	int nfd = size ? data[size - 1] % 8 : 0;
	int before = open_fds();
	if (send_with(data, size, nfd) != (int)size)
		abort();
	struct msg m;
	int r = proto_recv(sv[1], &m);
	if (r == 0) {
		if (m.type <= 0 || m.type >= MSG_N)
			abort();
		int got = 0;
		for (int i = 0; i < FD_N; i++)
			if (m.fds.fd[i] >= 0) {
				if (fcntl(m.fds.fd[i], F_GETFD) != FD_CLOEXEC) /* received close-on-exec */
					abort();
				got++;
			}
		if (got != nfd)
			abort();
		fdset_close(&m.fds);
	} else {
		for (int i = 0; i < FD_N; i++)
			if (m.fds.fd[i] != -1) /* nothing named after a refusal */
				abort();
	}
	if (open_fds() != before) /* no fd of a refused (or closed) message left open */
		abort();
	/* nothing may be left queued for the next message */
	char ch;
	if (recv(sv[1], &ch, 1, MSG_DONTWAIT) >= 0 && size != 0)
		abort();
	return 0;
}
