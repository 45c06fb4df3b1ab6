/* The context of a serving process: everything a request needs, reached from the request
 * (fuse_req_userdata) rather than from module singletons, as libfuse's passthrough_ll does.
 * lxcfs_open builds it in the order the request path uses it; lxcfs_close takes it down in the
 * reverse order.  A worker has one; the upgrade probe (--check-state) builds a throwaway one. */
#ifndef LXCFS_CTX_H
#define LXCFS_CTX_H

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgroup/cgroup.h"
#include "cgroup/container.h"
#include "cgroup/cputree.h"
#include "cgroup/fdcache.h"
#include "cgroup/loadavg.h"
#include "fs/early.h"
#include "fs/openfile.h"
#include "fs/psi.h"
#include "fs/render.h"
#include "fs/serve.h"
#include "fs/vsize.h"
#include "lib/options.h"
#include "reinit/state.h"

struct lxcfs {
	const struct options *opt;
	const struct hostroot *host;
	struct state *st; /* the one pointer to the state: owned by the caller of lxcfs_open */
	uint64_t gen;     /* this process's generation */
	struct cg_layout layout;
	struct fdcache files;
	struct containers containers;
	struct cputree cputree;
	struct loadavg loadavg;
	struct openfiles open;
	struct early early;
	struct vsize vsize;
	struct psi psi;
	struct serve serve;
	struct fuse_session *se;
};

/* The host's files as production reads them. */
extern const struct hostroot lxcfs_host;

/* Builds lx for a process of generation gen serving from st (attached by the caller, which
 * keeps it): cgroup layout, containers, cpu tree, fd cache, load average engine (history_fd:
 * the daemon's history memfd, -1 for a private one), open files, sizes, PSI watcher (psi_fd:
 * the trigger store, -1 for none) and the fuse session.  quiet: the cgroup layout is not
 * logged (a successor's).  0, or -1 (logged; lxcfs_close undoes what was built). */
int lxcfs_open(struct lxcfs *lx, const struct options *opt, struct state *st, uint64_t gen, int history_fd,
	       int psi_fd, bool quiet);
/* lxcfs_open in two steps, for a standby that prepares while its predecessor still serves:
 * prepare builds what only reads the state (the caches, the open files, the session); engage
 * what writes where a predecessor may still write (load average history, sizes, PSI store), once
 * it is gone. */
int lxcfs_prepare(struct lxcfs *lx, const struct options *opt, struct state *st, uint64_t gen, bool quiet);
int lxcfs_engage(struct lxcfs *lx, int history_fd, int psi_fd);
/* Renders every file once as the host sees it, and drops the result: a standby runs the request
 * path's code and fills its caches ahead of need (the first reads of a new process fault its
 * code and data in page by page). */
void lxcfs_warm(struct lxcfs *lx);
/* Called once the request threads serve: set-up that may wait until then. */
void lxcfs_serving(struct lxcfs *lx);
void lxcfs_close(struct lxcfs *lx);

/* Only the fuse session of lx (lx->opt, lx->host and lx->st set): what replaying a recorded
 * INIT needs (--check-state).  0 or -1. */
int lxcfs_session(struct lxcfs *lx);

#endif
