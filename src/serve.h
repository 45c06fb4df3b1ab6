/* The request loop.  N threads each read a request from the /dev/fuse fd straight into their own
 * buffer and answer it themselves: no hand-off between threads, no threads created on demand.
 * The kernel wakes one waiting reader per request, so one reader costs what a single-threaded
 * loop costs, while a slow request (a cgroup file that takes long) does not stall the others. */
#ifndef LXCFS_SERVE_H
#define LXCFS_SERVE_H

#include <fuse_lowlevel.h>

#include "reinit/initrec.h"

/* We take no writes, but max_write also sets the largest READ (libfuse derives max_pages from
 * it), and the kernel refuses request buffers smaller than max_write plus headers. */
#define SERVE_MAX_WRITE (128u * 1024)
#define SERVE_BUFSZ (SERVE_MAX_WRITE + 4096)

/* Attaches fd to se with our custom io (replies pass through here; INIT is recorded in rec). */
int serve_attach(struct fuse_session *se, int fd, struct initrec *rec);
/* Starts nthreads loops; each exits when the connection ends.  on_end runs once, in the
 * first thread that sees the end (ENODEV), e.g. to wake the main thread. */
int serve_start(int nthreads, void (*on_end)(void));
/* Makes every loop return and joins them. */
void serve_stop(void);

#endif
