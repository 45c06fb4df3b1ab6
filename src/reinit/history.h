/* What must not reset when a worker is replaced, beside the state: the load averages of
 * tracked containers (-l).  Its own memfd, so the state's format (and the takeover of a
 * running connection by another version) stays as it is: the keeper creates it and hands it to
 * each worker in $LXCFS_HISTORY_FD, which a worker that does not know it ignores.
 *
 * A fixed table: entries are claimed by key (a hash of the cgroup directory), updated in place
 * by the worker's engine, read by its request threads. */
#ifndef LXCFS_HISTORY_H
#define LXCFS_HISTORY_H

#include <limits.h>
#include <stdint.h>

#include "reinit/memtable.h"

#define HISTORY_MAGIC "LXCFSHI\0"
#define HISTORY_VERSION 1
#define HISTORY_ENTRIES 2048
#define HISTORY_DIR 448

struct history_entry {
	uint64_t key;       /* 0: free */
	uint64_t avg[3];    /* 1, 5 and 15 minutes, fixed point (11 bits of fraction, as the kernel) */
	uint64_t read_ms;   /* CLOCK_BOOTTIME of the last read: idle entries are dropped */
	uint64_t sample_ms; /* of the last sample */
	uint32_t running, total, last_pid, v2;
	char dir[HISTORY_DIR]; /* the cgroup directory whose tasks are counted */
};

struct history {
	struct memtable_hdr *hdr; /* NULL: not attached */
	struct history_entry *e;
	int fd;
};

/* A new, zeroed history memfd (sealed size).  fd or -errno. */
int history_create(void);
/* Maps fd; a header of another layout, or garbage, is reset (the averages start again) and
 * *why says what was wrong.  0 or -errno. */
int history_attach(struct history *h, int fd, const char **why);
void history_detach(struct history *h);
/* The fd named in $LXCFS_HISTORY_FD, or -1. */
int history_fd_from_env(void);

#endif
