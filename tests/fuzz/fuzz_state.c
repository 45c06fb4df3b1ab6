/* The state memfd a worker inherits: its header (state_check_header, state_attach and
 * state_attach_header on a memfd made from the input) and, once accepted, what a worker reads
 * from it at start (the INIT record, every section's entries through its owner's check), and the
 * keeper's repair of whatever header it found from a sound copy.  The
 * edits of fuzz_patch.h apply to the header pages and the first slot; half the inputs get their
 * checksum recomputed after them. */
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "fuzz_patch.h"
#include "reinit/initrec.h"
#include "reinit/state.h"
#include "reinit/state_section.h"
#include "fs/tree.h"
#include "fs/vsize.h"

static struct state base;
static uint8_t *pristine, *region;
static size_t rsize;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (state_create(&base) < 0)
		abort();
	struct state_hdr h;
	if (pread(base.fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		abort();
	rsize = h.slots_off + 4096; /* the header and the start of slot 0 */
	pristine = calloc(1, rsize);
	region = calloc(1, rsize);
	if (!pristine || !region || pread(base.fd, pristine, rsize, 0) != (ssize_t)rsize)
		abort();
	return 0;
}

static void use(struct state *s)
{
	/* what a new worker does with an accepted state before serving */
	struct state_hdr *h = s->hdr;
	if (initrec_complete(&h->init))
		initrec_validate(&h->init);
	struct vsize v;
	vsize_init(&v, s);
	for (uint64_t ino = 0; ino < INO_STATIC_LIMIT + 2; ino++)
		vsize_get(&v, ino);
	/* every entry through its owner's check, as the worker's start and reads do */
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_section *sec = state_sections[i];
		for (unsigned e = 0; sec->entry_sound && e < sec->count; e++)
			sec->entry_sound(state_entry(s, sec, e), h->generation + 1);
	}
	state_slot_request(state_slot(s, 0), STATE_SLOT_DATA);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_patch(region, pristine, rsize, data, size))
		return 0;
	/* half the inputs are sealed again after the edits, as a worker's own writes would be: the
	 * checksum alone must not be what keeps garbage out */
	if (data[0] & 1)
		state_seal((struct state_hdr *)(void *)region);
	if (pwrite(base.fd, region, rsize, 0) != (ssize_t)rsize)
		abort();
	const char *why;
	struct stat st;
	fstat(base.fd, &st);
	state_check_header((const struct state_hdr *)(const void *)region, (uint64_t)st.st_size, &why);
	struct state s;
	if (state_attach_header(&s, base.fd, &why) == 0)
		state_detach(&s);
	if (state_attach(&s, base.fd, &why) == 0) {
		use(&s);
		state_detach(&s);
	} else if (!why) {
		abort(); /* a refusal says why */
	}
	/* the keeper's repair from a sound copy always leaves a sound header, whatever it found */
	struct state k = { .fd = base.fd, .size = rsize, .hdr = (struct state_hdr *)(void *)region, .lay = base.lay };
	const char *damage, *how;
	if (state_repair_header(&k, (const struct state_hdr *)(const void *)pristine, 1, &damage, &how) < 0 ||
	    state_check(&k, &why) < 0)
		abort();
	return 0;
}
