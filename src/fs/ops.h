/* Dispatch: FUSE requests -> the tree -> renderers.  Stateless apart from open-file snapshots. */
#ifndef LXCFS_OPS_H
#define LXCFS_OPS_H

#include <fuse_lowlevel.h>

#include "lib/options.h"
#include "fs/render.h"

struct ops_ctx {
	const struct options *opt;
	const struct hostroot *host;
	struct fuse_session *se;
};

extern const struct fuse_lowlevel_ops lxcfs_ops;
extern const struct fuse_lowlevel_ops lxcfs_ops_psi; /* --enable-psi-poll: also write and poll */


#endif
