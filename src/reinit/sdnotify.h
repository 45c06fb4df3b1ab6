/* systemd's side channels, spoken without libsystemd: readiness and the fd store on
 * $NOTIFY_SOCKET, and fds handed back at the next start in $LISTEN_FDS.  With the fuse fd and
 * the state in the store, even `systemctl restart` or the death of the keeper itself resumes
 * the connection like a worker restart does. */
#ifndef LXCFS_SDNOTIFY_H
#define LXCFS_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a service manager listens ($NOTIFY_SOCKET set). */
bool sd_notify_enabled(void);
/* Sends msg ("READY=1", "FDSTORE=1\nFDNAME=fuse"...) with fds attached.  0 or -errno. */
int sd_notify_fds(const char *msg, const int *fds, size_t nfds);

/* Puts fd in the store under name, replacing what was stored under it.  0 or -errno (logged). */
int sd_store_fd(const char *name, int fd);
/* Drops what the store holds under name (systemd closes it). */
void sd_unstore_fd(const char *name);

/* Takes the fds systemd passed us ($LISTEN_PID must be ours) and forgets the variables, so no
 * child inherits them.  Then sd_listen_take(name) returns the fd named so (once), or -1. */
void sd_listen_init(void);
int sd_listen_take(const char *name);

#endif
