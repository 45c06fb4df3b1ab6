#include <errno.h>
#include <linux/fuse.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lib/mount.h"
#include "reinit/state.h"
#include "reinit/state_section.h"
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

/* Format 1's layout, as every build since it was introduced writes it: a build that computes
 * another one from the section table cannot take over from them. */
static void layout_pinned(void)
{
	struct state s, t;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach_header(&t, s.fd, &why), 0);
	const struct state_hdr *h = t.hdr;
	CHECK(memcmp(h->magic, STATE_MAGIC, 8) == 0);
	CHECK_INT(h->hdr_size, 12288);
	CHECK_INT(h->nslots, 48);
	CHECK_INT(h->slot_size, 139264);
	CHECK_U64(h->slots_off, 12288);
	CHECK_INT(h->nsnaps, 1024);
	CHECK_INT(h->snap_size, 65536);
	CHECK_U64(h->snaps_off, 6696960);
	CHECK_U64(h->total_size, 73805824);
	/* the private copy holds the same */
	CHECK_U64(t.lay.hdr_size, 12288);
	CHECK_U64(t.lay.slots_off, 12288);
	CHECK_U64(t.lay.snaps_off, 6696960);
	CHECK_U64(t.lay.total_size, 73805824);
	CHECK_INT(t.lay.nslots, 48);
	CHECK_INT(t.lay.slot_size, 139264);
	CHECK_INT(t.lay.nsnaps, 1024);
	CHECK_INT(t.lay.snap_size, 65536);
	/* the checksum of a fresh header, as format 1 computes it (FNV-1a of the layout bytes and
	 * the INIT record) */
	CHECK(h->sum != 0);
	state_detach(&t);
	close(s.fd);
}

/* The table: the header's table first, at 0; every part of the header inside it and no two
 * overlapping; each section named once. */
static void section_table(void)
{
	CHECK(state_nsections >= 8);
	CHECK(state_sections[0]->table && state_sections[0]->off.hdr_width == 0);
	CHECK(state_sections[0]->entry_size >= sizeof(struct state_hdr));
	char owner[sizeof(struct state_hdr)] = { 0 };
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_section *a = state_sections[i];
		CHECK(a->name && *a->name);
		CHECK(a->at + a->len <= sizeof(struct state_hdr));
		for (uint32_t b = a->at; b < a->at + a->len; b++) {
			if (owner[b])
				fprintf(stderr, "byte %u of the header: sections %d and %u\n", b, owner[b] - 1, i);
			CHECK(!owner[b]);
			owner[b] = (char)(i + 1);
		}
		if (!a->table && a->count > 1)
			CHECK_INT(a->len, (uint64_t)a->count * a->entry_size);
		if (a->table)
			CHECK(a->count > 0 && a->entry_size > 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(a->name, state_sections[j]->name) != 0);
	}
	/* what the keeper and the workers share in the header has an owner */
	CHECK(owner[offsetof(struct state_hdr, generation)]);
	CHECK(owner[offsetof(struct state_hdr, restarts)]);
	CHECK(owner[offsetof(struct state_hdr, sum)]);
	CHECK(owner[offsetof(struct state_hdr, init)]);
	CHECK(owner[offsetof(struct state_hdr, vsize)]);

	/* entries found through the table are the ones the owners' accessors find */
	struct state s, t;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach(&t, s.fd, &why), 0);
	CHECK(state_entry(&t, &state_sec_journal, 5) == (void *)state_slot(&t, 5));
	CHECK(state_entry(&t, &state_sec_snaps, 700) == (void *)state_snap(&t, 700));
	CHECK(state_entry(&t, &state_sec_vsize, 9) == (void *)&t.hdr->vsize[9]);
	CHECK(state_entry(&t, &state_sec_init, 0) == (void *)&t.hdr->init);
	/* a fresh state's entries are all sound */
	for (unsigned i = 0; i < state_nsections; i++) {
		const struct state_section *sec = state_sections[i];
		if (!sec->entry_sound)
			continue;
		for (unsigned e = 0; e < sec->count; e += 97)
			CHECK(sec->entry_sound(state_entry(&t, sec, e), 1));
	}
	state_detach(&t);
	close(s.fd);
}

