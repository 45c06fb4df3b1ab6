/* Dispatch: FUSE requests -> the tree -> renderers.  What a request needs is in the session's
 * userdata, a struct lxcfs (fs/ctx.h). */
#ifndef LXCFS_OPS_H
#define LXCFS_OPS_H

#include <fuse_lowlevel.h>

#include "lib/options.h"
#include "fs/render.h"

extern const struct fuse_lowlevel_ops lxcfs_ops;
extern const struct fuse_lowlevel_ops lxcfs_ops_psi; /* --enable-psi-poll: also write and poll */


#endif
