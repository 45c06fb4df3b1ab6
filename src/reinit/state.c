#include "reinit/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/log.h"
#include "reinit/proto.h"
#include "reinit/state_section.h"

#define PAGE 4096u
#define ROUND(x) (((x) + PAGE - 1) / PAGE * PAGE)

/* The binary layout of format version 1, which a running daemon of any build shares with its
 * successor: a field that moves is a new format version (and a refused takeover), never a
 * silent change. */
#if LXCFS_STATE_VERSION == 1
STATE_PIN(state_hdr, magic, 0, 8);
STATE_PIN(state_hdr, version, 8, 4);
STATE_PIN(state_hdr, hdr_size, 12, 4);
STATE_PIN(state_hdr, total_size, 16, 8);
STATE_PIN(state_hdr, nslots, 24, 4);
STATE_PIN(state_hdr, slot_size, 28, 4);
STATE_PIN(state_hdr, slots_off, 32, 8);
STATE_PIN(state_hdr, nsnaps, 40, 4);
STATE_PIN(state_hdr, snap_size, 44, 4);
STATE_PIN(state_hdr, snaps_off, 48, 8);
STATE_PIN(state_hdr, generation, 56, 8);
STATE_PIN(state_hdr, restarts, 64, 4);
STATE_PIN(state_hdr, last_status, 68, 4);
STATE_PIN(state_hdr, last_death, 72, 8);
STATE_PIN(state_hdr, last_pid, 80, 4);
STATE_PIN(state_hdr, keeper_pid, 84, 4);
STATE_PIN(state_hdr, worker_pid, 88, 4);
STATE_PIN(state_hdr, sum, 92, 4);
STATE_PIN(state_hdr, fh_serial, 96, 8);
STATE_PIN(state_hdr, features, 104, 4);
STATE_PIN(state_hdr, worker_version, 108, 32);
STATE_PIN(state_hdr, kept_renders, 140, 4);
STATE_PIN(state_hdr, vsize, 144, 8192);
STATE_PIN(state_hdr, init, 8336, 536);
_Static_assert(sizeof(struct state_hdr) == 8872, "state format 1: the header's size changed");
#endif

static void repair_layout(struct state_hdr *h, const struct state_hdr *saved, uint64_t generation)
{
	(void)saved; /* the layout is this version's: a copy cannot hold another */
	(void)generation;
	state_relayout(h);
}

/* The header: identity and layout (sealed), then what the keeper and workers write. */
static const struct state_section sec_header = {
	.name = "header",
	.at = 0,
	.len = offsetof(struct state_hdr, generation),
	.count = 1,
	.entry_size = ROUND(sizeof(struct state_hdr)),
	.table = true,
	.size = STATE_FIELD(hdr_size),
	.sealed = true,
	.repair = repair_layout,
};

/* FNV-1a over the sealed sections: what never changes while a connection lives. */
static uint32_t header_sum(const struct state_hdr *h)
{
	uint32_t x = FNV1A32_INIT;
	for (unsigned i = 0; i < state_nsections; i++)
		if (state_sections[i]->sealed)
			x = fnv1a32(x, (const char *)h + state_sections[i]->at, state_sections[i]->len);
	return x ? x : 1; /* 0 means "never summed" */
}

static int check_sum(const struct state_hdr *h, const char **why)
{
	uint32_t sum = __atomic_load_n(&h->sum, __ATOMIC_ACQUIRE);
	if (sum && sum != header_sum(h)) {
		*why = "state header checksum mismatch";
		return -EINVAL;
	}
	return 0;
}

/* The checksum: 0 from a binary before checksums, checked field by field only. */
static const struct state_section sec_sum = {
	.name = "checksum",
	.at = offsetof(struct state_hdr, sum),
	.len = sizeof(uint32_t),
	.check = check_sum,
};

static int check_generation(const struct state_hdr *h, const char **why)
{
	if (h->generation >= STATE_MAX_GENERATION) {
		*why = "state header holds an impossible generation";
		return -EINVAL;
	}
	return 0;
}

static void repair_generation(struct state_hdr *h, const struct state_hdr *saved, uint64_t generation)
{
	(void)saved; /* the keeper's count is newer than any copy */
	h->generation = generation;
}

