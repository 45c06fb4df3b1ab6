#include "reinit/psistore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t store_size(void)
{
	return sizeof(struct psistore_hdr) + (size_t)PSISTORE_ENTRIES * sizeof(struct psistore_entry);
}

static void init_header(struct psistore_hdr *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, PSISTORE_MAGIC, sizeof(h->magic));
	h->version = PSISTORE_VERSION;
	h->nentries = PSISTORE_ENTRIES;
	h->entry_size = sizeof(struct psistore_entry);
}

int psistore_create(void)
{
	int fd = memfd_create("lxcfs-psi", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	struct psistore_hdr h;
	init_header(&h);
	if (ftruncate(fd, (off_t)store_size()) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    pwrite(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int psistore_attach(struct psistore *s, int fd)
{
	struct stat st;
	s->hdr = NULL;
	s->e = NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size != store_size())
		return -EINVAL;
	void *p = mmap(NULL, store_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	s->hdr = p;
	s->e = (struct psistore_entry *)(s->hdr + 1);
	struct psistore_hdr want;
	init_header(&want);
	if (memcmp(s->hdr, &want, sizeof(want)) != 0) {
		memset(p, 0, store_size());
		*s->hdr = want;
	}
	return 0;
}

int psistore_fd_from_env(void)
{
	const char *v = getenv("LXCFS_PSI_FD");
	char *end;
	long fd = v ? strtol(v, &end, 10) : -1;
	if (!v || *end || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
		return -1;
	return (int)fd;
}
