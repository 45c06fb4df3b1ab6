/* Damages a live daemon's state memfd the ways a stray write or a half-done one could, for
 * tests/bats/crash.bats.  Usage: state-damage PATH KIND, PATH being the memfd as
 * /proc/KEEPER/fd/N.  KIND:
 *   zero-header     the first 256 bytes zeroed
 *   random-header   the whole header random
 *   random-journal  every journal slot's control words random
 *   held-journal    one free slot's control words in no state a worker leaves, over the header
 *                   of a request read into it (GETATTR): a slot that may have held a request
 *   init-reply      one byte of the recorded INIT answer changed, and the checksum cleared as a
 *                   binary from before checksums would leave it: the header passes every field
 *                   check, only the replay can tell */
#include <fcntl.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reinit/state.h"

static void noise(void *p, size_t n)
{
	if (getrandom(p, n, 0) != (ssize_t)n)
		memset(p, 0xa5, n);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: state-damage /proc/PID/fd/N zero-header|random-header|random-journal|held-journal|init-reply\n");
		return 2;
	}
	int fd = open(argv[1], O_RDWR);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size < sizeof(struct state_hdr)) {
		perror(argv[1]);
		return 1;
	}
	char *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	struct state_hdr *h = (struct state_hdr *)m;
	const char *k = argv[2];
	if (strcmp(k, "zero-header") == 0) {
		memset(m, 0, 256);
	} else if (strcmp(k, "random-header") == 0) {
		noise(m, sizeof(*h));
	} else if (strcmp(k, "random-journal") == 0) {
		for (uint32_t i = 0; i < h->nslots; i++) {
			struct state_slot *sl = (struct state_slot *)(m + h->slots_off + (uint64_t)i * h->slot_size);
			noise(sl, offsetof(struct state_slot, data));
		}
	} else if (strcmp(k, "held-journal") == 0) {
		struct state_slot *sl = NULL;
		for (uint32_t i = 0; i < h->nslots && !sl; i++) {
			struct state_slot *c = (struct state_slot *)(m + h->slots_off + (uint64_t)i * h->slot_size);
			if (c->state == SLOT_FREE)
				sl = c;
		}
		if (!sl) {
			fprintf(stderr, "no free journal slot\n");
			return 1;
		}
		struct fuse_in_header in = { .len = sizeof(in) + sizeof(struct fuse_getattr_in),
					     .opcode = FUSE_GETATTR, .unique = 0x7fff0002, .nodeid = 1 };
		memcpy(sl->data, &in, sizeof(in));
		sl->gen = UINT64_MAX;
		__atomic_store_n(&sl->state, 0xdead, __ATOMIC_RELEASE);
	} else if (strcmp(k, "init-reply") == 0) {
		if (!h->init.rep_len) {
			fprintf(stderr, "no INIT answer on record\n");
			return 1;
		}
		h->init.rep[h->init.rep_len - 1] ^= 0x5a;
		h->sum = 0;
	} else {
		fprintf(stderr, "unknown kind %s\n", k);
		return 2;
	}
	munmap(m, (size_t)st.st_size);
	close(fd);
	return 0;
}
