/* Walking /proc: every process, every descriptor of one, a field of a descriptor's fdinfo.
 * Read from procfs alone, never through the files themselves (a FUSE file may hang). */
#ifndef LXCFS_PROCFS_H
#define LXCFS_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Calls fn for every process (pids as /proc lists them) until it returns nonzero: that value,
 * 0 after the last, or -errno if /proc cannot be read. */
int proc_each_pid(int (*fn)(pid_t pid, void *arg), void *arg);

/* Calls fn for every descriptor of pid with the target of its link (NUL-terminated, cut to
 * size) until it returns nonzero: that value, 0 after the last (or if pid is gone). */
int proc_each_fd(pid_t pid, int (*fn)(pid_t pid, int fd, const char *target, void *arg), void *arg);

/* The number after "key" (e.g. "mnt_id:", "flags:") in /proc/pid/fdinfo/fd, in base; -1 if the
 * descriptor is gone or has no such line. */
long proc_fdinfo(pid_t pid, int fd, const char *key, int base);

/* The inode of pid's namespace of a kind ("pid", "mnt"...), from the text "kind:[N]" of its link:
 * one readlink, which neither opens the namespace nor makes a dentry for it as a stat of the link
 * does (0.6x the time over 20,000 processes).  0, or -errno. */
int proc_ns_inode(pid_t pid, const char *kind, uint64_t *ino);

/* From /proc/pid/status: NSpid's last field (the pid inside its own pid namespace: 1 for a
 * container's init) and PPid.  0, or -errno. */
int proc_status_ids(pid_t pid, pid_t *inner, pid_t *ppid);

#endif
