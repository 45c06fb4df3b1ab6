#include "fs/ops.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cgroup/container.h"
#include "cgroup/cputree.h"
#include "fs/ctx.h"
#include "fs/early.h"
#include "fs/fault.h"
#include "lib/log.h"
#include "fs/openfile.h"
#include "fs/psi.h"
#include "fs/serve.h"
#include "fs/tree.h"
#include "fs/virt.h"
#include "fs/vsize.h"

/* Everything we serve is fixed in shape: the kernel may cache names and attributes. */
#define ENTRY_TTL 1.0
#define ATTR_TTL 1.0

/* Everything a request needs: the context the session was made with (fs/ctx.h). */
static struct lxcfs *ctx_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct openfiles *ctx(fuse_req_t req)
{
	return &ctx_of(req)->open;
}

/* Boot time: a timestamp that stays put across our restarts, so cached attributes stay valid.
 * A constant of the host, computed once per process: not part of the context. */
static struct timespec boot_time(void)
{
	static struct timespec t;
	static int done;
	if (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		struct timespec now, up;
		clock_gettime(CLOCK_REALTIME, &now);
		clock_gettime(CLOCK_BOOTTIME, &up);
		t.tv_sec = now.tv_sec - up.tv_sec;
		__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	}
	return t;
}

static void static_attr(const struct lxcfs *lx, const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	if (n->type == NODE_VFILE) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)vsize_get(&lx->vsize, n->ino);
	} else {
		st->st_mode = S_IFDIR | (n->ino == INO_ROOT ? 0755 : 0555);
		st->st_nlink = 2;
	}
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = boot_time();
}

/* Host attributes of a passthrough node under our id, without write permission: we never pass
 * a write to the host. */
static void host_attr(uint64_t ino, struct stat *st)
{
	st->st_ino = ino;
	st->st_mode &= ~(mode_t)0222;
	st->st_dev = 0;
	st->st_rdev = 0;
}

/* Resolves any id to its attributes; the static table first, then the host cpu tree. */
static int node_attr(fuse_req_t req, uint64_t ino, struct stat *st)
{
	const struct node *n = tree_node(ino);
	if (n) {
		if (!tree_present(n, ctx_of(req)->host))
			return -ENOENT;
		if (n->type == NODE_CPUROOT) {
			int r = cputree_stat(&ctx_of(req)->cputree, ino, st);
			if (r < 0)
				return r;
			host_attr(ino, st);
			return 0;
		}
		static_attr(ctx_of(req), n, st);
		if (n->parent == INO_PROC_PRESSURE && ctx_of(req)->opt->psi_poll)
			st->st_mode |= 0222; /* triggers are written to it, as to the host's (0666) */
		return 0;
	}
	if (!(ino & INO_DYNAMIC_BIT))
		return -ESTALE;
	int r = cputree_stat(&ctx_of(req)->cputree, ino, st);
	if (r == -ENOENT)
		r = -ESTALE; /* a host file that went away (cpu hot-unplug) */
	if (r == 0)
		host_attr(ino, st);
	return r;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* We take no writes; libfuse derives max_pages (the largest READ) from max_write, and the
	 * kernel wants request buffers of max_write plus headers: 128 KiB reads, 132 KiB buffers. */
	conn->max_write = SERVE_MAX_WRITE;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->want &= ~(unsigned)FUSE_CAP_EXPORT_SUPPORT;
	conn->time_gran = 1;
	/* We refuse page-cache reads (see op_read): no point in asking for more of them. */
	conn->max_readahead = 0;
}

/* The container of the caller pid (referenced; NULL for the host) and what renderers need of
 * it. */
static struct container *caller_of(struct lxcfs *ctx, pid_t pid, struct rctx *rc, int *err)
{
	*err = 0;
	/* virtualization off (SIGUSR2): everyone is answered as the host */
	struct container *c = virt_on() ? container_of_pid(&ctx->containers, pid, err) : NULL;
	*rc = (struct rctx){
		.host = ctx->host,
		.opt = ctx->opt,
		.cg = c ? &c->cg : NULL,
		.init_pid = c ? c->init_pid : 0,
		.init_start = c ? c->init_start : 0,
		.files = &ctx->files,
		.loadavg = &ctx->loadavg,
	};
	return c;
}