/* A complete INIT exchange, as a kernel of protocol 7.31 and libfuse would leave it. */
static void record_init(struct state_hdr *h)
{
	struct {
		struct fuse_in_header in;
		struct fuse_init_in arg;
	} req = { { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 2 }, { .major = 7, .minor = 31, .flags = 0x123 } };
	struct {
		struct fuse_out_header out;
		struct fuse_init_out arg;
	} rep = { { .len = sizeof(rep), .unique = 2 }, { .major = 7, .minor = 31, .max_write = 131072 } };
	CHECK(initrec_note_request(&h->init, &req, sizeof(req)));
	struct iovec iov = { &rep, sizeof(rep) };
	CHECK(initrec_note_reply(&h->init, &iov, 1));
	state_seal(h);
}

static void noise(void *p, size_t n, unsigned seed)
{
	unsigned char *c = p;
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		c[i] = (unsigned char)(seed >> 16);
	}
}

/* The keeper's steps: save a sound header, repair a damaged one from that copy. */
static void keeper_repair(void)
{
	struct state s, k;
	const char *why, *damage, *how;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach_header(&k, s.fd, &why), 0);
	static struct state_hdr saved, before;
	memset(&saved, 0x11, sizeof(saved));
	/* no INIT exchange yet: nothing worth a copy */
	CHECK(!state_save_header(&k, &saved));
	CHECK_INT(((unsigned char *)&saved)[100], 0x11);
	record_init(k.hdr);
	k.hdr->generation = 4;
	state_note_death(k.hdr, 9, 1234);
	CHECK_INT(k.hdr->restarts, 1);
	CHECK_INT(k.hdr->last_status, 9);
	CHECK_INT(k.hdr->last_pid, 1234);
	CHECK(k.hdr->last_death > 0);
	/* a header left by a binary before checksums: sealed when saved */
	k.hdr->sum = 0;
	CHECK(state_save_header(&k, &saved));
	CHECK(k.hdr->sum != 0);
	CHECK(memcmp(&saved, k.hdr, sizeof(saved)) == 0);

	/* sound: nothing done */
	before = *k.hdr;
	CHECK_INT(state_repair_header(&k, &saved, 5, &damage, &how), 0);
	CHECK(memcmp(&before, k.hdr, sizeof(before)) == 0);

	/* zeroed start (magic, layout, generation): back from the copy, the generation the keeper's */
	memset(k.hdr, 0, 256);
	CHECK_INT(state_repair_header(&k, &saved, 5, &damage, &how), 1);
	CHECK(damage && strstr(damage, "magic"));
	CHECK_STR(how, "the keeper's copy");
	CHECK_INT(state_check(&k, &why), 0);
	CHECK_U64(k.hdr->generation, 5);
	CHECK(memcmp(&k.hdr->init, &saved.init, sizeof(saved.init)) == 0);
	CHECK_U64(k.hdr->total_size, saved.total_size);

	/* the whole header random: the copy still makes it sound */
	noise(k.hdr, sizeof(*k.hdr), 7);
	CHECK_INT(state_repair_header(&k, &saved, 6, &damage, &how), 1);
	CHECK_INT(state_check(&k, &why), 0);
	CHECK_U64(k.hdr->generation, 6);
	CHECK(memcmp(&k.hdr->init, &saved.init, sizeof(saved.init)) == 0);

	/* a byte of the INIT answer changed under a valid checksum: the sum tells, the copy mends */
	k.hdr->init.rep[10] ^= 0x5a;
	CHECK_INT(state_check(&k, &why), -EINVAL);
	CHECK_STR(why, "state header checksum mismatch");
	CHECK_INT(state_repair_header(&k, &saved, 6, &damage, &how), 1);
	CHECK_INT(k.hdr->init.rep[10], saved.init.rep[10]);

	/* an impossible generation alone: replaced by the keeper's */
	k.hdr->generation = STATE_MAX_GENERATION + 3;
	CHECK_INT(state_repair_header(&k, &saved, 8, &damage, &how), 1);
	CHECK(strstr(damage, "generation"));
	CHECK_U64(k.hdr->generation, 8);

	/* no copy: layout back, the INIT record as found */
	memset(k.hdr, 0, 64);
	CHECK_INT(state_repair_header(&k, NULL, 9, &damage, &how), 1);
	CHECK_STR(how, "this version's layout, the INIT record as found");
	CHECK_INT(state_check(&k, &why), 0);
	/* ... which, when it is garbage, stays damaged: said, not hidden */
	noise(k.hdr, sizeof(*k.hdr), 11);
	k.hdr->init.version = INITREC_VERSION;
	k.hdr->init.req_len = 7;
	CHECK_INT(state_repair_header(&k, NULL, 9, &damage, &how), -EINVAL);
	CHECK_STR(how, "recorded INIT exchange is damaged");

	state_detach(&k);
	close(s.fd);
}

