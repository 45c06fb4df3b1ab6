/* Exit codes of lxcfs-worker that its keeper acts on (anything else is a crash). */
#ifndef LXCFS_WORKER_H
#define LXCFS_WORKER_H

#define WORKER_EXIT_GONE 3   /* the fuse connection ended: nothing left to serve */
#define WORKER_EXIT_CANNOT 4 /* cannot start serving (set-up failed: fds, memory, arguments) */
#define WORKER_EXIT_UNRESUMABLE 5 /* the state cannot be resumed from: another format, damaged,
				     or an INIT this binary would not negotiate */
#define WORKER_EXIT_LOST 6 /* requests were lost with a damaged journal and this kernel cannot
			      resend them: their readers wait until the connection is reset */

#endif
