/* Everything that crosses a process boundary between lxcfs's processes, in one place: the mode
 * each binary is started in, the exit codes a parent acts on, the signal value of `lxcfs --reinit`,
 * and the messages on a control socket (SOCK_SEQPACKET), each with the descriptors it carries.
 *
 * A message is a fixed header (magic, version, type, payload length, which named fds ride along)
 * and a payload whose exact size the type fixes; the fds travel in the same datagram
 * (SCM_RIGHTS), in the order of their names.  The receiver checks all of it, and the sender's
 * uid (0), before it believes any of it: garbage or a peer of another version is refused, and
 * every fd that came with a refused message is closed.
 *
 *   keeper -> worker   START (once, first), RECOVER, STOP, VIRT, HANDOVER
 *   keeper -> standby  PRIME (first), then START
 *   worker -> keeper   READY
 *   a process -> its next image (across exec): KEEPER_RESUME, STANDALONE_RESUME
 *
 * Protocol version 0 was positional fd numbers on the command line; version 1 the 16-byte
 * control message without fds.  legacy.c bridges both (a live upgrade from such a binary). */
#ifndef LXCFS_PROTO_H
#define LXCFS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- how each binary is started (argv[1]) --- */
#define MODE_SERVE "--serve"                   /* lxcfs-worker --serve CTLFD [options] MNT */
#define MODE_SERVE_REINIT "--serve-reinit"     /* version 0 only (the flag is in START now) */
#define MODE_STANDALONE "--standalone"         /* lxcfs-worker --standalone [options] MNT */
#define MODE_STANDALONE_RESUME "--standalone-resume" /* lxcfs-worker ... SOCKFD [options] MNT */
#define MODE_KEEPER_RESUME "--keeper-resume"   /* lxcfs --keeper-resume SOCKFD [options] MNT */
#define MODE_CHECK_STATE "--check-state"       /* lxcfs-worker --check-state STATEFD */
#define MODE_REBIND "--rebind"                 /* lxcfs-worker --rebind [...] MNT */
#define OPT_RESTART_ON_CRASH "--restart-on-crash" /* what makes `lxcfs` a keeper */
#define OPT_REPLACE "--replace"                /* `lxcfs --replace`: a keeper handing over */
#define WORKER_NAME "lxcfs-worker"             /* the worker's argv[0] */

/* --- exit codes a parent acts on --- */
#define WORKER_EXIT_GONE 3   /* the fuse connection ended: nothing left to serve */
#define WORKER_EXIT_CANNOT 4 /* cannot start serving (set-up failed: fds, memory, arguments) */
#define WORKER_EXIT_UNRESUMABLE 5 /* the state cannot be resumed from: another format, damaged,
				     or an INIT this binary would not negotiate */
#define WORKER_EXIT_LOST 6 /* requests were lost with a damaged journal and this kernel cannot
			      resend them: their readers wait until the connection is reset */
#define REBIND_EXIT_PARTIAL 3  /* lxcfs-worker --rebind: some mounts could not be healed */
#define REPLACE_EXIT_NOTHING 3 /* `lxcfs --replace`: no live lxcfs of another kind at the mountpoint */

/* `lxcfs --reinit` asks the keeper for an upgrade through reinit: SIGUSR1 sent with sigqueue and
 * this value (a plain SIGUSR1 is the upgrade that resumes where it can). */
#define KEEPER_REINIT_REQUEST 0x6c78726e /* "lxrn" */

/* --- descriptors by name: the same names in messages, in systemd's fd store and, for the
 * memfds, in the name the kernel shows (/proc/PID/fd: "/memfd:lxcfs-state (deleted)") --- */
enum fd_name {
	FD_FUSE,    /* the fuse connection */
	FD_STATE,   /* the state memfd (state.h) */
	FD_HISTORY, /* the load average history memfd (history.h) */
	FD_PSI,     /* the PSI trigger store memfd (psistore.h) */
	FD_PIDFILE, /* the locked pidfile */
	FD_CTL,     /* a control socket (to a worker) */
	FD_LIFELINE, /* a worker's lifeline (lib/lifeline.h): its death, heard before its exit */
	FD_N,
};
#define FD_BIT(n) (1u << (n))
/* The memfds' own names (memfd_create), which an orphan's fds are found by. */
#define MEMFD_STATE "lxcfs-state"
#define MEMFD_HISTORY "lxcfs-history"
#define MEMFD_PSI "lxcfs-psi"

const char *fd_name(enum fd_name n);       /* "fuse", "state", ... */
const char *fd_memfd_name(enum fd_name n); /* "lxcfs-state", ...; NULL if not a memfd */

/* A set of named fds: -1 where a name is absent. */
struct fdset {
	int fd[FD_N];
};
#define FDSET_NONE { { -1, -1, -1, -1, -1, -1, -1 } }
void fdset_close(struct fdset *s);

/* --- messages --- */
#define PROTO_MAGIC 0x6c786366u /* "lxcf" */
#define PROTO_VERSION 2

