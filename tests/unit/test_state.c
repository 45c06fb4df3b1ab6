#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "lib/mount.h"
#include "reinit/state.h"
#include "fs/tree.h"
#include "fs/vsize.h"

static void state_checks(void)
{
	struct state s, t;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach(&t, s.fd, &why), 0);
	CHECK(t.hdr->nslots >= 16 && t.hdr->nsnaps >= 256);
	/* slots and snapshots lie inside the memfd and do not overlap */
	CHECK((char *)state_slot(&t, t.hdr->nslots - 1) + t.hdr->slot_size <= (char *)state_snap(&t, 0));
	CHECK((uint64_t)((char *)state_snap(&t, t.hdr->nsnaps - 1) - (char *)t.hdr) + t.hdr->snap_size <=
	      t.hdr->total_size);
	struct state_slot *sl = state_slot(&t, 3);
	sl->tries = 2; /* shared: another attach sees it */
	struct state u;
	CHECK_INT(state_attach(&u, s.fd, &why), 0);
	CHECK_INT(state_slot(&u, 3)->tries, 2);
	state_detach(&u);

	/* the memfd is sealed: nobody can shrink it under a mapping */
	CHECK(ftruncate(s.fd, 4096) < 0);

	struct state_hdr h = *t.hdr;
	h.version = LXCFS_STATE_VERSION + 1;
	CHECK_INT(state_check_header(&h, h.total_size, &why), -EPROTO);
	CHECK(why && strstr(why, "version"));
	h = *t.hdr;
	memcpy(h.magic, "GARBAGE!", 8);
	CHECK_INT(state_check_header(&h, h.total_size, &why), -EINVAL);
	h = *t.hdr;
	h.nslots = 100000;
	CHECK_INT(state_check_header(&h, h.total_size, &why), -EINVAL);
	h = *t.hdr;
	CHECK_INT(state_check_header(&h, 4096, &why), -EINVAL); /* the file is smaller than it says */
	h = *t.hdr;
	h.init.req_len = 7;
	h.init.version = INITREC_VERSION;
	CHECK_INT(state_check_header(&h, h.total_size, &why), -EINVAL);

	/* garbage in the memfd itself: attach refuses, says why */
	memcpy(t.hdr->magic, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	CHECK(state_attach(&u, s.fd, &why) < 0);
	CHECK(why != NULL);
	state_detach(&t);
	close(s.fd);

	/* a file that is not a state at all */
	int fd = open("/dev/null", O_RDONLY);
	CHECK(state_attach(&u, fd, &why) < 0);
	close(fd);
}

static void timeout_warning(void)
{
	char path[] = "/tmp/lxcfs-test-timeout-XXXXXX";
	int fd = mkstemp(path);
	CHECK(write(fd, "30\n", 3) == 3);
	close(fd);
	CHECK_INT(warn_request_timeout(path), 30);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(write(fd, "0\n", 2) == 2);
	close(fd);
	CHECK_INT(warn_request_timeout(path), 0);
	unlink(path);
	CHECK_INT(warn_request_timeout("/nonexistent/default_request_timeout"), -1);
}

/* Sizes in an inherited state that no render can have are damage: not served as st_size (a
 * fuzzed state had one above 2^62, on which vsize_get doubled round to 0 and spun). */
static void vsize_damage(void)
{
	struct state s, t;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach(&t, s.fd, &why), 0);
	t.hdr->vsize[INO_PROC_MEMINFO] = UINT64_C(1) << 50;
	t.hdr->vsize[INO_PROC_STAT] = 5000;
	vsize_init(&t);
	CHECK_U64(vsize_get(INO_PROC_MEMINFO), 4096);
	CHECK_U64(vsize_get(INO_PROC_STAT), 16384); /* a real size is kept: twice 5000, rounded up */
	t.hdr->vsize[INO_PROC_STAT] = UINT64_C(1) << 40; /* damaged while in use */
	CHECK_U64(vsize_get(INO_PROC_STAT), 4096);
	vsize_note(INO_PROC_MEMINFO, 3000);
	CHECK_U64(vsize_get(INO_PROC_MEMINFO), 8192);
	state_detach(&t);
	close(s.fd);
}

int main(void)
{
	state_checks();
	vsize_damage();
	timeout_warning();
	CHECK_DONE();
}
