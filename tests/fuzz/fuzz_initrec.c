/* The INIT record: a record from the state (initrec_validate), an INIT request read from the
 * connection (initrec_note_request) and a reply in pieces (initrec_note_reply). */
#include <sys/uio.h>

#include "fuzz.h"
#include "reinit/initrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct initrec r;
	memset(&r, 0, sizeof(r));
	memcpy(&r, data, size < sizeof(r) ? size : sizeof(r));
	if (initrec_validate(&r) == 0 && (r.req_len > INITREC_MAX || r.rep_len > INITREC_MAX))
		abort();
	initrec_complete(&r);

	/* the input as a request, then its tail (cut at byte 0's value) as a reply of 1-3 pieces */
	struct initrec n;
	memset(&n, 0xa5, sizeof(n));
	if (initrec_note_request(&n, data, size)) {
		if (initrec_validate(&n) < 0 && size >= 40 + 16 && size <= INITREC_MAX &&
		    ((const uint32_t *)(const void *)n.req)[0] == size)
			abort(); /* a request we recorded ourselves must pass its own check */
		size_t cut = size ? data[0] % (size + 1) : 0;
		size_t rest = size - cut;
		/* libfuse hands over the reply's header as a struct: aligned, as here */
		uint64_t *copy = malloc(rest + 8);
		memcpy(copy, data + cut, rest);
		const uint8_t *d = (const uint8_t *)copy;
		struct iovec iov[3] = {
			{ (void *)d, rest / 3 },
			{ (void *)(d + rest / 3), rest / 3 },
			{ (void *)(d + 2 * (rest / 3)), rest - 2 * (rest / 3) },
		};
		initrec_note_reply(&n, iov, 1 + (size ? data[size - 1] % 3 : 0));
		if (n.rep_len > INITREC_MAX)
			abort();
		free(copy);
	}
	return 0;
}
