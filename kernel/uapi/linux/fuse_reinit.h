/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * Taking a live FUSE connection over: ioctls on /dev/fuse.
 *
 * Not in mainline: defined by the lxcfs kernel series and shared, as this one
 * file, by that series and the lxcfs daemon.  The numbers use the magic of
 * FUSE_DEV_IOC_CLONE but stay far above mainline's (0 to 3).
 */
#ifndef _LINUX_FUSE_REINIT_H
#define _LINUX_FUSE_REINIT_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define FUSE_REINIT_IOC_MAGIC		229

/*
 * Reset the connection of this /dev/fuse fd for a new daemon: every request of
 * the old one ends (ECONNABORTED), inodes and open files become stale, and a new
 * FUSE_INIT is sent; new requests wait for its reply.  EBUSY while another reinit
 * runs, EPERM without CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the user
 * namespace of the connection.
 */
#define FUSE_DEV_IOC_REINIT		_IO(FUSE_REINIT_IOC_MAGIC, 0x80)

/*
 * Look the roots of the connection's bind mounts up again, after a reinit: a
 * stale root takes the node the new daemon gives its path.  Every root is
 * tried; returns 0, or the first error.
 */
#define FUSE_DEV_IOC_BM_REVAL		_IO(FUSE_REINIT_IOC_MAGIC, 0x81)

/*
 * Which of the above this kernel has, as a mask of FUSE_REINIT_HAS_*.  Works on
 * any /dev/fuse fd and changes nothing: a daemon may probe a live connection.
 */
#define FUSE_DEV_IOC_REINIT_FEATURES	_IOR(FUSE_REINIT_IOC_MAGIC, 0x82, __u32)
#define FUSE_REINIT_HAS_REINIT		(1u << 0)
#define FUSE_REINIT_HAS_BM_REVAL	(1u << 1)

#endif /* _LINUX_FUSE_REINIT_H */
