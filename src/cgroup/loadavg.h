/* Per-container load averages (-l).  The kernel's /proc/loadavg is the whole host's; this is the
 * same computation (the number of runnable and uninterruptible tasks, averaged every 5 s with
 * the kernel's fixed-point decay) for each container that reads its loadavg.
 *
 * Cost that scales: an engine thread samples each tracked container every 5 s, all of them in
 * one kernel pass of a BPF task iterator where the kernel allows it (taskcount.h), else by
 * reading their threads' states from /proc.  No lock is held while it counts; request threads
 * only copy the latest values under a short lock, so a read never waits for a sample.  The averages live in the history memfd, so a new worker continues them. */
#ifndef LXCFS_LOADAVG_H
#define LXCFS_LOADAVG_H

#include <stdbool.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include "cgroup/taskcount.h"
#include "reinit/history.h"

#define LOAD_FSHIFT 11
#define LOAD_FIXED_1 (1u << LOAD_FSHIFT)
#define LOAD_TICK_MS 5000

struct loadavg_val {
	uint64_t avg[3]; /* fixed point */
	uint32_t running, total, last_pid;
};

struct fdcache;
struct taskcount_bpf;
/* One process's engine: the averages, which containers it tracks, its thread (which gets it as
 * its argument). */
struct loadavg {
	bool ready; /* loadavg_init ran: what loadavg_fini has to undo */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct history h;
	struct history_entry *e; /* the history's table, or a private one */
	bool private_table;
	char procdir[PATH_MAX];
	struct fdcache *files; /* the context's fd cache the scan reads through (NULL: plain reads) */
	/* indexes of the tracked entries: the engine visits these, never the whole table (whose
	 * every entry is a cache miss, and mostly empty) */
	unsigned active[HISTORY_ENTRIES];
	unsigned nactive;
	pthread_t thread;
	bool running, stop;
	struct taskcount_bpf *bpf; /* the kernel pass, loaded by the engine; NULL: the scan counts */
	/* a tick's work space (the engine's thread only) */
	char (*dirs)[HISTORY_DIR];
	struct taskcount_req *req;
	uint64_t last_pass;
};

/* procdir: the host's /proc.  history_fd: the keeper's history memfd, or -1 for a private
 * table.  0 or -errno. */
int loadavg_init(struct loadavg *l, const char *procdir, struct fdcache *files, int history_fd);
/* Starts and stops the engine thread.  loadavg_fini is safe on a zeroed struct loadavg. */
int loadavg_start(struct loadavg *l);
void loadavg_fini(struct loadavg *l);

/* The values for the container whose tasks are in the cgroup directory dir (and below it); v2
 * selects cgroup.threads over v1's tasks.  A container read for the first time is sampled at
 * once and its averages start at that sample.  0 or -errno. */
int loadavg_get(struct loadavg *l, const char *dir, bool v2, struct loadavg_val *out);

/* One pass of the engine over every tracked container (tests call it directly); now_ms is
 * CLOCK_BOOTTIME in ms. */
void loadavg_tick(struct loadavg *l, uint64_t now_ms);

/* The kernel's step: load decayed by exp (of LOAD_FIXED_1) towards active tasks, n times. */
uint64_t loadavg_decay(uint64_t load, unsigned exp, uint64_t active, unsigned n);

#endif
