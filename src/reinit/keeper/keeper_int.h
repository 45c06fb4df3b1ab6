/* The keeper's own state, shared by its files (and nothing else):
 *   keeper.c    the main loop, signals, status
 *   workers.c   starting, reaping and restarting workers; the tier of the next one
 *   standby.c   the standby worker: primed with the serving one's lifeline, it takes over at
 *               its death; START confirms it
 *   handover.c  the live upgrade: to the next image (upgrade) and from the previous (adopt)
 *   takeover.c  the connection: resumed from systemd or an orphan, mounted afresh, its state */
#ifndef LXCFS_KEEPER_INT_H
#define LXCFS_KEEPER_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/options.h"
#include "reinit/proto.h"
#include "reinit/replace.h"
#include "reinit/state.h"
#include "reinit/tier.h"

#define UPGRADE_TIMEOUT_MS 10000
#define BACKOFF_MAX_MS 1000
#define SHORT_LIFE_MS 250 /* a worker that dies younger than this, or before it was ready, loops */

struct worker {
	pid_t pid;
	int ctl;
	uint64_t gen;
	bool ready;
	bool reinit;  /* started to reset the connection */
	bool legacy;  /* of an older binary: speaks control protocol version 1 (legacy.h) */
	uint64_t started_ms;
};

struct keeper {
	const struct options *opt;
	int argc;
	char **argv; /* the daemon's own arguments, passed to workers and to a re-exec */
	char self[PATH_MAX];
	int fuse_fd;
	struct state st;
	struct state_hdr saved; /* the keeper's copy, to repair a damaged header */
	bool have_saved;
	int pidfd;
	char pidpath[PATH_MAX], statuspath[PATH_MAX + 16];
	struct worker cur, old; /* old: the predecessor that drains during an upgrade */
	int backoff_ms;
	uint32_t reinit_mask; /* FUSE_REINIT_HAS_* of this kernel */
	enum tier next_tier;  /* how the next worker takes the connection over */
	unsigned unresumable; /* workers in a row that could not resume from the state */
	int young_status;     /* wait status of the last death if it came young, else -1 */
	uint64_t reinit_from; /* generation an upgrade through reinit replaces, until READY */
	uint64_t restart_at_ms, upgrade_deadline_ms;
	bool rebind_pending; /* a fresh mount: heal dead binds once the first worker is ready */
	dev_t replaced;      /* the dead lxcfs mount that was at our mountpoint */
	pid_t rebinder;
	bool stored; /* the fuse fd and state sit in systemd's fd store */
	int history_fd; /* load averages and the like, handed to each worker (history.h) */
	bool replacing;  /* `lxcfs --replace`: the first ready worker takes the old lxcfs's mounts */
	int worker_log;  /* where workers write (-1: our stderr): they may outlive us */
	struct replace_target repl;
	char staging[PATH_MAX];
	bool virt_off;  /* SIGUSR2: every worker answers everyone as the host */
	int psi_fd;     /* --enable-psi-poll: the triggers readers armed (psistore.h) */
	char last_death[160], last_upgrade[256];
};
extern struct keeper K;

/* keeper.c */
void write_status(void);
void shutdown_and_exit(int rc, bool unmount);

/* workers.c */
int tell(const struct worker *w, enum msg_type type, uint64_t arg);
int spawn(uint64_t gen, bool reinit);
pid_t launch_worker(const char *path, int *ctl);
void set_tier(enum tier t, const char *why);
void restart_worker(void);
void reap(void);
void handle_ctl(struct worker *w);
/* "killed by signal 9 (Killed)", "exited with status 4" */
void describe(int status, char *dst, size_t size);
/* A worker's death on the state's record (the restart count) and in the status. */
void record_death(pid_t pid, int status, uint64_t gen, const char *how);
/* A primed standby that took over at a death, and died or refused the connection: a worker's
 * death, whose end decides the next tier as a started worker's does, in whichever order it and
 * its predecessor are reaped. */
void standby_died(pid_t pid, int status, uint64_t gen, const char *how);

/* handover.c */
void upgrade(bool force_reinit);
int adopt(const char *arg, bool *reinit);
void start_after_adopt(bool reinit);

/* standby.c */
pid_t standby_pid(void);
void standby_schedule(void); /* standby_start in a moment, from the loop's timers */
uint64_t standby_due_ms(void);
void standby_start(void);
void standby_drop(const char *why);
/* START to the standby: whether it took it (a primed one is dropped instead for another binary
 * on disk, a reset or another generation). */
bool standby_take(const struct msg_start *start, const struct fdset *fds);
/* gen, or past it if a dropped primed standby may have served as that generation: two workers
 * of one generation would each take the other's journal slots for their own. */
uint64_t standby_fresh_gen(uint64_t gen);
/* The generation a primed standby serves as when it takes over; 0: none primed. */
uint64_t standby_primed_gen(void);
/* The lifeline the serving worker w sent with READY (ours to close), for the next PRIME. */
void standby_lifeline(const struct worker *w, int fd);
bool standby_reaped(pid_t pid, int status);

/* takeover.c */
void psi_store_new(void);
void store_fds(void);
void unstore_fds(void);
int fresh_state(void);
void save_header(void);
void repair_header(void);
int remount(void);
int resume_connection(void);
int start_replacing(void);
void finish_replacing(void);

#endif