/* A fresh state for a worker that resets the connection: the restart record comes along, from
 * the live header if sound, else from the keeper's copy; nothing else does. */
static void keeper_renew(void)
{
	struct state s, k;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach_header(&k, s.fd, &why), 0);
	record_init(k.hdr);
	k.hdr->generation = 3;
	state_note_death(k.hdr, 11, 77);
	state_note_death(k.hdr, 256, 78);
	int64_t died = k.hdr->last_death;
	int old_fd = k.fd;
	CHECK_INT(state_renew(&k, NULL), 0);
	CHECK(k.fd != old_fd);
	CHECK(fcntl(old_fd, F_GETFD) < 0); /* the old one is closed */
	CHECK_INT(state_check(&k, &why), 0);
	CHECK_INT(k.hdr->restarts, 2);
	CHECK_INT(k.hdr->last_status, 256);
	CHECK_INT(k.hdr->last_pid, 78);
	CHECK_U64((uint64_t)k.hdr->last_death, (uint64_t)died);
	CHECK_U64(k.hdr->generation, 0);
	CHECK_INT(k.hdr->init.req_len, 0);

	/* damaged live header: from the copy */
	static struct state_hdr saved;
	record_init(k.hdr);
	CHECK(state_save_header(&k, &saved));
	state_note_death(k.hdr, 1, 2); /* newer than the copy, but the header will be damaged */
	memset(k.hdr->magic, 0, 8);
	CHECK_INT(state_renew(&k, &saved), 0);
	CHECK_INT(k.hdr->restarts, 2);
	CHECK_INT(k.hdr->last_pid, 78);
	/* damaged, and no copy: the record starts again */
	memset(k.hdr->magic, 0, 8);
	CHECK_INT(state_renew(&k, NULL), 0);
	CHECK_INT(k.hdr->restarts, 0);
	CHECK_INT(k.hdr->last_pid, 0);
	state_detach(&k);
	close(k.fd);

	/* carry copies the restart record and nothing else */
	static struct state_hdr from, to, was;
	memset(&from, 0xee, sizeof(from));
	noise(&to, sizeof(to), 3);
	was = to;
	state_carry(&to, &from);
	CHECK(to.restarts == from.restarts && to.last_status == from.last_status &&
	      to.last_death == from.last_death && to.last_pid == from.last_pid);
	size_t a = offsetof(struct state_hdr, restarts), b = offsetof(struct state_hdr, keeper_pid);
	CHECK(memcmp(&to, &was, a) == 0);
	CHECK(memcmp((char *)&to + b, (char *)&was + b, sizeof(to) - b) == 0);
}

