/* A death notice that comes before the death is over.  Each thread of a process that may write
 * memory another process takes over holds a robust, process-shared mutex in a small memfd (the
 * process's lifeline).  When a thread dies, the kernel lets go of its robust mutexes, marking
 * them "owner died", as the thread leaves: before the process's memory is torn down and well
 * before its parent can reap it.  A watcher in another process that waits on them hears of the
 * death first, and knows, once it holds them all, that no thread of the dead process runs any
 * more.
 *
 * Slot 0 belongs to the thread that made the lifeline, and says whether the end was a death: a
 * process that ends on purpose lets go of it first (lifeline_release in that thread). */
#ifndef LXCFS_LIFELINE_H
#define LXCFS_LIFELINE_H

#define LIFELINE_SLOTS 64
#define LIFELINE_MEMFD "lxcfs-lifeline"

/* This process's lifeline, its slot 0 taken by the calling thread: the memfd (the caller's, to
 * hand to a watcher), or -errno.  At most once per process. */
int lifeline_create(void);
/* The calling thread takes a slot for as long as it runs (nothing without a lifeline). */
void lifeline_hold(void);
/* The calling thread gives its slot back: its end is on purpose. */
void lifeline_release(void);

enum lifeline_end {
	LIFELINE_LET_GO = 0, /* its first thread let go: an end on purpose */
	LIFELINE_DIED = 1,   /* its first thread died; every other holder has ended too */
};
/* Waits, in the calling thread and without bound, for the end of the process whose lifeline is
 * fd: an enum lifeline_end, or -errno (not a lifeline). */
int lifeline_watch(int fd);

#endif
