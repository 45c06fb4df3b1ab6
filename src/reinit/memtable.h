/* A fixed table of entries in a memfd of its own, for what must outlive a worker beside the
 * state (the load-average history, the PSI triggers): a small header (magic, version, entry
 * count and size) and the entries after it.  Sealed to its size when created; a table whose
 * header is not exactly this kind's is emptied on attach, never trusted. */
#ifndef LXCFS_MEMTABLE_H
#define LXCFS_MEMTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct memtable_hdr {
	char magic[8];
	uint32_t version, nentries, entry_size, pad;
};

struct memtable_kind {
	const char *name;  /* of the memfd, as /proc/PID/fd shows it */
	const char *magic; /* 8 bytes */
	uint32_t version, nentries, entry_size;
};

size_t memtable_size(const struct memtable_kind *k);
/* A new, zeroed table (sealed size).  fd or -errno. */
int memtable_create(const struct memtable_kind *k);
/* Maps fd into *hdr (the entries follow it).  A header of another layout, or garbage, is reset
 * (the table emptied) and *reset set.  0; -EINVAL if fd is no table of this size (sealed to its
 * size, it cannot be fixed); or -errno. */
int memtable_attach(const struct memtable_kind *k, int fd, struct memtable_hdr **hdr, bool *reset);
void memtable_detach(const struct memtable_kind *k, struct memtable_hdr **hdr);
/* The fd number in environment variable var if it is an open fd above stdio, or -1. */
int memtable_fd_from_env(const char *var);

#endif