/* The generation of the newest worker, written by the keeper. */
static const struct state_section sec_generation = {
	.name = "generation",
	.at = offsetof(struct state_hdr, generation),
	.len = sizeof(uint64_t),
	.check = check_generation,
	.repair = repair_generation,
};

/* The restart record the status shows: it outlives a state replaced by a fresh one.  Any value
 * is a record (damage shows as odd numbers in the status, nothing acts on them). */
static const struct state_section sec_restarts = {
	.name = "restart record",
	.at = offsetof(struct state_hdr, restarts),
	.len = offsetof(struct state_hdr, keeper_pid) - offsetof(struct state_hdr, restarts),
	.carried = true,
};

/* Table order: the tables in memfd order (header, journal, snapshot entries), and the checks in
 * the order they name damage (the INIT record before the checksum that covers it). */
const struct state_section *const state_sections[] = {
	&sec_header, &state_sec_init, &sec_sum, &sec_generation, &sec_restarts,
	&state_sec_journal, &state_sec_snaps, &state_sec_vsize,
};
const unsigned state_nsections = sizeof(state_sections) / sizeof(state_sections[0]);

static uint64_t field_get(const void *base, unsigned at, unsigned width)
{
	if (width == sizeof(uint32_t)) {
		uint32_t v;
		memcpy(&v, (const char *)base + at, sizeof(v));
		return v;
	}
	uint64_t v;
	memcpy(&v, (const char *)base + at, sizeof(v));
	return v;
}

static void field_put(void *base, unsigned at, unsigned width, uint64_t v)
{
	if (width == sizeof(uint32_t)) {
		uint32_t w = (uint32_t)v;
		memcpy((char *)base + at, &w, sizeof(w));
	} else {
		memcpy((char *)base + at, &v, sizeof(v));
	}
}

/* The three layout fields of a section, in the order they are compared and copied. */
static void fields_of(const struct state_section *sec, const struct state_field *f[3])
{
	f[0] = &sec->off;
	f[1] = &sec->n;
	f[2] = &sec->size;
}

void state_relayout(struct state_hdr *h)
{
	memcpy(h->magic, STATE_MAGIC, sizeof(h->magic));
	h->version = LXCFS_STATE_VERSION;
	uint64_t end = 0;
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_section *sec = state_sections[i];
		if (!sec->table)
			continue;
		uint64_t v[3] = { end, sec->count, sec->entry_size };
		const struct state_field *f[3];
		fields_of(sec, f);
		for (int j = 0; j < 3; j++)
			if (f[j]->hdr_width)
				field_put(h, f[j]->hdr, f[j]->hdr_width, v[j]);
		end += (uint64_t)sec->count * sec->entry_size;
	}
	h->total_size = ROUND(end);
}

static void layout(struct state_hdr *h)
{
	memset(h, 0, sizeof(*h));
	state_relayout(h);
}

static void copy_layout(struct state_layout *l, const struct state_hdr *h)
{
	memset(l, 0, sizeof(*l));
	l->total_size = h->total_size;
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_field *f[3];
		fields_of(state_sections[i], f);
		for (int j = 0; j < 3; j++)
			if (f[j]->hdr_width)
				field_put(l, f[j]->lay, f[j]->lay_width, field_get(h, f[j]->hdr, f[j]->hdr_width));
	}
}

static bool layout_matches(const struct state_hdr *h, const struct state_hdr *want)
{
	if (h->total_size != want->total_size)
		return false;
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_field *f[3];
		fields_of(state_sections[i], f);
		for (int j = 0; j < 3; j++)
			if (f[j]->hdr_width &&
			    field_get(h, f[j]->hdr, f[j]->hdr_width) != field_get(want, f[j]->hdr, f[j]->hdr_width))
				return false;
	}
	return true;
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
	if (!layout_matches(h, &want) || fd_size < h->total_size) {
		*why = "state layout does not match this version";
		return -EINVAL;
	}
	for (unsigned i = 0; i < state_nsections; i++) {
		int r = state_sections[i]->check ? state_sections[i]->check(h, why) : 0;
		if (r < 0)
			return r;
	}
	return 0;
}

int state_check(const struct state *s, const char **why)
{
	return state_check_header(s->hdr, s->lay.total_size, why);
}

