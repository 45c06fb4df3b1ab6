/* Control messages between keeper and worker: whatever arrives on the socketpair (any size up to
 * a page) goes through ctl_recv, which must refuse everything but a well-formed message. */
#include <errno.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "lib/log.h"
#include "reinit/ctl.h"

static int sv[2] = { -1, -1 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	if (send(sv[0], data, size, MSG_NOSIGNAL) != (ssize_t)size)
		abort();
	struct ctl_msg m;
	int r = ctl_recv(sv[1], &m);
	if (size == 0 ? r != -EPIPE && r != -EAGAIN && r != 0 : false)
		abort();
	if (r == 0 && (size != sizeof(m) || m.magic != CTL_MAGIC || m.type < CTL_READY || m.type > CTL_LAST))
		abort();
	/* nothing may be left queued for the next message */
	char c;
	if (recv(sv[1], &c, 1, MSG_DONTWAIT) >= 0 && size != 0)
		abort();
	return 0;
}
