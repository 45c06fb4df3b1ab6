#include "reinit/initrec.h"

#include <errno.h>
#include <linux/fuse.h>
#include <string.h>

#include "reinit/state.h"
#include "reinit/state_section.h"

#if LXCFS_STATE_VERSION == 1 /* the record lives in the state's header */
STATE_PIN(initrec, version, 0, 4);
STATE_PIN(initrec, req_len, 4, 4);
STATE_PIN(initrec, rep_len, 8, 4);
STATE_PIN(initrec, pad, 12, 4);
STATE_PIN(initrec, unique, 16, 8);
STATE_PIN(initrec, req, 24, 256);
STATE_PIN(initrec, rep, 280, 256);
#endif

bool initrec_note_request(struct initrec *r, const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	if (len < sizeof(*in) || in->opcode != FUSE_INIT)
		return false;
	if (len > INITREC_MAX)
		len = INITREC_MAX; /* INIT is 104 bytes today; newer fields beyond 256 are not ours */
	memset(r, 0, sizeof(*r));
	r->version = INITREC_VERSION;
	r->unique = in->unique;
	memcpy(r->req, buf, len);
	r->req_len = (uint32_t)len;
	return true;
}

bool initrec_note_reply(struct initrec *r, const struct iovec *iov, int count)
{
	if (!r->req_len || r->rep_len || count < 1 || iov[0].iov_len < sizeof(struct fuse_out_header))
		return false;
	const struct fuse_out_header *out = iov[0].iov_base;
	if (out->unique != r->unique)
		return false;
	size_t len = 0;
	for (int i = 0; i < count; i++) {
		size_t n = iov[i].iov_len;
		if (len + n > INITREC_MAX)
			n = INITREC_MAX - len;
		memcpy(r->rep + len, iov[i].iov_base, n);
		len += n;
	}
	r->rep_len = (uint32_t)len;
	return true;
}

bool initrec_complete(const struct initrec *r)
{
	return r->req_len && r->rep_len;
}

int initrec_validate(const struct initrec *r)
{
	if (r->version != INITREC_VERSION)
		return -EPROTO;
	/* Kernels before 7.36 send only major, minor, max_readahead and flags (16 bytes). */
	if (r->req_len < sizeof(struct fuse_in_header) + 16 ||
	    r->req_len > INITREC_MAX || r->rep_len > INITREC_MAX)
		return -EINVAL;
	const struct fuse_in_header *in = (const void *)r->req;
	if (in->opcode != FUSE_INIT || in->unique != r->unique || in->len != r->req_len)
		return -EINVAL;
	return 0;
}

static int check_section(const struct state_hdr *h, const char **why)
{
	if (h->init.req_len && initrec_validate(&h->init) < 0) {
		*why = "recorded INIT exchange is damaged";
		return -EINVAL;
	}
	return 0;
}

/* From the keeper's copy; without one the record stays as found: the worker's replay checks it
 * against what it would answer itself. */
static void repair_section(struct state_hdr *h, const struct state_hdr *saved, uint64_t generation)
{
	(void)generation;
	if (saved)
		h->init = saved->init;
}

/* The INIT exchange of the connection, sealed: a takeover replays it. */
const struct state_section state_sec_init = {
	.name = "INIT record",
	.at = offsetof(struct state_hdr, init),
	.len = sizeof(struct initrec),
	.count = 1,
	.entry_size = sizeof(struct initrec),
	.sealed = true,
	.check = check_section,
	.repair = repair_section,
};
