/* PSI triggers through the mount (--enable-psi-poll), as upstream lxcfs HEAD offers them: a
 * reader opens proc/pressure/{cpu,io,memory} for writing, writes a trigger ("some|full
 * THRESHOLD_US WINDOW_US") and polls for POLLPRI, as it would on the host's file.  The trigger
 * goes to the pressure file of the reader's cgroup (the host's /proc/pressure file where the
 * cgroup has none: cgroup v1, or virtualization off); a watcher thread polls every armed trigger
 * and wakes the reader with FUSE_NOTIFY_POLL. */
#ifndef LXCFS_PSI_H
#define LXCFS_PSI_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "fs/serve.h"
#include "reinit/psistore.h"

#include "fs/render.h"

/* Starts the watcher; store_fd: the daemon's trigger store (psistore.h), -1 for none.  Triggers
 * armed by an earlier worker are armed again when their reader polls.  0 or -errno. */
struct trigger;
/* One daemon process's triggers and their watcher thread (which gets it as its argument). */
struct psi {
	pthread_mutex_t lock;
	struct trigger *head;
	unsigned n;
	int ep;
	int stop; /* eventfd: ends the watcher */
	pthread_t tid;
	int running;
	int ready; /* psi_init ran: what psi_fini has to undo */
	struct psistore store; /* hdr NULL: triggers die with this process */
	struct serve *serve;   /* the connection FUSE_NOTIFY_POLL goes to */
};

int psi_init(struct psi *p, struct serve *serve, int store_fd);
/* Safe on a zeroed struct psi (never started). */
void psi_fini(struct psi *p);
/* Once serving: wakes the readers an earlier worker left waiting in poll(), so they poll us. */
void psi_wake_waiters(struct psi *p);
/* Once stopped reading (an upgrade's predecessor): wakes the readers waiting on our triggers,
 * so that they poll the successor, which arms their triggers again. */
void psi_wake_own(struct psi *p);

/* A trigger for handle fh of pressure file `res` ("cpu", "io", "memory"), written by a reader
 * whose view is rc.  Checked and rebuilt as upstream does (one per handle: EBUSY; a window that
 * is not a whole number of 2 s periods becomes 2 s, the kernel's rule for unprivileged writers).
 * Returns size, or -errno. */
long psi_write(struct psi *p, uint64_t fh, const char *res, const struct rctx *rc, const char *buf, size_t size, long off);
/* A trigger as a reader wrote it (size bytes, the last one dropped, as the kernel does) into the
 * line that goes to the kernel ("some|full THRESHOLD WINDOW").  0 or -EINVAL. */
int psi_parse_trigger(const char *buf, size_t size, char *line, size_t linesz);
/* FUSE_POLL of a pressure file's handle: the events to answer.  schedule: the kernel waits for a
 * FUSE_NOTIFY_POLL of kh if no event is there yet. */
unsigned psi_poll(struct psi *p, uint64_t fh, uint64_t kh, int schedule);
void psi_release(struct psi *p, uint64_t fh);

#endif
