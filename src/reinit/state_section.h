/* The state memfd as a table of sections.  Each section is described once, by the module that
 * owns it; state.c lays out, copies, checks, seals, repairs and carries the state by walking
 * the table, so a new section is one descriptor and one line in state.c's table, and no list
 * of fields is written anywhere else.
 *
 * Two kinds of section:
 *   a table after the header (the header itself, the journal, the snapshot entries): `count`
 *     entries of `entry_size` bytes, each table right after the one before it in the table
 *     order; the header records where (`off`), how many (`n`) and how large (`size`), and a
 *     process copies those into its own struct state_layout at attach;
 *   a part of the header (`at`, `len`): the INIT record, the node sizes, the checksum, the
 *     generation, the restart record.
 * The header section also owns the header's first bytes (identity and layout). */
#ifndef LXCFS_STATE_SECTION_H
#define LXCFS_STATE_SECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reinit/state.h"

/* A layout field: where it is in the header and in the private layout, and how wide. */
struct state_field {
	uint16_t hdr, lay;
	uint8_t hdr_width, lay_width; /* 0: the section has no such field */
};
#define STATE_FIELD(f)                                                                                  \
	{ offsetof(struct state_hdr, f), offsetof(struct state_layout, f), sizeof(((struct state_hdr *)0)->f), \
	  sizeof(((struct state_layout *)0)->f) }

/* Pins a field of format 1: a field that moves is a new format version (and a refused takeover),
 * never a silent change. */
#define STATE_PIN(type, f, o, sz)                                                              \
	_Static_assert(offsetof(struct type, f) == (o) && sizeof(((struct type *)0)->f) == (sz), \
		       "state format 1: " #type "." #f " moved")

struct state_section {
	const char *name;
	/* bytes of the header it owns */
	uint32_t at, len;
	/* its entries: inside [at, at + len), or, for a table, after the header */
	uint32_t count, entry_size;
	bool table;
	struct state_field off, n, size; /* a table's: where the header records it */
	bool sealed;  /* [at, at + len) is covered by the header's checksum */
	bool carried; /* [at, at + len) outlives a state: copied into the one that replaces it */
	/* Whether the header holds sound contents for this section: 0, or -errno and why. */
	int (*check)(const struct state_hdr *h, const char **why);
	/* Puts sound contents back into a damaged header (by the keeper while no worker runs):
	 * from the keeper's copy if it has one, the generation its own count. */
	void (*repair)(struct state_hdr *h, const struct state_hdr *saved, uint64_t generation);
	/* Whether entry i is sound; arg is what the owner's check needs (see its header). */
	bool (*entry_sound)(const void *entry, uint64_t arg);
};

/* The sections other modules own (state.c owns the header, the checksum, the generation and
 * the restart record). */
extern const struct state_section state_sec_init;    /* initrec.c */
extern const struct state_section state_sec_journal; /* state_journal.c */
extern const struct state_section state_sec_snaps;   /* state_snaps.c */
extern const struct state_section state_sec_vsize;   /* state_vsize.c */

/* In table order, which is the order of the tables in the memfd and of the checks. */
extern const struct state_section *const state_sections[];
extern const unsigned state_nsections;

/* Entry i of a section, in a mapped state (a table's through the private layout). */
void *state_entry(const struct state *s, const struct state_section *sec, unsigned i);
/* The same entry's len bytes from at, read from the memfd (the keeper maps only the header).
 * true if all were read. */
bool state_entry_read(const struct state *s, const struct state_section *sec, unsigned i, size_t at, void *dst,
		      size_t len);

#endif
