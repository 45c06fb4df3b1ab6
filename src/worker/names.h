/* The tree's names looked up by one thread, alone, and held for the worker's life. */
#ifndef LXCFS_WORKER_NAMES_H
#define LXCFS_WORKER_NAMES_H

/* Every static name of the tree at mountpoint (when it is the mount of our connection fusefd)
 * looked up once, alone, before containers do, and held (an O_PATH fd each) until the worker
 * ends.  This kernel (6.18) drops a FUSE name met by several first lookups at once, and a bind
 * of it is then refused (ENOENT): containers that start together on a new mount (a boot, the
 * rebind tier's start) bind the same files at once, and some of their binds failed
 * (bench/lookup-race; tests/bats/core.bats).  A name the kernel keeps is not met by a first
 * lookup again; one nobody holds is evicted under memory pressure, and containers that start
 * together after that met the race again.  A held name is never evicted.  A worker that takes
 * over a connection holds them again once it has served a quiet moment (its predecessor's went
 * with it).  Where the kernel cannot name our connection's device (before Linux 6.16) nothing
 * is done: the mount at mountpoint might not be ours, and a lookup there might hang on a daemon
 * that does not answer.  Once held, a second call does nothing. */
void names_hold(int fusefd, const char *mountpoint);
/* Before our own unmount: held names would make it busy (it would then only be detached). */
void names_release(void);

#endif
