/* The history memfd a worker inherits (load averages, -l): history_attach on a memfd made from
 * the input (edits of fuzz_patch.h over the whole table), then what the worker does with it:
 * adopt the tracked entries, answer a read, run the engine's pass.  Entries naming a directory
 * outside the fixture copy are pointed into it first: the pass walks the directories it is
 * given, and this target must not walk the host's. */
#include <sys/mman.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "fuzz_patch.h"
#include "cgroup/loadavg.h"
#include "reinit/history.h"

static struct loadavg la;

static int fd = -1;
static uint8_t *pristine, *region;
static size_t rsize;
static char root[300], proc[400], cgdir[400];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(root, sizeof(root), "%s", fz_fixture_copy());
	snprintf(proc, sizeof(proc), "%s/host/proc", root);
	snprintf(cgdir, sizeof(cgdir), "%s/v2/lxc/c1", root);
	fd = history_create();
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		abort();
	rsize = (size_t)st.st_size;
	pristine = calloc(1, rsize);
	region = mmap(NULL, rsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!pristine || region == MAP_FAILED)
		abort();
	memcpy(pristine, region, rsize);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!fz_patch(region, pristine, rsize, data, size))
		return 0;
	struct history_entry *e = (struct history_entry *)(region + sizeof(struct memtable_hdr));
	for (unsigned i = 0; i < HISTORY_ENTRIES; i++)
		if (strncmp(e[i].dir, root, strlen(root)) != 0 || memmem(e[i].dir, sizeof(e[i].dir), "..", 2))
			memcpy(e[i].dir, cgdir, strlen(cgdir)); /* (the rest of the field as fuzzed) */
	if (loadavg_init(&la, proc, NULL, fd) < 0)
		abort();
	struct loadavg_val v;
	loadavg_get(&la, cgdir, true, &v);
	loadavg_tick(&la, 1000ull * 1000 * 1000);
	loadavg_get(&la, cgdir, true, &v);
	loadavg_fini(&la);
	return 0;
}