/* The owners' entry checks, as serve.c and openfile.c use them. */
static void entry_checks(void)
{
	static union {
		struct state_slot sl;
		char bytes[sizeof(struct state_slot) + 4096];
	} u;
	struct state_slot *sl = &u.sl;
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_SOUND); /* free */
	sl->state = SLOT_CLAIMED;
	sl->gen = 4;
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_SOUND); /* a predecessor's */
	sl->gen = 5;
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_DAMAGED); /* ours, before we claimed any */
	struct fuse_in_header *in = (void *)sl->data;
	*in = (struct fuse_in_header){ .len = sizeof(*in) + 8, .opcode = FUSE_GETATTR, .unique = 42 };
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_DAMAGED_HELD);
	sl->state = SLOT_CLAIMING;
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_DAMAGED); /* a claim cut short held nothing */
	sl->state = 77;
	CHECK_INT(state_slot_check(sl, 5), STATE_SLOT_DAMAGED_HELD);
	/* the request a slot holds */
	CHECK(state_slot_request(sl, 4096) == in); /* read, not yet published */
	sl->len = in->len;
	CHECK(state_slot_request(sl, 4096) == in);
	CHECK(state_slot_request(sl, 16) == NULL); /* does not fit */
	in->opcode = 0;
	CHECK(state_slot_request(sl, 4096) == NULL);
	in->opcode = FUSE_GETATTR;
	in->len = 9999;
	CHECK(state_slot_request(sl, 65536) == NULL); /* published length disagrees */

	static union {
		struct state_snap sn;
		char bytes[sizeof(struct state_snap) + 256];
	} v;
	struct state_snap *sn = &v.sn;
	memcpy(sn->data, "cpu  1 2 3\n", 11);
	sn->fh = 99;
	sn->len = 11;
	sn->sum = state_snap_sum(99, sn->data, 11);
	CHECK(state_snap_sound(sn, 99, 11));
	CHECK(!state_snap_sound(sn, 98, 11)); /* another open's */
	CHECK(!state_snap_sound(sn, 99, 10));
	CHECK(!state_snap_sound(sn, 99, STATE_SNAP_DATA + 1));
	sn->data[3] ^= 1;
	CHECK(!state_snap_sound(sn, 99, 11));
	CHECK(!state_sec_snaps.entry_sound(sn, 0));
	sn->sum = 0; /* from a binary before sums */
	CHECK(state_snap_sound(sn, 99, 11));

	CHECK(state_vsize_sound(0) && state_vsize_sound(STATE_VSIZE_MAX));
	CHECK(!state_vsize_sound(STATE_VSIZE_MAX + 1));
	uint64_t big = UINT64_C(1) << 62;
	CHECK(!state_sec_vsize.entry_sound(&big, 0));
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
	struct vsize v;
	vsize_init(&v, &t);
	CHECK_U64(vsize_get(&v, INO_PROC_MEMINFO), 4096);
	CHECK_U64(vsize_get(&v, INO_PROC_STAT), 16384); /* a real size is kept: twice 5000, rounded up */
	t.hdr->vsize[INO_PROC_STAT] = UINT64_C(1) << 40; /* damaged while in use */
	CHECK_U64(vsize_get(&v, INO_PROC_STAT), 4096);
	vsize_note(&v, INO_PROC_MEMINFO, 3000);
	CHECK_U64(vsize_get(&v, INO_PROC_MEMINFO), 8192);
	state_detach(&t);
	close(s.fd);
}

/* A standby maps what was written of the header, the journal and each snapshot entry's first
 * page, and only that: a hole read through the mapping would make shmem allocate it (4 KiB a
 * page, up to the whole state), and each page mapped is one more to unmap at its death. */
static void prefault_written_only(void)
{
	struct state s, t;
	const char *why;
	CHECK_INT(state_create(&s), 0);
	CHECK_INT(state_attach(&t, s.fd, &why), 0);
	struct stat before, after;
	CHECK_INT(fstat(s.fd, &before), 0);
	unsigned hdr = state_prefault(&t);
	CHECK(hdr >= 1);
	/* two pages written far apart, as a worker's journal slot and a snapshot entry are */
	char one = 1;
	uint64_t a = (char *)state_slot(&t, 5) - (char *)t.hdr, b = (char *)state_snap(&t, 700) - (char *)t.hdr;
	uint64_t c = (char *)state_snap(&t, 701) - (char *)t.hdr + 4096; /* an entry's second page */
	CHECK_INT(pwrite(s.fd, &one, 1, (off_t)a), 1);
	CHECK_INT(pwrite(s.fd, &one, 1, (off_t)b), 1);
	CHECK_INT(pwrite(s.fd, &one, 1, (off_t)c), 1);
	CHECK_INT(fstat(s.fd, &before), 0);
	CHECK_INT(state_prefault(&t), hdr + 2); /* the journal's page and entry 700's first, not 701's second */
	CHECK_INT(fstat(s.fd, &after), 0);
	CHECK_INT(after.st_blocks, before.st_blocks); /* no hole was filled */
	state_detach(&t);
	close(s.fd);
}

int main(void)
{
	state_checks();
	prefault_written_only();
	layout_pinned();
	section_table();
	keeper_repair();
	keeper_renew();
	entry_checks();
	vsize_damage();
	timeout_warning();
	CHECK_DONE();
}
