/* Messages between the keeper and a worker over their socketpair (SOCK_SEQPACKET): fixed size,
 * magic and version first, so garbage or a peer of another version is refused, never parsed. */
#ifndef LXCFS_CTL_H
#define LXCFS_CTL_H

#include <stdint.h>

#define CTL_MAGIC 0x6c786366u /* "lxcf" */
#define CTL_VERSION 1

enum ctl_type {
	CTL_READY = 1,   /* worker -> keeper: serving; arg = its features */
	CTL_RECOVER = 2, /* keeper -> worker: take over requests of dead workers; arg = the live
			    generation to leave alone (0: none) */
	CTL_STOP = 3,    /* keeper -> worker: stop reading, answer what you hold, exit */
	CTL_VIRT = 4,    /* keeper -> worker: virtualization (SIGUSR2); arg = 1 on, 0 off */
	CTL_HANDOVER = 5, /* keeper -> worker: I leave on purpose (lxcfs --replace); serve on until
			     the next start adopts you */
	CTL_LAST = CTL_HANDOVER,
};

struct ctl_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint64_t arg;
};

/* 0 on success; -errno.  Receiving checks size, magic, version, type, and the peer's uid (0). */
int ctl_send(int fd, enum ctl_type type, uint64_t arg);
int ctl_recv(int fd, struct ctl_msg *m);

#endif
