/* The tree's names looked up once, by one thread, as soon as a new connection is served. */
#ifndef LXCFS_WORKER_NAMES_H
#define LXCFS_WORKER_NAMES_H

/* Every static name of the tree at mountpoint (when it is the mount of our connection fusefd)
 * looked up once, alone, before containers do.  This kernel (6.18) drops a FUSE name met by
 * several first lookups at once, and a bind of it is then refused (ENOENT): containers that
 * start together on a new mount (a boot, the rebind tier's start) bind the same files at once,
 * and some of their binds failed (bench/lookup-race; tests/bats/core.bats).  Names looked up
 * already are not met by a first lookup again while the kernel keeps them; under memory
 * pressure it may not (nobody holds them until a container binds one).  Where the kernel cannot
 * name our connection's device (before Linux 6.16) nothing is done: the mount at mountpoint
 * might not be ours, and a lookup there might hang on a daemon that does not answer.  Returns
 * how many names were looked up. */
int names_warm(int fusefd, const char *mountpoint);

#endif
