/* The FUSE_INIT exchange of a connection.  The kernel sends INIT once per connection; a process
 * that takes a live connection over replays the saved request into its own libfuse session and
 * swallows the answer, so the session is initialised exactly as the kernel believes it is.
 * Plain old data of fixed size: it can live in a shared memory segment. */
#ifndef LXCFS_INITREC_H
#define LXCFS_INITREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define INITREC_VERSION 1
#define INITREC_MAX 256

struct initrec {
	uint32_t version;
	uint32_t req_len; /* 0: no INIT seen yet */
	uint32_t rep_len; /* 0: INIT not answered yet */
	uint32_t pad;
	uint64_t unique;
	uint8_t req[INITREC_MAX];
	uint8_t rep[INITREC_MAX];
};

/* If buf is a FUSE_INIT request, records it and returns true. */
bool initrec_note_request(struct initrec *r, const void *buf, size_t len);
/* If the reply in iov answers the recorded INIT, records it and returns true. */
bool initrec_note_reply(struct initrec *r, const struct iovec *iov, int count);
bool initrec_complete(const struct initrec *r);
/* Checks version and lengths of a record from elsewhere (shared memory, another binary). */
int initrec_validate(const struct initrec *r);

#endif
