#include <linux/fuse.h>
#include <stdint.h>

#include "check.h"
#include "reinit/initrec.h"

struct init_msg {
	struct fuse_in_header h;
	struct fuse_init_in in;
};

int main(void)
{
	struct initrec r = { 0 };
	struct init_msg m = { .h = { .len = sizeof(m), .opcode = FUSE_INIT, .unique = 2 },
			      .in = { .major = 7, .minor = 38, .max_readahead = 131072 } };
	struct fuse_in_header other = { .len = sizeof(other), .opcode = FUSE_GETATTR, .unique = 4 };

	CHECK(!initrec_note_request(&r, &other, sizeof(other)));
	CHECK(!initrec_note_request(&r, &m, 10)); /* too short to be anything */
	CHECK(initrec_note_request(&r, &m, sizeof(m)));
	CHECK(!initrec_complete(&r));

	/* a reply to another request is not the INIT reply */
	struct fuse_out_header oh = { .len = sizeof(oh), .unique = 4 };
	struct iovec iov[2] = { { &oh, sizeof(oh) } };
	CHECK(!initrec_note_reply(&r, iov, 1));
	struct fuse_init_out out = { .major = 7, .minor = 38, .max_write = 4096 };
	oh.unique = 2;
	oh.len = sizeof(oh) + sizeof(out);
	iov[1] = (struct iovec){ &out, sizeof(out) };
	CHECK(initrec_note_reply(&r, iov, 2));
	CHECK(initrec_complete(&r));
	CHECK_INT(r.rep_len, sizeof(oh) + sizeof(out));
	CHECK(memcmp(r.rep + sizeof(oh), &out, sizeof(out)) == 0);
	CHECK_INT(initrec_validate(&r), 0);

	/* a record from elsewhere: wrong version, garbage lengths, not an INIT */
	struct initrec bad = r;
	bad.version = 99;
	CHECK(initrec_validate(&bad) < 0);
	bad = r;
	bad.req_len = 100000;
	CHECK(initrec_validate(&bad) < 0);
	bad = r;
	((struct fuse_in_header *)bad.req)->opcode = FUSE_GETATTR;
	CHECK(initrec_validate(&bad) < 0);
	bad = r;
	bad.unique = 77;
	CHECK(initrec_validate(&bad) < 0);
	memset(&bad, 0xff, sizeof(bad));
	CHECK(initrec_validate(&bad) < 0);
	CHECK_DONE();
}
