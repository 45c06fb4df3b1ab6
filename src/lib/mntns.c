#include "lib/mntns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"

/* The kernel's interface, named here (Debian 12's headers predate it; later glibc's may define
 * the same structures, hence names of our own).  Numbers are the unified syscall table's. */
#ifndef __NR_statmount
#define __NR_statmount 457
#endif
#ifndef __NR_listmount
#define __NR_listmount 458
#endif

struct lx_mnt_ns_info {
	uint32_t size;
	uint32_t nr_mounts;
	uint64_t mnt_ns_id;
};
#define LX_NS_MNT_GET_INFO _IOR(0xb7, 10, struct lx_mnt_ns_info)
#define LX_NS_MNT_GET_NEXT _IOR(0xb7, 11, struct lx_mnt_ns_info)
#define LX_NS_MNT_GET_PREV _IOR(0xb7, 12, struct lx_mnt_ns_info)

struct lx_mnt_id_req {
	uint32_t size, spare;
	uint64_t mnt_id;
	uint64_t param; /* statmount: the fields wanted; listmount: the last id listed */
	uint64_t mnt_ns_id;
};

/* The fixed part of struct statmount, as far as read here; its strings start at STR_AT in every
 * version (the spare words shrink as fields come). */
struct lx_statmount {
	uint32_t size, mnt_opts;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags, fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root, mnt_point;
	uint64_t mnt_ns_id;
	uint32_t fs_subtype, sb_source;
};
#define STR_AT 512
/* Room for the strings asked for in most cases (root, mount point, source are each a path); a
 * mount whose strings do not fit (a mount point deeper than PATH_MAX) is read again in a buffer
 * twice as big, up to SM_MAX. */
#define SM_BUF (STR_AT + 3 * PATH_MAX + 512)
#define SM_MAX (1 << 20)

enum {
	SM_SB_BASIC = 0x1,
	SM_MNT_BASIC = 0x2,
	SM_MNT_ROOT = 0x8,
	SM_MNT_POINT = 0x10,
	SM_FS_TYPE = 0x20,
	SM_FS_SUBTYPE = 0x100,
	SM_SB_SOURCE = 0x200,
};
#define LX_LSMT_ROOT 0xffffffffffffffffULL

static int ns_fill(struct mntns *ns)
{
	struct lx_mnt_ns_info info = { .size = sizeof(info) };
	struct stat st;
	if (ioctl(ns->fd, LX_NS_MNT_GET_INFO, &info) < 0 || fstat(ns->fd, &st) < 0)
		return -errno;
	ns->id = info.mnt_ns_id;
	ns->ino = st.st_ino;
	return 0;
}

/* The namespace before or after *ns in its place: 0, or -errno with *ns as it was. */
static int ns_step(struct mntns *ns, unsigned long op)
{
	struct lx_mnt_ns_info info = { .size = sizeof(info) };
	int fd = ioctl(ns->fd, op, &info);
	if (fd < 0)
		return -errno;
	struct mntns next = { .fd = fd };
	int r = ns_fill(&next);
	if (r < 0) {
		close(fd);
		return r;
	}
	close(ns->fd);
	*ns = next;
	return 0;
}

int mntns_self(struct mntns *ns)
{
	ns->fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns->fd < 0)
		return -errno;
	int r = ns_fill(ns);
	if (r < 0)
		mntns_close(ns);
	return r;
}

int mntns_first(struct mntns *ns)
{
	/* (the list is in the order the namespaces were made: ours need not be the first) */
	int r = mntns_self(ns);
	if (r < 0)
		return r;
	while (r == 0)
		r = ns_step(ns, LX_NS_MNT_GET_PREV);
	if (r == -ENOENT)
		return 0;
	mntns_close(ns);
	return r;
}

int mntns_next(struct mntns *ns)
{
	return ns_step(ns, LX_NS_MNT_GET_NEXT);
}

