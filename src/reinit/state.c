#include "reinit/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/log.h"

#define PAGE 4096u
#define ROUND(x) (((x) + PAGE - 1) / PAGE * PAGE)

void state_relayout(struct state_hdr *h)
{
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->version = LXCFS_STATE_VERSION;
	h->hdr_size = (uint32_t)ROUND(sizeof(struct state_hdr));
	h->nslots = STATE_SLOTS;
	h->slot_size = (uint32_t)ROUND(sizeof(struct state_slot) + STATE_SLOT_DATA);
	h->slots_off = h->hdr_size;
	h->nsnaps = STATE_SNAPS;
	h->snap_size = (uint32_t)(sizeof(struct state_snap) + STATE_SNAP_DATA);
	h->snaps_off = h->slots_off + (uint64_t)h->nslots * h->slot_size;
	h->total_size = ROUND(h->snaps_off + (uint64_t)h->nsnaps * h->snap_size);
}

static void layout(struct state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	state_relayout(h);
}

static void copy_layout(struct state_layout *l, const struct state_hdr *h)
{
	*l = (struct state_layout){ .hdr_size = h->hdr_size, .total_size = h->total_size,
				    .slots_off = h->slots_off, .snaps_off = h->snaps_off, .nslots = h->nslots,
				    .slot_size = h->slot_size, .nsnaps = h->nsnaps, .snap_size = h->snap_size };
}

/* FNV-1a over the fields that never change while a connection lives. */
static uint32_t header_sum(const struct state_hdr *h)
{
	uint32_t x = fnv1a32(FNV1A32_INIT, h, offsetof(struct state_hdr, generation));
	x = fnv1a32(x, &h->init, sizeof(h->init));
	return x ? x : 1; /* 0 means "never summed" */
}

void state_seal(struct state_hdr *h)
{
	__atomic_store_n(&h->sum, header_sum(h), __ATOMIC_RELEASE);
}

int state_check_header(const struct state_hdr *h, uint64_t fd_size, const char **why)
{
	struct state_hdr want;
	layout(&want);
	*why = NULL;
	if (memcmp(h->magic, STATE_MAGIC, sizeof(h->magic)) != 0) {
		*why = "not an lxcfs state (bad magic)";
		return -EINVAL;
	}
	if (h->version != LXCFS_STATE_VERSION) {
		*why = "state of another format version";
		return -EPROTO;
	}
	if (h->hdr_size != want.hdr_size || h->total_size != want.total_size || h->nslots != want.nslots ||
	    h->slot_size != want.slot_size || h->slots_off != want.slots_off || h->nsnaps != want.nsnaps ||
	    h->snap_size != want.snap_size || h->snaps_off != want.snaps_off || fd_size < h->total_size) {
		*why = "state layout does not match this version";
		return -EINVAL;
	}
	if (h->init.req_len && initrec_validate(&h->init) < 0) {
		*why = "recorded INIT exchange is damaged";
		return -EINVAL;
	}
	uint32_t sum = __atomic_load_n(&h->sum, __ATOMIC_ACQUIRE);
	if (sum && sum != header_sum(h)) {
		*why = "state header checksum mismatch";
		return -EINVAL;
	}
	if (h->generation >= STATE_MAX_GENERATION) {
		*why = "state header holds an impossible generation";
		return -EINVAL;
	}
	return 0;
}

int state_check(const struct state *s, const char **why)
{
	return state_check_header(s->hdr, s->lay.total_size, why);
}

int state_create(struct state *s)
{
	struct state_hdr h;
	layout(&h);
	state_seal(&h);
	s->hdr = NULL;
	copy_layout(&s->lay, &h);
	s->fd = memfd_create("lxcfs-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (s->fd < 0)
		return -errno;
	if (ftruncate(s->fd, (off_t)h.total_size) < 0 ||
	    fcntl(s->fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    pwrite(s->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int e = errno;
		close(s->fd);
		s->fd = -1;
		return -e;
	}
	s->size = h.total_size;
	return 0;
}

static int attach(struct state *s, int fd, const char **why, bool whole)
{
	struct stat st;
	struct state_hdr h;
	s->fd = fd;
	s->hdr = NULL;
	*why = NULL;
	if (fstat(fd, &st) < 0 || pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		*why = "cannot read the state";
		return -EIO;
	}
	int r = state_check_header(&h, (uint64_t)st.st_size, why);
	if (r < 0)
		return r;
	copy_layout(&s->lay, &h);
	s->size = whole ? h.total_size : h.hdr_size;
	void *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*why = "cannot map the state";
		return -errno;
	}
	s->hdr = p;
	return 0;
}

int state_attach(struct state *s, int fd, const char **why)
{
	return attach(s, fd, why, true);
}

int state_attach_header(struct state *s, int fd, const char **why)
{
	return attach(s, fd, why, false);
}

void state_detach(struct state *s)
{
	if (s->hdr)
		munmap(s->hdr, s->size);
	s->hdr = NULL;
}

struct state_slot *state_slot(const struct state *s, unsigned i)
{
	return (struct state_slot *)((char *)s->hdr + s->lay.slots_off + (uint64_t)i * s->lay.slot_size);
}

unsigned state_snaps_in_use(const struct state *s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->lay.nsnaps; i++) {
		uint64_t fh;
		off_t at = (off_t)(s->lay.snaps_off + (uint64_t)i * s->lay.snap_size + offsetof(struct state_snap, fh));
		if (pread(s->fd, &fh, sizeof(fh), at) == (ssize_t)sizeof(fh) && fh)
			n++;
	}
	return n;
}

bool state_written(const struct state *s, uint64_t off, struct state_runs *r)
{
	if (off < r->hole)
		return off >= r->data;
	off_t d = lseek(s->fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno != ENXIO) /* no SEEK_DATA here: take every page as written */
			return true;
		r->data = r->hole = UINT64_MAX; /* nothing written from off on */
		return false;
	}
	off_t h = lseek(s->fd, d, SEEK_HOLE);
	r->data = (uint64_t)d;
	r->hole = h < 0 ? UINT64_MAX : (uint64_t)h;
	return off >= r->data;
}

struct state_snap *state_snap(const struct state *s, unsigned i)
{
	return (struct state_snap *)((char *)s->hdr + s->lay.snaps_off + (uint64_t)i * s->lay.snap_size);
}

uint64_t state_snap_sum(uint64_t fh, const void *data, uint32_t len)
{
	/* Summed at every keep and checked at every read past offset 0 that returns data, so it
	 * must cost little next to a FUSE round trip (tens of us): four independent lanes of eight
	 * bytes whose multiplications overlap, then the tail; bench/snapsum prints its cost.  Not a cryptographic hash: it catches stray writes, not an
	 * adversary, and only root can write the memfd. */
	const uint64_t k = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t h[4] = { (fh ^ len) * k, fh + k, (uint64_t)len * k + 1, ~fh };
	const unsigned char *p = data;
	uint32_t i = 0;
	for (; i + 32 <= len; i += 32)
		for (int j = 0; j < 4; j++) {
			uint64_t w;
			memcpy(&w, p + i + 8 * j, 8);
			h[j] = (h[j] ^ w) * k; /* a bijection of the lane for each word: one changed
						 * word always changes the lane, and so the sum */
		}
	uint64_t x = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7);
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		x = (x ^ w) * k;
	}
	uint64_t tail = 0;
	memcpy(&tail, p + i, len - i);
	x = (x ^ tail) * k;
	x ^= x >> 32;
	return x ? x : 1;
}
