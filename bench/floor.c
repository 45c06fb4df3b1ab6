/* The floor: the least a FUSE server costs per request on this kernel.  A raw server, no libfuse:
 * it opens /dev/fuse, mounts it itself, and answers from one thread in one read() loop with one
 * writev() per reply.  It serves a tree shaped like ours (proc/{meminfo,cpuinfo,stat,uptime,
 * loadavg}, sys/devices/system/cpu/online), each file a constant: the host's text of that name,
 * read once at start, so each file has the size of the host's.  Attributes, timeouts and open
 * flags are our daemon's (src/fs/ops.c), and so are its mount options (src/lib/mount.c, options.c:
 * nosuid, nodev, allow_other, no default_permissions), so the kernel sends it the requests it
 * sends us.
 *
 *   floor [--ro | --ro-sb] [--noatime] [--names] MNT
 *     --ro       mount(2) with MS_RDONLY: a read-only superblock (and mount)
 *     --ro-sb    new mount API: a read-only superblock under a read-write mount
 *     --noatime  MS_NOATIME on the mount
 *     --names    also a file at every name nN under the root (N a number), so that each N is a
 *                name the kernel looks up for the first time (bench/lookup-race)
 * SIGTERM or SIGINT unmounts and exits; so does an unmount from outside. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Ours (src/fs/ops.c ENTRY_TTL, ATTR_TTL): names and attributes valid for one second. */
#define TTL_SEC 1
/* Ours (src/fs/serve.h): 128 KiB reads, request buffers of that plus headers. */
#define MAX_WRITE (128 * 1024)
#define BUF_SIZE (MAX_WRITE + 4096)

struct node {
	uint64_t ino, parent;
	const char *name;
	const char *host; /* the host file whose text it serves; NULL for a directory */
	char *data;
	size_t len;
};

static struct node tree[] = {
	{ 1, 1, "", NULL, NULL, 0 },
	{ 2, 1, "proc", NULL, NULL, 0 },
	{ 3, 1, "sys", NULL, NULL, 0 },
	{ 4, 3, "devices", NULL, NULL, 0 },
	{ 5, 4, "system", NULL, NULL, 0 },
	{ 6, 5, "cpu", NULL, NULL, 0 },
	{ 7, 6, "online", "/sys/devices/system/cpu/online", NULL, 0 },
	{ 8, 2, "meminfo", "/proc/meminfo", NULL, 0 },
	{ 9, 2, "cpuinfo", "/proc/cpuinfo", NULL, 0 },
	{ 10, 2, "stat", "/proc/stat", NULL, 0 },
	{ 11, 2, "uptime", "/proc/uptime", NULL, 0 },
	{ 12, 2, "loadavg", "/proc/loadavg", NULL, 0 },
};
#define NNODES (sizeof(tree) / sizeof(tree[0]))

static int fuse_fd = -1;
static const char *mnt;
static volatile sig_atomic_t stop;
static struct timespec boot;

static struct node *node_of(uint64_t ino)
{
	return ino >= 1 && ino <= NNODES ? &tree[ino - 1] : NULL;
}

static struct node *child(uint64_t parent, const char *name)
{
	for (size_t i = 1; i < NNODES; i++)
		if (tree[i].parent == parent && strcmp(tree[i].name, name) == 0)
			return &tree[i];
	return NULL;
}

static int slurp(struct node *n)
{
	static char tmp[1 << 20];
	int fd = open(n->host, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r;
	size_t len = 0;
	while (len < sizeof(tmp) && (r = read(fd, tmp + len, sizeof(tmp) - len)) > 0)
		len += (size_t)r;
	close(fd);
	n->data = malloc(len ? len : 1);
	memcpy(n->data, tmp, len);
	n->len = len;
	return 0;
}

/* Ours (src/fs/vsize.c): st_size is a power of two, at least 4096 and twice the largest render,
 * so tools that trust st_size read it all. */
static uint64_t vsize(size_t len)
{
	uint64_t s = 4096;
	while (s < 2 * (uint64_t)len)
		s *= 2;
	return s;
}

/* A file of len bytes (file) or a directory, with our daemon's attributes. */
static void attr_set(struct fuse_attr *a, uint64_t ino, int file, size_t len)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	if (file) {
		a->mode = S_IFREG | 0444;
		a->nlink = 1;
		a->size = vsize(len);
	} else {
		a->mode = S_IFDIR | (ino == 1 ? 0755 : 0555);
		a->nlink = 2;
	}
	a->blksize = 4096;
	a->atime = a->mtime = a->ctime = (uint64_t)boot.tv_sec;
}

static void attr_of(const struct node *n, struct fuse_attr *a)
{
	attr_set(a, n->ino, n->host != NULL, n->len);
}

static void reply(uint64_t unique, int err, const void *body, size_t len)
{
	struct fuse_out_header h = { .len = (uint32_t)(sizeof(h) + len), .error = -err, .unique = unique };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)body, len } };
	/* ENOENT: the request was interrupted and is gone; nothing to do about it */
	if (writev(fuse_fd, iov, len ? 2 : 1) < 0 && errno != ENOENT)
		perror("floor: writev");
}

