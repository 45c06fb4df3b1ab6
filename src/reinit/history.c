#include "reinit/history.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t history_size(void)
{
	return sizeof(struct history_hdr) + (size_t)HISTORY_ENTRIES * sizeof(struct history_entry);
}

static void init_header(struct history_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, HISTORY_MAGIC, sizeof(h->magic));
	h->version = HISTORY_VERSION;
	h->nentries = HISTORY_ENTRIES;
	h->entry_size = sizeof(struct history_entry);
}

int history_create(void)
{
	int fd = memfd_create("lxcfs-history", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	struct history_hdr h;
	init_header(&h);
	if (ftruncate(fd, (off_t)history_size()) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int history_attach(struct history *h, int fd, const char **why)
{
	struct stat st;
	*why = NULL;
	h->hdr = NULL;
	h->e = NULL;
	h->fd = fd;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size != history_size()) {
		*why = "the history has another size";
		return -EINVAL; /* sealed to its size: we cannot fix it, a private table serves */
	}
	void *p = mmap(NULL, history_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h->hdr = p;
	h->e = (struct history_entry *)(h->hdr + 1);
	struct history_hdr want;
	init_header(&want);
	if (memcmp(h->hdr, &want, sizeof(want)) != 0) {
		*why = "the history has another format or is damaged: the averages start again";
		memset(p, 0, history_size());
		*h->hdr = want;
	}
	return 0;
}

void history_detach(struct history *h)
{
	if (h->hdr)
		munmap(h->hdr, history_size());
	h->hdr = NULL;
	h->e = NULL;
}

int history_fd_from_env(void)
{
	const char *v = getenv("LXCFS_HISTORY_FD");
	char *end;
	long fd = v ? strtol(v, &end, 10) : -1;
	if (!v || *end || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}
