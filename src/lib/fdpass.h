/* Descriptors sent with a datagram (SCM_RIGHTS): the control part of a message, filled, and the
 * fds that came with one, taken.  Shared by the control protocol, systemd's notify socket and the
 * rebind's queue, which each build their own message around them. */
#ifndef LXCFS_FDPASS_H
#define LXCFS_FDPASS_H

#include <stddef.h>
#include <sys/socket.h>

/* Puts fds[n] in mh's control part, in ctl (ctlsize bytes, at least CMSG_SPACE(n ints), aligned
 * for a cmsghdr), zeroed first: its padding is sent too.  Nothing when n is 0. */
void fdpass_attach(struct msghdr *mh, void *ctl, size_t ctlsize, const int *fds, size_t n);

/* The fds that came with a received mh, in arrival order, into got[max]: how many, or -1 (every
 * one closed) if more came than max. */
int fdpass_take(struct msghdr *mh, int *got, int max);

#endif