static void do_init(uint64_t u, const struct fuse_init_in *in)
{
	struct fuse_init_out o = {
		.major = FUSE_KERNEL_VERSION,
		.minor = in->minor < FUSE_KERNEL_MINOR_VERSION ? in->minor : FUSE_KERNEL_MINOR_VERSION,
		.max_readahead = 0, /* direct reads only, as ours */
		.flags = FUSE_MAX_PAGES,
		.max_background = 12,
		.congestion_threshold = 9,
		.max_write = MAX_WRITE,
		.time_gran = 1,
		.max_pages = MAX_WRITE / 4096,
	};
	if (in->major != FUSE_KERNEL_VERSION) {
		reply(u, EPROTO, NULL, 0);
		return;
	}
	reply(u, 0, &o, sizeof(o));
}

static int names; /* --names */
#define NAMED_INO 1000000 /* the ids of the files nN: NAMED_INO + N */

static void do_lookup(uint64_t u, uint64_t parent, const char *name)
{
	if (names && parent == 1 && name[0] == 'n' && name[1] >= '0' && name[1] <= '9') {
		struct fuse_entry_out e = { .nodeid = NAMED_INO + strtoull(name + 1, NULL, 10),
					    .entry_valid = TTL_SEC, .attr_valid = TTL_SEC };
		attr_set(&e.attr, e.nodeid, 1, 0);
		reply(u, 0, &e, sizeof(e));
		return;
	}
	struct node *n = node_of(parent) ? child(parent, name) : NULL;
	if (!n) {
		reply(u, ENOENT, NULL, 0);
		return;
	}
	struct fuse_entry_out e = { .nodeid = n->ino, .entry_valid = TTL_SEC, .attr_valid = TTL_SEC };
	attr_of(n, &e.attr);
	reply(u, 0, &e, sizeof(e));
}

static void do_getattr(uint64_t u, uint64_t ino)
{
	if (names && ino >= NAMED_INO) {
		struct fuse_attr_out o = { .attr_valid = TTL_SEC };
		attr_set(&o.attr, ino, 1, 0);
		reply(u, 0, &o, sizeof(o));
		return;
	}
	struct node *n = node_of(ino);
	if (!n) {
		reply(u, ESTALE, NULL, 0);
		return;
	}
	struct fuse_attr_out o = { .attr_valid = TTL_SEC };
	attr_of(n, &o.attr);
	reply(u, 0, &o, sizeof(o));
}

static void do_open(uint64_t u, uint64_t ino, const struct fuse_open_in *in, int dir)
{
	struct node *n = node_of(ino);
	if (!n) {
		reply(u, ESTALE, NULL, 0);
		return;
	}
	if (!dir && !n->host) {
		reply(u, EISDIR, NULL, 0);
		return;
	}
	if (!dir && (in->flags & O_ACCMODE) != O_RDONLY) {
		reply(u, EACCES, NULL, 0);
		return;
	}
	/* Ours: direct reads (content is per reader and per moment), no FLUSH on close. */
	struct fuse_open_out o = { .fh = ino, .open_flags = dir ? 0 : FOPEN_DIRECT_IO | FOPEN_NOFLUSH };
	reply(u, 0, &o, sizeof(o));
}

static void do_read(uint64_t u, uint64_t ino, const struct fuse_read_in *in)
{
	struct node *n = node_of(ino);
	if (!n || !n->host) {
		reply(u, n ? EISDIR : ESTALE, NULL, 0);
		return;
	}
	if (in->offset >= n->len) {
		reply(u, 0, NULL, 0);
		return;
	}
	size_t len = n->len - in->offset;
	reply(u, 0, n->data + in->offset, len < in->size ? len : in->size);
}

/* Directory entries: ".", "..", then the children; the offset of an entry is its index + 1. */
static void do_readdir(uint64_t u, uint64_t ino, const struct fuse_read_in *in)
{
	static char out[BUF_SIZE];
	struct node *d = node_of(ino);
	if (!d || d->host) {
		reply(u, d ? ENOTDIR : ESTALE, NULL, 0);
		return;
	}
	size_t used = 0, size = in->size < sizeof(out) ? in->size : sizeof(out);
	uint64_t idx = 0;
	const struct node *list[NNODES + 2] = { d, node_of(d->parent) };
	const char *names[NNODES + 2] = { ".", ".." };
	size_t count = 2;
	for (size_t i = 1; i < NNODES; i++)
		if (tree[i].parent == d->ino) {
			names[count] = tree[i].name;
			list[count++] = &tree[i];
		}
	for (idx = in->offset; idx < count; idx++) {
		size_t nl = strlen(names[idx]), rec = FUSE_DIRENT_SIZE(&(struct fuse_dirent){ .namelen = (uint32_t)nl });
		if (used + rec > size)
			break;
		struct fuse_dirent *de = (struct fuse_dirent *)(out + used);
		memset(de, 0, rec);
		de->ino = list[idx]->ino;
		de->off = idx + 1;
		de->namelen = (uint32_t)nl;
		de->type = list[idx]->host ? DT_REG : DT_DIR;
		memcpy(de->name, names[idx], nl);
		used += rec;
	}
	reply(u, 0, out, used);
}

