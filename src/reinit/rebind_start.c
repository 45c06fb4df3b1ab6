/* Starting the rebind tier: it runs in its own process (lxcfs-worker --rebind), because entering
 * a mount namespace needs a single-threaded caller and a stuck mount must not stall the daemon. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/log.h"
#include "reinit/heal/rebind.h"

pid_t rebind_start(const char *worker, const char *mnt, dev_t pred)
{
	char dev[32];
	snprintf(dev, sizeof(dev), "%u:%u", major(pred), minor(pred));
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -errno : pid;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (pred)
		execl(worker, "lxcfs-worker", "--rebind", "--dead-dev", dev, mnt, (char *)NULL);
	else
		execl(worker, "lxcfs-worker", "--rebind", mnt, (char *)NULL);
	log_cmdline_error("cannot run %s: %s", worker, strerror(errno));
	_exit(127);
}
