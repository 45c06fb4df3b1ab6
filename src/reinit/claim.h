/* Which lxcfs device belongs to which mountpoint, for the rebind tier.
 *
 * A dead bind mount in a container names only a device number, and anonymous device numbers are
 * handed out again (lowest free first) once a superblock is gone: a device that was ours last
 * week may be another instance's today.  So every instance records the device it mounts, keyed
 * by device, in one directory for the whole host (CLAIM_DIR); a newer mount of the same number
 * overwrites the older claim.  At its next start an instance heals only dead mounts of devices
 * claimed for its own mountpoint (and the one it found dead there, or devices the operator
 * names): never another instance's, whatever state that one is in. */
#ifndef LXCFS_CLAIM_H
#define LXCFS_CLAIM_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define CLAIM_DIR "/run/lxcfs-claims"

struct claim {
	dev_t dev;
	char *mountpoint; /* canonical */
	time_t mtime;
};

struct claims {
	struct claim *v;
	size_t n;
};

/* After mounting (or taking over) the lxcfs mount at mnt: dir/MAJ:MIN names mnt.  0 or -errno
 * (logged: the next start then cannot prove these mounts were ours). */
int claim_record(const char *dir, const char *mnt);
/* Every valid claim in dir; malformed entries are logged and skipped, and a dir that is not
 * root's alone (owner, mode) is refused as a whole (-EPERM).  A missing dir is no claim. */
int claims_load(const char *dir, struct claims *out);
/* The mountpoint dev is claimed for, or NULL. */
const char *claims_owner(const struct claims *c, dev_t dev);
/* Removes claims of devices no mount namespace holds any more (seen: every lxcfs device met),
 * written before `before`: a claim made during the scan is never taken for stale. */
void claims_prune(const char *dir, const struct claims *c, const dev_t *seen, size_t nseen, time_t before);
void claims_free(struct claims *c);

#endif