int state_repair_header(struct state *s, const struct state_hdr *saved, uint64_t generation, const char **damage,
			const char **how)
{
	if (state_check(s, damage) == 0) {
		*how = NULL;
		return 0;
	}
	for (unsigned i = 0; i < state_nsections; i++)
		if (state_sections[i]->repair)
			state_sections[i]->repair(s->hdr, saved, generation);
	state_seal(s->hdr); /* last: after every sealed section is back */
	if (state_check(s, how) < 0)
		return -EINVAL;
	*how = saved ? "the keeper's copy" : "this version's layout, the INIT record as found";
	return 1;
}

bool state_save_header(const struct state *s, struct state_hdr *copy)
{
	const char *why;
	if (state_check(s, &why) < 0 || !initrec_complete(&s->hdr->init))
		return false;
	if (!s->hdr->sum)
		state_seal(s->hdr); /* left by a binary before checksums: complete, so fixed */
	*copy = *s->hdr;
	return true;
}

void state_carry(struct state_hdr *to, const struct state_hdr *from)
{
	for (unsigned i = 0; i < state_nsections; i++)
		if (state_sections[i]->carried)
			memcpy((char *)to + state_sections[i]->at, (const char *)from + state_sections[i]->at,
			       state_sections[i]->len);
}

void state_note_death(struct state_hdr *h, int status, pid_t pid)
{
	h->restarts++;
	h->last_status = status;
	h->last_death = time(NULL);
	h->last_pid = pid;
}

int state_renew(struct state *s, const struct state_hdr *saved)
{
	struct state st;
	const char *why;
	int r = state_create(&st);
	if (r < 0)
		return r;
	if ((r = state_attach_header(&st, st.fd, &why)) < 0) {
		close(st.fd);
		return r;
	}
	/* the live header if it is sound, else the keeper's copy */
	const struct state_hdr *old = s->hdr && state_check(s, &why) == 0 ? s->hdr : saved;
	if (old)
		state_carry(st.hdr, old);
	state_detach(s);
	if (s->fd >= 0)
		close(s->fd);
	*s = st;
	return 0;
}

static uint64_t entry_offset(const struct state *s, const struct state_section *sec, unsigned i)
{
	if (!sec->table)
		return sec->at + (uint64_t)i * sec->entry_size;
	uint64_t off = sec->off.lay_width ? field_get(&s->lay, sec->off.lay, sec->off.lay_width) : 0;
	uint64_t size = sec->size.lay_width ? field_get(&s->lay, sec->size.lay, sec->size.lay_width) : sec->entry_size;
	return off + (uint64_t)i * size;
}

void *state_entry(const struct state *s, const struct state_section *sec, unsigned i)
{
	return (char *)s->hdr + entry_offset(s, sec, i);
}

bool state_entry_read(const struct state *s, const struct state_section *sec, unsigned i, size_t at, void *dst,
		      size_t len)
{
	return pread(s->fd, dst, len, (off_t)(entry_offset(s, sec, i) + at)) == (ssize_t)len;
}

int state_create(struct state *s)
{
	struct state_hdr h;
	layout(&h);
	state_seal(&h);
	s->hdr = NULL;
	copy_layout(&s->lay, &h);
	s->fd = memfd_create(MEMFD_STATE, MFD_CLOEXEC | MFD_ALLOW_SEALING);
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

unsigned state_prefault(const struct state *s)
{
	struct state_runs runs = STATE_RUNS_INIT;
	const volatile unsigned char *base = (const void *)s->hdr;
	unsigned n = 0;
	for (uint64_t off = 0; off < s->lay.snaps_off; off += PAGE) {
		if (state_written(s, off, &runs)) {
			(void)base[off];
			n++;
		} else if (runs.data == UINT64_MAX) {
			break; /* nothing written from here on */
		} else if (runs.data > off + PAGE) {
			off = runs.data / PAGE * PAGE - PAGE; /* to the next written run */
		}
	}
	/* of each snapshot entry its first page (a takeover's opens write them there); the rest
	 * of a big render only if it is read */
	for (unsigned i = 0; i < s->lay.nsnaps; i++) {
		uint64_t off = s->lay.snaps_off + (uint64_t)i * s->lay.snap_size;
		if (state_written(s, off, &runs)) {
			(void)base[off];
			n++;
		}
	}
	return n;
}
