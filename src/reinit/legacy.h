/* The bridge from protocol versions 0 and 1 (proto.h): a binary built before the typed protocol
 * still hands its connection over, and is still talked to, during a live upgrade.
 *   version 0: fd numbers by position on the command line (and a worker's history, PSI store
 *              and virtualization in its environment);
 *   version 1: the 16-byte control message (magic, version, type, one number), no fds.
 * Each turns into the message the typed protocol would have carried, fds named, so everything
 * after it takes one path.  Nothing here is used between two binaries of this version. */
#ifndef LXCFS_LEGACY_H
#define LXCFS_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reinit/proto.h"

#define LEGACY_CTL_VERSION 1

/* A version-1 datagram (raw, n bytes) as a message; 0 or -EBADMSG. */
int legacy_ctl_decode(const unsigned char *raw, size_t n, struct msg *m);
/* Sends a version-1 message, to a peer that speaks only that (a worker or keeper of an older
 * binary).  0 or -errno. */
int legacy_ctl_send(int sock, enum msg_type type, uint64_t arg);

/* Whether a mode argument is a version-0 positional spec ("3,4,5,...") rather than the number
 * of the socket a typed hand-over waits on. */
bool legacy_spec(const char *arg);

/* `lxcfs --keeper-resume FUSE,STATE,PIDFILE,WORKERPID,CTL,GEN[,REINIT[,HISTORY[,VIRTOFF[,PSI]]]]`
 * of an older keeper, as the KEEPER_RESUME it would send now.  0 or -EINVAL (logged). */
int legacy_keeper_resume(const char *spec, struct msg *m);
/* `lxcfs-worker --standalone-resume FUSE,STATE,PIDFILE,HISTORY,GEN,REBINDER[,STOPPED_MS[,PSI]]`
 * (virtualization in $LXCFS_VIRTUALIZATION), as STANDALONE_RESUME.  0 or -EINVAL (logged). */
int legacy_standalone_resume(const char *spec, struct msg *m);
/* `lxcfs-worker --serve[-reinit] FUSE,STATE,CTL,GEN` of an older keeper (history, PSI store and
 * virtualization in the environment), as START; *ctl is the control socket (it speaks version
 * 1).  0 or -EINVAL (logged). */
int legacy_serve(const char *spec, bool reinit, struct msg *m, int *ctl);

#endif
