#include "reinit/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/fdpass.h"
#include "lib/log.h"

#define LISTEN_FDS_START 3
#define MAX_LISTEN 16

static struct {
	int fd;
	char name[64];
} listened[MAX_LISTEN];
static int nlistened;

bool sd_notify_enabled(void)
{
	const char *p = getenv("NOTIFY_SOCKET");
	return p && (*p == '/' || *p == '@');
}

int sd_notify_fds(const char *msg, const int *fds, size_t nfds)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = path ? strlen(path) : 0;
	if (!path || (*path != '/' && *path != '@') || len >= sizeof(sa.sun_path) || nfds > MAX_LISTEN)
		return -EINVAL;
	memcpy(sa.sun_path, path, len);
	if (*path == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_LISTEN)];
		struct cmsghdr align;
	} c;
	struct msghdr mh = { .msg_name = &sa,
			     .msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len),
			     .msg_iov = &iov,
			     .msg_iovlen = 1 };
	fdpass_attach(&mh, c.buf, sizeof(c.buf), fds, nfds);
	int r = sendmsg(s, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(s);
	return r;
}

void sd_listen_init(void)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS"), *names = getenv("LISTEN_FDNAMES");
	if (pid && n && atol(pid) == (long)getpid()) {
		int count = atoi(n);
		const char *p = names ? names : "";
		for (int i = 0; i < count && i < MAX_LISTEN; i++) {
			size_t l = strcspn(p, ":");
			int fd = LISTEN_FDS_START + i;
			if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0) {
				listened[nlistened].fd = fd;
				snprintf(listened[nlistened].name, sizeof(listened[nlistened].name), "%.*s", (int)l, p);
				nlistened++;
			}
			p += l + (p[l] == ':');
		}
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int sd_listen_take(const char *name)
{
	for (int i = 0; i < nlistened; i++)
		if (listened[i].fd >= 0 && strcmp(listened[i].name, name) == 0) {
			int fd = listened[i].fd;
			listened[i].fd = -1;
			return fd;
		}
	return -1;
}

void sd_unstore_fd(const char *name)
{
	char msg[96];
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	sd_notify_fds(msg, NULL, 0);
}

int sd_store_fd(const char *name, int fd)
{
	char msg[96];
	sd_unstore_fd(name);
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	int r = sd_notify_fds(msg, &fd, 1);
	if (r < 0)
		log_warn("cannot hand the %s fd to systemd's fd store: %s", name, strerror(-r));
	return r;
}
