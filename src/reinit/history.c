#include "reinit/history.h"

#include <errno.h>

#include "reinit/proto.h"

static const struct memtable_kind kind = {
	.name = MEMFD_HISTORY,
	.magic = HISTORY_MAGIC,
	.version = HISTORY_VERSION,
	.nentries = HISTORY_ENTRIES,
	.entry_size = sizeof(struct history_entry),
};

int history_create(void)
{
	return memtable_create(&kind);
}

int history_attach(struct history *h, int fd, const char **why)
{
	bool reset;
	*why = NULL;
	h->e = NULL;
	h->fd = fd;
	int r = memtable_attach(&kind, fd, &h->hdr, &reset);
	if (r == -EINVAL)
		*why = "the history has another size"; /* a private table serves */
	if (r < 0)
		return r;
	h->e = (struct history_entry *)(h->hdr + 1);
	if (reset)
		*why = "the history has another format or is damaged: the averages start again";
	return 0;
}

void history_detach(struct history *h)
{
	memtable_detach(&kind, &h->hdr);
	h->e = NULL;
}

int history_fd_from_env(void)
{
	return memtable_fd_from_env("LXCFS_HISTORY_FD");
}