static struct container *caller(fuse_req_t req, struct rctx *rc, int *err)
{
	return caller_of(ctx_of(req), fuse_req_ctx(req)->pid, rc, err);
}

/* The cpus the caller may see in sys/devices/system/cpu: false for the host (it sees all). */
static bool caller_cpus(fuse_req_t req, struct cpuset *set)
{
	int err;
	struct rctx rc;
	struct container *c = caller(req, &rc, &err);
	if (!c)
		return false; /* the host, or a caller that vanished: nothing to filter for it */
	bool ok = container_cpus(&rc, set) == 0;
	container_put(c);
	return ok;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .attr_timeout = ATTR_TTL, .entry_timeout = ENTRY_TTL };
	if (!tree_name_ok(name) || fault_hidden(name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	const struct node *pn = tree_node(parent);
	const struct node *n = pn ? tree_child(parent, name) : NULL;
	int r;
	if (n) {
		r = node_attr(req, n->ino, &e.attr);
		e.ino = n->ino;
	} else if ((pn && pn->type == NODE_CPUROOT) || (!pn && (parent & INO_DYNAMIC_BIT))) {
		uint64_t ino;
		unsigned cpu;
		struct cpuset mine;
		bool cpudir = pn && tree_cpu_dir(name, &cpu);
		if (cpudir) {
			/* A container sees the directories of its own cpus only.  The dentry is
			 * shared by every caller of the mount: it is looked up again each time. */
			e.entry_timeout = 0;
		}
		if (cpudir && caller_cpus(req, &mine) && !cpuset_has(&mine, cpu)) {
			r = -ENOENT;
		} else {
			r = cputree_lookup(&ctx_of(req)->cputree, parent, name, &ino, &e.attr);
			if (r == 0) {
				host_attr(ino, &e.attr);
				e.ino = ino;
			}
		}
	} else {
		r = pn ? -ENOENT : -ESTALE;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Ids are functions of paths, nothing is counted: nothing to forget. */
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int r = node_attr(req, ino, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, ATTR_TTL);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char target[4096];
	int r = (ino & INO_DYNAMIC_BIT) ? cputree_readlink(&ctx_of(req)->cputree, ino, target, sizeof(target)) : -EINVAL;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, target);
}

/* Refuses what a read-only tree cannot do; container root included. */
static void deny(fuse_req_t req)
{
	fuse_reply_err(req, EACCES);
}

/* A pressure file of ours that takes PSI triggers (--enable-psi-poll): its resource name. */
static const char *psi_file(fuse_req_t req, fuse_ino_t ino)
{
	const struct node *n = tree_node(ino);
	return n && n->parent == INO_PROC_PRESSURE && ctx_of(req)->opt->psi_poll ? n->name : NULL;
}

static void reply_slice(fuse_req_t req, const struct buf *content, size_t size, off_t off)
{
	if (off < 0 || (size_t)off >= content->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t n = content->len - (size_t)off;
	fuse_reply_buf(req, content->data + off, n < size ? n : size);
}

static int render_for(struct lxcfs *lx, pid_t pid, const struct node *n, struct buf *out)
{
	int err;
	struct rctx rc;
	struct container *c = caller_of(lx, pid, &rc, &err);
	if (err < 0)
		return err == -ESRCH ? -EIO : err;
	fault_render(n->name);
	int r = n->render(&rc, out);
	container_put(c);
	if (r < 0 || out->oom) {
		log_debug("rendering %s failed: %s", n->name, strerror(r < 0 ? -r : ENOMEM));
		return r < 0 ? r : -ENOMEM;
	}
	vsize_note(&lx->vsize, n->ino, out->len);
	return 0;
}

/* The answer to a READ at offset off from a render whose result was r. */
static void reply_render(fuse_req_t req, int r, const struct buf *content, size_t size, off_t off)
{
	if (r < 0)
		fuse_reply_err(req, r == -ENOMEM ? ENOMEM : EIO);
	else
		reply_slice(req, content, size, off);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (((fi->flags & O_ACCMODE) != O_RDONLY && !psi_file(req, ino)) || (fi->flags & O_TRUNC)) {
		deny(req);
		return;
	}
	struct stat st;
	int r = node_attr(req, ino, &st);
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		fuse_reply_err(req, ELOOP);
		return;
	}
	/* Host files keep their permissions (cpufreq has root-only files). */
	const struct fuse_ctx *fc = fuse_req_ctx(req);
	if (fc->uid != 0 && !(st.st_mode & S_IROTH) &&
	    !((st.st_mode & S_IRUSR) && fc->uid == st.st_uid) && !((st.st_mode & S_IRGRP) && fc->gid == st.st_gid)) {
		deny(req);
		return;
	}
	/* Content differs per reader and per moment: never let the page cache share it. */
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->noflush = 1;
	struct lxcfs *lx = ctx_of(req); /* (the reply frees req) */
	const struct node *n = tree_node(ino);
	pid_t pid = fc->pid;
	fi->fh = fh_make(&lx->open, n ? FH_VFILE : FH_HOSTFILE);
	/* Claimed before the reply: the READ may reach another thread as soon as it is sent.  Not
	 * for a dead worker's OPEN answered again: the dead most likely answered it (its thread went
	 * on to render), and the kernel's READ then names the dead's handle, not this one. */
	bool early = n && n->type == NODE_VFILE && (fi->flags & O_ACCMODE) == O_RDONLY && !serve_replaying() &&
		     early_claim(&lx->early, &lx->open, fi->fh, pid);
	r = fuse_reply_open(req, fi);
	if (r == -ENOENT)
		openfile_forget(&lx->open, fi->fh); /* interrupted open: no release will come */
	if (early) {
		/* The reader is on its way to the READ meanwhile (fs/early.h). */
		struct buf out = BUF_INIT;
		struct early_reader rd;
		serve_rendering_for(fi->fh); /* a death in the render is one of the READ's */
		if (r == 0)
			r = render_for(lx, pid, n, &out);
		serve_rendering_for(0);
		if (early_done(&lx->early, &lx->open, fi->fh, &out, r, &rd)) {
			reply_render(rd.req, r, &out, rd.size, 0);
			serve_answered(rd.slot);
		}
		buf_free(&out);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	/* Direct reads carry the reader's lock owner; a read without one fills the kernel's page
	 * cache, which every reader of the inode shares (sendfile and splice go there on 6.5+
	 * kernels without the fix for FOPEN_DIRECT_IO splice, and mmap).  Per-container content
	 * must never land there: refuse, and sendfile users fall back to read(). */
	if (fi->lock_owner == 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	struct buf out = BUF_INIT;
	const struct node *n = tree_node(ino);
	if (!n || n->type != NODE_VFILE) {
		int r = cputree_read(&ctx_of(req)->cputree, ino, off, size, &out);
		if (r < 0)
			fuse_reply_err(req, r == -ENOENT ? ENODEV : -r);
		else
			fuse_reply_buf(req, out.data, out.len);
		buf_free(&out);
		return;
	}
	/* Offset 0 renders afresh, unless the open rendered early for this very read; later
	 * offsets read what this open rendered. */
	pid_t pid = fuse_req_ctx(req)->pid;
	enum early_verdict early = early_take(&ctx_of(req)->early, ctx(req), fi->fh, pid, off, req, size);
	if (early == EARLY_HANDED)
		return;
	if ((off > 0 || early == EARLY_SERVE) && openfile_slice(ctx(req), fi->fh, off, size, &out)) {
		fuse_reply_buf(req, out.data, out.len);
		buf_free(&out);
		return;
	}
	int r = render_for(ctx_of(req), pid, n, &out);
	/* Kept before the reply: once the kernel has it, this handle's next READ (which must
	 * continue this render) or its RELEASE (which must find it to free it) can reach
	 * another thread at once. */
	if (r == 0)
		openfile_keep(ctx(req), fi->fh, &out);
	reply_render(req, r, &out, size, off);
	buf_free(&out);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (psi_file(req, ino))
		psi_release(&ctx_of(req)->psi, fi->fh);
	early_release(&ctx_of(req)->early, fi->fh);
	openfile_forget(ctx(req), fi->fh);
	fuse_reply_err(req, 0);
}

/* Only triggers are written, and only to pressure files opened for it (op_open). */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	const char *res = psi_file(req, ino);
	if (!res) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	int err;
	struct rctx rc;
	struct container *c = caller(req, &rc, &err);
	long r = err < 0 ? (err == -ESRCH ? -EIO : err) : psi_write(&ctx_of(req)->psi, fi->fh, res, &rc, buf, size, (long)off);
	container_put(c);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_write(req, (size_t)r);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	/* The kernel's handle is in the request itself: we notify it ourselves, also from a
	 * watcher thread, so libfuse's copy is not kept. */
	if (ph)
		fuse_pollhandle_destroy(ph);
	unsigned revents = POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM;
	const struct fuse_in_header *in = serve_current_request();
	if (psi_file(req, ino) && in && in->opcode == FUSE_POLL && in->len >= sizeof(*in) + sizeof(struct fuse_poll_in)) {
		const struct fuse_poll_in *arg = (const void *)(in + 1);
		revents = psi_poll(&ctx_of(req)->psi, fi->fh, arg->kh, (arg->flags & FUSE_POLL_SCHEDULE_NOTIFY) != 0);
	}
	fuse_reply_poll(req, revents);
}

struct dirlist {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	off_t want, idx;
	bool full;
	bool cpuroot;         /* host entries of the cpu root: virtual ones replace them */
	bool filter;          /* and only the caller's cpus' directories are listed */
	struct cpuset cpus;
};

static bool dir_add(void *arg, const char *name, uint64_t ino, mode_t type)
{
	struct dirlist *d = arg;
	unsigned cpu;
	if (d->cpuroot && (tree_child(INO_SYS_CPU, name) ||
			   (d->filter && tree_cpu_dir(name, &cpu) && !cpuset_has(&d->cpus, cpu))))
		return true;
	d->idx++;
	if (d->idx <= d->want)
		return true;
	struct stat st = { .st_ino = ino, .st_mode = type };
	size_t n = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used, name, &st, d->idx);
	if (n > d->size - d->used) {
		d->full = true;
		return false;
	}
	d->used += n;
	return true;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	int r = node_attr(req, ino, &st);
	if (r == 0 && !S_ISDIR(st.st_mode))
		r = -ENOTDIR;
	if (r < 0) {
		fuse_reply_err(req, -r);
		return;
	}
	struct dirlist d = { .req = req, .size = size, .want = off };
	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	const struct node *dn = tree_node(ino);
	uint64_t parent = dn ? dn->parent : ino; /* ".." of a host dir: its id is not needed */
	dir_add(&d, ".", ino, S_IFDIR);
	dir_add(&d, "..", parent, S_IFDIR);
	if (dn) {
		unsigned pos = 0;
		const struct node *c;
		while (!d.full && (c = tree_next_child(ino, &pos)) != NULL) {
			if (tree_present(c, ctx_of(req)->host))
				dir_add(&d, c->name, c->ino, c->type == NODE_VFILE ? S_IFREG : S_IFDIR);
		}
	}
	if (!d.full && (!dn || dn->type == NODE_CPUROOT)) {
		if (dn) {
			d.cpuroot = true;
			d.filter = caller_cpus(req, &d.cpus);
		}
		cputree_list(&ctx_of(req)->cputree, ino, dir_add, &d);
	}
	fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_deny_entry(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	deny(req);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)mode;
	op_deny_entry(req, parent, name);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	op_deny_entry(req, parent, name);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	op_deny_entry(req, parent, name);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	(void)ino;
	(void)attr;
	(void)to_set;
	(void)fi;
	deny(req);
}

#define LXCFS_OPS                                                                             \
	.init = op_init, .lookup = op_lookup, .forget = op_forget, .forget_multi = op_forget_multi, \
	.getattr = op_getattr, .setattr = op_setattr, .readlink = op_readlink, .mknod = op_mknod,   \
	.mkdir = op_mkdir, .unlink = op_deny_entry, .rmdir = op_deny_entry, .create = op_create,    \
	.open = op_open, .read = op_read, .release = op_release, .readdir = op_readdir

const struct fuse_lowlevel_ops lxcfs_ops = { LXCFS_OPS };

/* With --enable-psi-poll, as upstream HEAD does: without it the kernel is not even offered
 * poll (it answers poll itself, at no cost to us) and nothing is written. */
const struct fuse_lowlevel_ops lxcfs_ops_psi = {
	LXCFS_OPS,
	.write = op_write,
	.poll = op_poll,
};
