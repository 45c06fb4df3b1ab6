/* The keeper's status: a typed record.  The keeper fills it and writes it (status_write, as the
 * text file `lxcfs --status` prints and operators read); `lxcfs --status` and `--reinit` read it
 * back (status_read) through the same field table, so no field is named twice. */
#ifndef LXCFS_STATUS_H
#define LXCFS_STATUS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "reinit/tier.h"

struct status_rec {
	int32_t keeper_pid;
	char keeper_version[32];
	int32_t worker_pid;
	char worker_version[32];
	uint64_t generation;
	uint32_t restarts;
	char last_death[160];   /* "none" if none */
	char last_upgrade[256]; /* "none" if none */
	char mountpoint[PATH_MAX];
	uint32_t state_version;
	bool resend;            /* the kernel resends requests of a dead worker */
	bool reinit;            /* the kernel has FUSE_DEV_IOC_REINIT and BM_REVAL */
	enum tier tier;         /* how the next worker would take the connection over */
	uint32_t snaps_in_use, nsnaps;
	uint32_t kept_renders;
	bool virt_on;
	int32_t standby_pid;     /* the warm standby worker, 0 if none (keeper/standby.c) */
	bool standby_primed;     /* it holds the connection and watches the serving worker's lifeline */
	uint32_t slots_in_use, nslots; /* journal slots claimed (a request thread each), of all */
	uint32_t slots_dead;     /* claimed by a worker neither serving nor the primed standby: what
				  * no recovery has answered and freed yet (0 once one ran) */
};

/* Writes rec as text to path, atomically (a temporary file renamed over it), mode 0600.
 * 0 or -errno. */
int status_write(const char *path, const struct status_rec *rec);
/* The same text, to f (what `lxcfs --status` prints).  0 or -EIO. */
int status_print(FILE *f, const struct status_rec *rec);
/* Parses the text of a status file into *rec.  0; -EBADMSG if a field is missing or malformed
 * (the file is damaged, or of a keeper that writes another format). */
int status_read(const char *text, struct status_rec *rec);

#endif
