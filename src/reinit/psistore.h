/* The PSI triggers readers armed through the mount (--enable-psi-poll), kept where a worker's
 * death does not take them: a memfd of their own that the keeper (or a standalone daemon,
 * across its re-exec) holds and hands to each worker in $LXCFS_PSI_FD.  A trigger is the
 * kernel's, on a file only the worker that armed it holds; what survives is how to arm it
 * again and the poll handle of a reader that waits, so a successor can wake it.  Its own
 * memfd, as the load-average history: the state's format stays as it is. */
#ifndef LXCFS_PSISTORE_H
#define LXCFS_PSISTORE_H

#include <stdint.h>

#include "reinit/memtable.h"

#define PSISTORE_MAGIC "LXCFSPS\0"
#define PSISTORE_VERSION 1
#define PSISTORE_ENTRIES 1024

struct psistore_entry {
	uint64_t fh;      /* the reader's handle; 0: free */
	uint64_t kh;      /* the kernel's poll handle of the file, once it polled */
	uint32_t waiting; /* the kernel waits for a FUSE_NOTIFY_POLL of kh */
	uint32_t pad;
	char path[256];   /* the pressure file the trigger went to */
	char line[32];    /* the trigger as written to it */
};

struct psistore {
	struct memtable_hdr *hdr; /* NULL: not attached */
	struct psistore_entry *e;
};

/* A new, empty store (sealed size).  fd or -errno. */
int psistore_create(void);
/* Maps fd; another layout or garbage is emptied (the triggers armed before are forgotten).
 * 0, or -errno (then the worker keeps its triggers to itself). */
int psistore_attach(struct psistore *s, int fd);
/* The fd named in $LXCFS_PSI_FD, or -1. */
int psistore_fd_from_env(void);

#endif
