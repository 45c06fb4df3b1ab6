#include "fs/ctx.h"

#include <stdio.h>
#include <sys/resource.h>

#include "cgroup/container.h"
#include "cgroup/cputree.h"
#include "cgroup/fdcache.h"
#include "cgroup/loadavg.h"
#include "fs/openfile.h"
#include "fs/ops.h"
#include "fs/psi.h"
#include "fs/tree.h"
#include "fs/vsize.h"
#include "lib/log.h"
#include "version.h"

const struct hostroot lxcfs_host = { .proc = "/proc", .cpu = "/sys/devices/system/cpu" };

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* What the caches may hold open, from the fd limit: the kept cgroup and proc files, and one
 * namespace fd per cached container.  The rest is kept back for what is not a cache (the fuse
 * and state fds, libfuse, BPF maps and links, helper pipes, the opens of uncached reads). */
static void cache_budgets(unsigned *files, unsigned *containers)
{
	struct rlimit rl;
	unsigned long lim = 16384;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < lim)
		lim = (unsigned long)rl.rlim_cur;
	unsigned long spare = lim > 256 ? lim - 128 : lim / 2;
	*containers = (unsigned)(spare / 4 < 16 ? 16 : spare / 4 > 4096 ? 4096 : spare / 4);
	unsigned long f = spare > *containers ? spare - *containers : 64;
	*files = (unsigned)(f < 64 ? 64 : f > 4096 ? 4096 : f);
	if (lim < 16384)
		log_info("fd limit %lu: at most %u cgroup and proc files and %u containers cached", lim, *files,
			 *containers);
}

int lxcfs_session(struct lxcfs *lx)
{
	char *fargv[] = { "lxcfs", lx->opt->debug ? "-d" : NULL, NULL };
	struct fuse_args fargs = FUSE_ARGS_INIT(lx->opt->debug ? 2 : 1, fargv);
	const struct fuse_lowlevel_ops *ops = lx->opt->psi_poll ? &lxcfs_ops_psi : &lxcfs_ops;
	lx->se = fuse_session_new(&fargs, ops, sizeof(*ops), lx);
	fuse_opt_free_args(&fargs);
	if (!lx->se) {
		log_error("cannot create the fuse session");
		return -1;
	}
	return 0;
}

int lxcfs_prepare(struct lxcfs *lx, const struct options *opt, struct state *st, uint64_t gen, bool quiet)
{
	*lx = (struct lxcfs){ .opt = opt, .host = &lxcfs_host, .st = st, .gen = gen };
	raise_nofile();
	if (cg_layout_discover(&lx->layout) < 0)
		log_warn("cannot read the cgroup layout; every file shows host values");
	for (int c = 0; c < CG_N && !quiet; c++) {
		const struct cg_hier *h = &lx->layout.ctrl[c];
		log_info("cgroup %s: %s%s", cg_ctrl_name(c), h->mnt ? (h->v2 ? "v2 at " : "v1 at ") : "",
			 h->mnt ? h->mnt : "not available, host values shown");
	}
	if (containers_init(&lx->containers, &lx->layout, &lx->files) < 0) {
		log_error("cannot read our own pid namespace");
		return -1;
	}
	cputree_init(&lx->cputree, lx->host->cpu);
	unsigned files, containers;
	cache_budgets(&files, &containers);
	fdcache_init(&lx->files, files);
	containers_set_max(&lx->containers, containers);
	openfile_init(&lx->open, st, gen);
	early_init(&lx->early);
	return lxcfs_session(lx);
}

int lxcfs_engage(struct lxcfs *lx, int history_fd, int psi_fd)
{
	const struct options *opt = lx->opt;
	if (opt->loadavg && (loadavg_init(&lx->loadavg, lx->host->proc, &lx->files, history_fd) < 0 ||
			     loadavg_start(&lx->loadavg) < 0))
		log_warn("cannot start the load average engine; loadavg shows the host's");
	vsize_init(&lx->vsize, lx->st);
	if (opt->psi_poll && psi_init(&lx->psi, &lx->serve, psi_fd) < 0) {
		log_error("cannot start the PSI trigger watcher");
		return -1;
	}
	vsize_prime(&lx->vsize, &(const struct rctx){ .host = lx->host, .opt = opt, .files = &lx->files });
	snprintf(lx->st->hdr->worker_version, sizeof(lx->st->hdr->worker_version), "%s", LXCFS_VERSION);
	return 0;
}

void lxcfs_warm(struct lxcfs *lx)
{
	tree_render_each(&(const struct rctx){ .host = lx->host, .opt = lx->opt, .files = &lx->files }, NULL, NULL);
}

int lxcfs_open(struct lxcfs *lx, const struct options *opt, struct state *st, uint64_t gen, int history_fd,
	       int psi_fd, bool quiet)
{
	return lxcfs_prepare(lx, opt, st, gen, quiet) < 0 ? -1 : lxcfs_engage(lx, history_fd, psi_fd);
}

/* What can wait until requests are served: the sweep of snapshot entries an older worker left
 * (a walk of the whole table, 2-4 ms at a restart, measured) would otherwise hold the first
 * request of a restart. */
void lxcfs_serving(struct lxcfs *lx)
{
	openfile_sweep(&lx->open);
}

void lxcfs_close(struct lxcfs *lx)
{
	if (lx->se)
		fuse_session_destroy(lx->se); /* closes our copy of the fuse fd */
	lx->se = NULL;
	loadavg_fini(&lx->loadavg);
	psi_fini(&lx->psi);
	openfile_fini(&lx->open);
	cputree_fini(&lx->cputree);
	containers_fini(&lx->containers);
	fdcache_fini(&lx->files);
	cg_layout_free(&lx->layout);
}
