/* Starting the rebind tier: it runs in its own process (lxcfs-worker --rebind), because entering
 * a mount namespace needs a single-threaded caller and a stuck mount must not stall the daemon. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/child.h"
#include "reinit/heal/rebind.h"
#include "reinit/proto.h"

pid_t rebind_start(const char *worker, const char *mnt, dev_t pred)
{
	char dev[32];
	snprintf(dev, sizeof(dev), "%u:%u", major(pred), minor(pred));
	char *with[] = { WORKER_NAME, MODE_REBIND, "--dead-dev", dev, (char *)mnt, NULL };
	char *without[] = { WORKER_NAME, MODE_REBIND, (char *)mnt, NULL };
	return spawn_child(&(struct spawn){ .path = worker, .argv = pred ? with : without, .out = -1, .err = -1 });
}
