/* Where our binaries are: lxcfs-worker sits beside lxcfs in a build tree, else in libexec. */
#ifndef LXCFS_SELFPATH_H
#define LXCFS_SELFPATH_H

#include <stddef.h>

/* The running binary's path, as /proc/self/exe says (without " (deleted)": the path of the file
 * that replaced it). */
void self_path(char *dst, size_t size);
/* The worker binary that goes with the lxcfs binary at self. */
void worker_binary(const char *self, char *dst, size_t size);

#endif
