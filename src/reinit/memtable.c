#include "reinit/memtable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

size_t memtable_size(const struct memtable_kind *k)
{
	return sizeof(struct memtable_hdr) + (size_t)k->nentries * k->entry_size;
}

static void init_header(const struct memtable_kind *k, struct memtable_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, k->magic, sizeof(h->magic));
	h->version = k->version;
	h->nentries = k->nentries;
	h->entry_size = k->entry_size;
}

int memtable_create(const struct memtable_kind *k)
{
	int fd = memfd_create(k->name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	struct memtable_hdr h;
	init_header(k, &h);
	if (ftruncate(fd, (off_t)memtable_size(k)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int memtable_attach(const struct memtable_kind *k, int fd, struct memtable_hdr **hdr, bool *reset)
{
	struct stat st;
	*hdr = NULL;
	*reset = false;
	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size != memtable_size(k))
		return -EINVAL;
	void *p = mmap(NULL, memtable_size(k), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*hdr = p;
	struct memtable_hdr want;
	init_header(k, &want);
	if (memcmp(*hdr, &want, sizeof(want)) != 0) {
		memset(p, 0, memtable_size(k));
		**hdr = want;
		*reset = true;
	}
	return 0;
}

void memtable_detach(const struct memtable_kind *k, struct memtable_hdr **hdr)
{
	if (*hdr)
		munmap(*hdr, memtable_size(k));
	*hdr = NULL;
}

int memtable_fd_from_env(const char *var)
{
	const char *v = getenv(var);
	char *end;
	long fd = v ? strtol(v, &end, 10) : -1;
	if (!v || *end || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}
