#include "reinit/psistore.h"

#include "reinit/proto.h"

static const struct memtable_kind kind = {
	.name = MEMFD_PSI,
	.magic = PSISTORE_MAGIC,
	.version = PSISTORE_VERSION,
	.nentries = PSISTORE_ENTRIES,
	.entry_size = sizeof(struct psistore_entry),
};

int psistore_create(void)
{
	return memtable_create(&kind);
}

int psistore_attach(struct psistore *s, int fd)
{
	bool reset; /* the triggers armed before are forgotten: nothing to tell */
	s->e = NULL;
	int r = memtable_attach(&kind, fd, &s->hdr, &reset);
	if (r < 0)
		return r;
	s->e = (struct psistore_entry *)(s->hdr + 1);
	return 0;
}

int psistore_fd_from_env(void)
{
	return memtable_fd_from_env("LXCFS_PSI_FD");
}
