#include "lib/fdpass.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

void fdpass_attach(struct msghdr *mh, void *ctl, size_t ctlsize, const int *fds, size_t n)
{
	if (!n)
		return;
	memset(ctl, 0, ctlsize);
	mh->msg_control = ctl;
	mh->msg_controllen = CMSG_SPACE(sizeof(int) * n);
	struct cmsghdr *cm = CMSG_FIRSTHDR(mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
	memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
}

int fdpass_take(struct msghdr *mh, int *got, int max)
{
	int n = 0;
	bool bad = false;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (n < max)
				got[n++] = fd;
			else {
				close(fd);
				bad = true;
			}
		}
	}
	if (bad) {
		while (n)
			close(got[--n]);
		return -1;
	}
	return n;
}
