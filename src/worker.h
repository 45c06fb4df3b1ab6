/* Exit codes of lxcfs-worker that its keeper acts on (anything else is a crash). */
#ifndef LXCFS_WORKER_H
#define LXCFS_WORKER_H

#define WORKER_EXIT_GONE 3   /* the fuse connection ended: nothing left to serve */
#define WORKER_EXIT_CANNOT 4 /* cannot take over (state of another format, INIT mismatch) */

#endif
