/* Taking a mountpoint over from a live lxcfs of another kind (upstream's, Debian's package's),
 * with no failed read in any container: `lxcfs --replace MOUNTPOINT`.
 *
 * The keeper mounts ours at a staging directory and starts its worker as usual.  Once that one
 * serves, every mount of the old device in every mount namespace (the containers' binds, and
 * the mountpoint itself) is replaced by the same path of ours in one step each (the rebind pass
 * with --live-dev: beneath the old mount, which then goes; before Linux 6.5 over it).  New opens
 * reach ours from then on; files already open on the old one are waited for (bounded), then its
 * daemon is killed: SIGKILL, because on SIGTERM it would unmount the mountpoint, which is ours
 * by then.  The keeper then leaves its worker serving, for the next `lxcfs --restart-on-crash
 * MOUNTPOINT` (a service manager's start) to adopt as it adopts any worker whose keeper is gone. */
#ifndef LXCFS_REPLACE_H
#define LXCFS_REPLACE_H

#include <stdbool.h>
#include <sys/types.h>

#include "reinit/proto.h" /* REPLACE_EXIT_NOTHING */


struct replace_target {
	dev_t dev;  /* the old lxcfs's device */
	pid_t pid;  /* its daemon */
	int pidfd;  /* taken when found: a pid reused meanwhile is never killed */
};

/* Finds the live lxcfs at mnt and its daemon: the process holding pidfile's lock (or named in
 * it) whose command is lxcfs and that holds /dev/fuse.  0: found; 1: nothing to replace (no
 * live lxcfs there, or it is ours), said why; -1: it cannot be replaced as asked, said why. */
int replace_find(const char *mnt, const char *pidfile, struct replace_target *t);

/* Once ours serves at staging: moves the old one's mounts to it (worker: our worker binary,
 * which runs the pass), checks that mnt is ours, detaches staging, waits for the old files to
 * be closed, kills the old daemon.  0: done; -1: nothing moved (the old one serves on, ours
 * can go); -2: some mounts did not move (both serve on; said which). */
int replace_finish(const char *worker, const char *mnt, const char *staging, struct replace_target *t);

#endif