static void do_statfs(uint64_t u)
{
	struct fuse_statfs_out o = { .st = { .bsize = 4096, .frsize = 4096, .namelen = 255 } };
	reply(u, 0, &o, sizeof(o));
}

/* One request: FORGETs and INTERRUPTs take no reply, everything not in the table is ENOSYS. */
static void serve(const char *buf)
{
	const struct fuse_in_header *h = (const void *)buf;
	const void *arg = buf + sizeof(*h);
	switch (h->opcode) {
	case FUSE_INIT: do_init(h->unique, arg); break;
	case FUSE_LOOKUP: do_lookup(h->unique, h->nodeid, arg); break;
	case FUSE_GETATTR: do_getattr(h->unique, h->nodeid); break;
	case FUSE_OPEN: do_open(h->unique, h->nodeid, arg, 0); break;
	case FUSE_OPENDIR: do_open(h->unique, h->nodeid, arg, 1); break;
	case FUSE_READ: do_read(h->unique, h->nodeid, arg); break;
	case FUSE_READDIR: do_readdir(h->unique, h->nodeid, arg); break;
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR: reply(h->unique, 0, NULL, 0); break;
	case FUSE_STATFS: do_statfs(h->unique); break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT: break;
	default: reply(h->unique, ENOSYS, NULL, 0); break; /* FLUSH among them: sent no more */
	}
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int mount_old(unsigned long flags, const char *opts)
{
	return mount("floor", mnt, "fuse", flags, opts);
}

/* fsopen/fsmount: the superblock read-only, the mount read-write, which mount(2) cannot make
 * in one step. */
static int mount_ro_sb(int noatime)
{
	char fd[16];
	snprintf(fd, sizeof(fd), "%d", fuse_fd);
	int fs = fsopen("fuse", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -1;
	static const char *const kv[][2] = { { "rootmode", "40000" }, { "user_id", "0" }, { "group_id", "0" },
					     { "source", "floor" } };
	int r = fsconfig(fs, FSCONFIG_SET_STRING, "fd", fd, 0);
	for (size_t i = 0; r == 0 && i < sizeof(kv) / sizeof(kv[0]); i++)
		r = fsconfig(fs, FSCONFIG_SET_STRING, kv[i][0], kv[i][1], 0);
	if (r == 0)
		r = fsconfig(fs, FSCONFIG_SET_FLAG, "allow_other", NULL, 0);
	if (r == 0)
		r = fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0);
	if (r == 0)
		r = fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
	int m = r == 0 ? fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (noatime ? MOUNT_ATTR_NOATIME : 0)) : -1;
	close(fs);
	if (m < 0)
		return -1;
	r = move_mount(m, "", AT_FDCWD, mnt, MOVE_MOUNT_F_EMPTY_PATH);
	close(m);
	return r;
}

int main(int argc, char **argv)
{
	int ro = 0, ro_sb = 0, noatime = 0, i;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--ro") == 0)
			ro = 1;
		else if (strcmp(argv[i], "--ro-sb") == 0)
			ro_sb = 1;
		else if (strcmp(argv[i], "--noatime") == 0)
			noatime = 1;
		else if (strcmp(argv[i], "--names") == 0)
			names = 1;
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: floor [--ro | --ro-sb] [--noatime] [--names] MNT\n");
		return 2;
	}
	mnt = argv[i];
	struct timespec now, up;
	clock_gettime(CLOCK_REALTIME, &now);
	clock_gettime(CLOCK_BOOTTIME, &up);
	boot.tv_sec = now.tv_sec - up.tv_sec;
	for (size_t k = 0; k < NNODES; k++)
		if (tree[k].host && slurp(&tree[k]) < 0) {
			perror(tree[k].host);
			return 1;
		}

	fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fuse_fd < 0) {
		perror("floor: /dev/fuse");
		return 1;
	}
	char opts[256];
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other",
		 fuse_fd);
	unsigned long flags = (ro ? MS_RDONLY : 0) | (noatime ? MS_NOATIME : 0) | MS_NOSUID | MS_NODEV;
	if ((ro_sb ? mount_ro_sb(noatime) : mount_old(flags, opts)) < 0) {
		perror("floor: mount");
		return 1;
	}

	/* No SA_RESTART: a signal ends the blocking read with EINTR. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	static char buf[BUF_SIZE];
	int rc = 0;
	while (!stop) {
		ssize_t n = read(fuse_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
				continue;
			if (errno != ENODEV) { /* ENODEV: unmounted from outside */
				perror("floor: read");
				rc = 1;
			}
			break;
		}
		if ((size_t)n < sizeof(struct fuse_in_header))
			continue;
		serve(buf);
	}
	if (stop && umount2(mnt, UMOUNT_NOFOLLOW) < 0 && umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
		perror("floor: umount");
	return rc;
}