enum msg_type {
	MSG_READY = 1,     /* worker -> keeper: serving */
	MSG_RECOVER = 2,   /* keeper -> worker: take over requests of dead workers */
	MSG_STOP = 3,      /* keeper -> worker: stop reading, answer what you hold, exit */
	MSG_VIRT = 4,      /* keeper -> worker: virtualization switched (SIGUSR2) */
	MSG_HANDOVER = 5,  /* keeper -> worker: I leave on purpose (lxcfs --replace); serve on until
			      the next start adopts you */
	MSG_START = 6,     /* keeper -> worker: serve these fds */
	MSG_KEEPER_RESUME = 7,     /* keeper -> its next image (live upgrade) */
	MSG_STANDALONE_RESUME = 8, /* standalone daemon -> its next image (upgrade in place) */
	MSG_PRIME = 9,     /* keeper -> standby: START's fds and payload ahead of need, with the
			      serving worker's lifeline: be ready to serve the moment it dies */
	MSG_N,
};

/* READY carries the worker's lifeline (FD_LIFELINE) when its START asked for it: a keeper of
 * an older binary refuses fds it does not know. */
struct msg_ready {
	uint64_t features; /* STATE_FEAT_* of the state it serves */
};
struct msg_recover {
	uint64_t live_gen; /* the live generation to leave alone (0: none) */
};
struct msg_virt {
	uint32_t on;
	uint32_t pad;
};
struct msg_start {
	uint64_t gen;
	uint8_t reinit; /* reset the connection (FUSE_DEV_IOC_REINIT) rather than resume it */
	uint8_t virt_on;
	uint8_t lifeline; /* send a lifeline with READY (older keepers leave it 0) */
	uint8_t warm;     /* a predecessor serves on meanwhile: warm up before serving */
	uint8_t pad[4];
};
/* The pidfile is the one fd a self hand-over does not copy: its lock (fcntl) is the process's,
 * and closing any copy of the file drops it, so the fd stays open across the exec at its number
 * (proto_exec_self's keep) and the message names that number (proto_kept). */
struct msg_keeper_resume {
	uint64_t gen;       /* of the worker that serves now (its ctl is FD_CTL) */
	int32_t worker_pid;
	int32_t pidfile;    /* kept across the exec */
	uint8_t reinit;     /* the upgrade goes through reinit */
	uint8_t virt_on;
	uint8_t worker_v1;  /* that worker speaks control protocol version 1 (legacy.h) */
	uint8_t pad[5];
};
struct msg_standalone_resume {
	uint64_t gen;       /* of the image that stopped */
	int64_t stopped_ms; /* when it stopped reading (CLOCK_MONOTONIC ms; 0: unknown) */
	int32_t rebinder;   /* its rebind tier's pid, still our child (0: none) */
	int32_t pidfile;    /* kept across the exec */
	uint8_t virt_on;
	uint8_t pad[7];
};

/* A received message: the type, its payload (as the type says), its fds by name. */
struct msg {
	enum msg_type type;
	union {
		struct msg_ready ready;
		struct msg_recover recover;
		struct msg_virt virt;
		struct msg_start start;
		struct msg_keeper_resume keeper_resume;
		struct msg_standalone_resume standalone_resume;
		unsigned char raw[32];
	} u;
	struct fdset fds;
};

const char *msg_name(enum msg_type t);

/* Sends type with payload (exactly the type's size) and the fds of s that the type allows (-1
 * ones are left out).  0 or -errno. */
int proto_send(int sock, enum msg_type type, const void *payload, size_t len, const struct fdset *s);
/* Payload-less or one-number messages, as most control messages are. */
int proto_tell(int sock, enum msg_type type, uint64_t arg);
/* Receives one message without waiting.  0; -EAGAIN (nothing queued), -EPIPE (the peer is gone),
 * -EPERM (not root), -EBADMSG (malformed: refused, logged).  The fds are close-on-exec; on any
 * error none is left open. */
int proto_recv(int sock, struct msg *m);
/* The message of type want on the socket whose number is the command-line argument arg, waiting
 * at most timeout_ms: the socket's number, or -errno (-EINVAL: arg names no socket; -EBADMSG: a
 * message of another type, its fds closed).  Wanting START takes PRIME too: a START ahead of
 * need (the caller tells them apart by m->type). */
int proto_recv_arg(const char *arg, enum msg_type want, int timeout_ms, struct msg *m);
/* A self hand-over (KEEPER_RESUME or STANDALONE_RESUME) on the socket numbered arg: received,
 * the socket closed, the pidfile kept across the exec checked (proto_kept).  0 or -errno. */
int proto_recv_handover(const char *arg, enum msg_type want, struct msg *m);

/* Hands fds to our own next image: a socketpair, the message on one end, the other end and keep
 * (the pidfile, or -1) kept across execv(path, argv), the socket's number written into
 * argv[fdarg] (a buffer of 16 bytes).  Returns only if the exec failed: -errno, with every copy
 * in flight closed again. */
int proto_exec_self(const char *path, char **argv, int fdarg, int keep, enum msg_type type,
		    const void *payload, size_t len, const struct fdset *s);
/* In a received self hand-over, the pidfile kept across the exec, named FD_PIDFILE (and
 * close-on-exec again).  0, or -EBADF if the number names no regular file of ours. */
int proto_kept(struct msg *m, int32_t pidfile);

#endif