void mntns_close(struct mntns *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

static long statmount_of(uint64_t ns_id, uint64_t mnt_id, uint64_t mask, struct lx_statmount *sm, size_t size)
{
	struct lx_mnt_id_req req = { .size = sizeof(req), .mnt_id = mnt_id, .param = mask, .mnt_ns_id = ns_id };
	return syscall(__NR_statmount, &req, sm, size, 0);
}

/* The statmount of mount mnt_id with the strings in mask, into *buf (grown as they need, *size
 * with it).  0 or -errno. */
static int statmount_whole(uint64_t ns_id, uint64_t mnt_id, uint64_t mask, char **buf, size_t *size)
{
	for (;;) {
		if (statmount_of(ns_id, mnt_id, mask, (struct lx_statmount *)(void *)*buf, *size) == 0)
			return 0;
		if (errno != EOVERFLOW || *size >= SM_MAX)
			return -errno;
		char *grown = realloc(*buf, 2 * *size);
		if (!grown)
			return -ENOMEM;
		*buf = grown;
		*size *= 2;
	}
}

/* A string of the statmount in buf at offset off, if the kernel gave it (bit in its mask). */
static const char *sm_str(const char *buf, const struct lx_statmount *sm, uint64_t bit, uint32_t off)
{
	return (sm->mask & bit) && STR_AT + (size_t)off < sm->size ? buf + STR_AT + off : "";
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

struct link {
	uint64_t id, parent;
};

/* What shows at "/": the mount whose parent is not listed (listmount leaves out the namespace's
 * own root, the hidden one beneath).  One stacked over it is missed: this only names a namespace.
 * 0 if none is. */
static uint64_t top_of(const struct link *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool listed = false;
		for (size_t j = 0; j < n && !listed; j++)
			listed = l[j].id == l[i].parent;
		if (!listed)
			return l[i].id;
	}
	return 0;
}

int mntns_each_of(uint64_t id, uint64_t magic, bool (*fn)(const struct mntent_info *m, void *arg), void *arg,
		  uint64_t *top_id)
{
	uint64_t ids[256], last = 0;
	struct link *links = NULL;
	size_t nlinks = 0, cap = 0;
	size_t size = SM_BUF;
	char *buf = malloc(size);
	struct mntent_info *m = malloc(sizeof(*m));
	int r = 0;
	if (!buf || !m) {
		r = -ENOMEM;
		goto out;
	}
	struct lx_statmount *sm = (struct lx_statmount *)(void *)buf;
	for (bool more = true; more;) {
		struct lx_mnt_id_req req = { .size = sizeof(req), .mnt_id = LX_LSMT_ROOT, .param = last, .mnt_ns_id = id };
		long n = syscall(__NR_listmount, &req, ids, sizeof(ids) / sizeof(ids[0]), 0);
		if (n < 0) {
			r = -errno;
			goto out;
		}
		more = n == (long)(sizeof(ids) / sizeof(ids[0]));
		for (long i = 0; i < n; i++) {
			last = ids[i];
			/* the type first, without a string: one of the type asked is read whole */
			if (statmount_of(id, ids[i], SM_SB_BASIC | SM_MNT_BASIC, sm, STR_AT) < 0)
				continue; /* gone meanwhile */
			if (top_id && nlinks == cap) {
				struct link *grown = reallocarray(links, cap ? 2 * cap : 64, sizeof(*links));
				if (grown) {
					links = grown;
					cap = cap ? 2 * cap : 64;
				}
			}
			if (top_id && nlinks < cap)
				links[nlinks++] = (struct link){ sm->mnt_id, sm->mnt_parent_id };
			if (sm->sb_magic != magic)
				continue;
			int e = statmount_whole(id, ids[i], SM_SB_BASIC | SM_MNT_BASIC | SM_MNT_ROOT | SM_MNT_POINT |
						SM_FS_TYPE | SM_FS_SUBTYPE | SM_SB_SOURCE, &buf, &size);
			sm = (struct lx_statmount *)(void *)buf;
			if (e == -ENOENT)
				continue; /* gone meanwhile */
			if (e < 0) {
				log_warn("mount %llu of mount namespace %llu cannot be read: %s; it is passed over",
					 (unsigned long long)ids[i], (unsigned long long)id, strerror(-e));
				continue;
			}
			*m = (struct mntent_info){ .id = (int)sm->mnt_id_old, .parent = (int)sm->mnt_parent_id_old,
						   .major = sm->sb_dev_major, .minor = sm->sb_dev_minor };
			const char *sub = sm_str(buf, sm, SM_FS_SUBTYPE, sm->fs_subtype);
			snprintf(m->fstype, sizeof(m->fstype), "%s%s%s", sm_str(buf, sm, SM_FS_TYPE, sm->fs_type),
				 *sub ? "." : "", sub);
			copy_str(m->root, sizeof(m->root), sm_str(buf, sm, SM_MNT_ROOT, sm->mnt_root));
			copy_str(m->mountpoint, sizeof(m->mountpoint), sm_str(buf, sm, SM_MNT_POINT, sm->mnt_point));
			copy_str(m->source, sizeof(m->source), sm_str(buf, sm, SM_SB_SOURCE, sm->sb_source));
			if (!fn(m, arg)) {
				more = false;
				break;
			}
		}
	}
	if (top_id)
		*top_id = top_of(links, nlinks);
out:
	free(links);
	free(m);
	free(buf);
	return r;
}

int mntns_root_of(uint64_t id, uint64_t root_id, char *source, size_t ssize, char *root, size_t rsize)
{
	size_t size = SM_BUF;
	char *buf = malloc(size);
	if (!buf)
		return -ENOMEM;
	int r = statmount_whole(id, root_id, SM_MNT_ROOT | SM_SB_SOURCE, &buf, &size);
	struct lx_statmount *sm = (struct lx_statmount *)(void *)buf;
	if (r == 0) {
		copy_str(source, ssize, sm_str(buf, sm, SM_SB_SOURCE, sm->sb_source));
		copy_str(root, rsize, sm_str(buf, sm, SM_MNT_ROOT, sm->mnt_root));
	}
	free(buf);
	return r;
}
