/* The bridge from protocol versions 0 and 1: see legacy.h.  The positional specs are protocols
 * between versions whose fields were only ever appended; a missing trailing field keeps the
 * meaning it had before that field existed. */
#include "reinit/legacy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/log.h"
#include "reinit/history.h"
#include "reinit/psistore.h"

struct v1_msg {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint64_t arg;
};

int legacy_ctl_decode(const unsigned char *raw, size_t n, struct msg *m)
{
	struct v1_msg v;
	if (n != sizeof(v))
		return -EBADMSG;
	memcpy(&v, raw, sizeof(v));
	if (v.type < MSG_READY || v.type > MSG_HANDOVER) /* version 1 had only these */
		return -EBADMSG;
	m->type = (enum msg_type)v.type;
	memset(&m->u, 0, sizeof(m->u));
	if (m->type == MSG_VIRT)
		m->u.virt.on = v.arg != 0;
	else
		m->u.ready.features = v.arg; /* READY and RECOVER: one number, at the same place */
	return 0;
}

int legacy_ctl_send(int sock, enum msg_type type, uint64_t arg)
{
	if (type < MSG_READY || type > MSG_HANDOVER)
		return -EINVAL;
	struct v1_msg v = { PROTO_MAGIC, LEGACY_CTL_VERSION, (uint16_t)type, arg };
	ssize_t n = send(sock, &v, sizeof(v), MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(v) ? 0 : -EIO;
}

bool legacy_spec(const char *arg)
{
	return strchr(arg, ',') != NULL;
}

/* Up to max comma-separated numbers of spec into v (v keeps its defaults past the last one);
 * how many, or -1 if malformed or one that may not be negative is. */
static int fields(const char *spec, long *v, int max, unsigned may_be_negative)
{
	const char *s = spec;
	int i = 0;
	for (; i < max; i++, s++) {
		char *end;
		errno = 0;
		v[i] = strtol(s, &end, 10);
		if (end == s || errno || (v[i] < 0 && !(may_be_negative & (1u << i))) || (*end != ',' && *end != '\0'))
			return -1;
		s = end;
		if (!*end)
			return i + 1;
	}
	return max; /* fields a later version appended: not ours to read */
}

/* An inherited fd: named, and close-on-exec as a received one is. */
static int named(struct msg *m, enum fd_name n, long fd)
{
	if (fd < 0 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
		return fd < 0 ? 0 : -1;
	fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	m->fds.fd[n] = (int)fd;
	return 0;
}

static void clear(struct msg *m, enum msg_type t)
{
	memset(m, 0, sizeof(*m));
	m->type = t;
	for (int i = 0; i < FD_N; i++)
		m->fds.fd[i] = -1;
}

static bool virt_env_on(void)
{
	const char *v = getenv("LXCFS_VIRTUALIZATION"); /* version 0's channel for the switch */
	bool on = !(v && strcmp(v, "off") == 0);
	unsetenv("LXCFS_VIRTUALIZATION");
	return on;
}

int legacy_keeper_resume(const char *spec, struct msg *m)
{
	/* FUSE,STATE,PIDFILE,WORKERPID,CTL,GEN,REINIT,HISTORY,VIRTOFF,PSI */
	long v[10] = { 0, 0, 0, 0, 0, 0, 0, -1, 0, -1 };
	clear(m, MSG_KEEPER_RESUME);
	int n = fields(spec, v, 10, 1u << 7 | 1u << 9);
	if (n < 6 || named(m, FD_FUSE, v[0]) || named(m, FD_STATE, v[1]) || named(m, FD_PIDFILE, v[2]) ||
	    named(m, FD_CTL, v[4]) || named(m, FD_HISTORY, v[7]) || named(m, FD_PSI, v[9])) {
		log_error("cannot read the hand-over from the previous keeper: '%s'", spec);
		return -EINVAL;
	}
	struct msg_keeper_resume *r = &m->u.keeper_resume;
	r->worker_pid = (int32_t)v[3];
	r->gen = (uint64_t)v[5];
	r->reinit = v[6] != 0;
	r->virt_on = v[8] == 0; /* an older keeper had no switch: on */
	log_info("hand-over from a keeper of protocol version 0 (positional fds)");
	return 0;
}

int legacy_standalone_resume(const char *spec, struct msg *m)
{
	/* FUSE,STATE,PIDFILE,HISTORY,GEN,REBINDER,STOPPED_MS,PSI */
	long v[8] = { 0, 0, 0, 0, 0, 0, 0, -1 };
	clear(m, MSG_STANDALONE_RESUME);
	int n = fields(spec, v, 8, 1u << 7);
	if (n < 6 || named(m, FD_FUSE, v[0]) || named(m, FD_STATE, v[1]) || named(m, FD_PIDFILE, v[2]) ||
	    named(m, FD_HISTORY, v[3]) || named(m, FD_PSI, v[7])) {
		log_error("bad --standalone-resume argument '%s'", spec);
		return -EINVAL;
	}
	struct msg_standalone_resume *r = &m->u.standalone_resume;
	r->gen = (uint64_t)v[4];
	r->rebinder = (int32_t)v[5];
	r->stopped_ms = v[6];
	r->virt_on = virt_env_on();
	return 0;
}

int legacy_serve(const char *spec, bool reinit, struct msg *m, int *ctl)
{
	long v[4];
	clear(m, MSG_START);
	if (fields(spec, v, 4, 0) != 4 || named(m, FD_FUSE, v[0]) || named(m, FD_STATE, v[1]) ||
	    fcntl((int)v[2], F_GETFD) < 0) {
		log_error("bad --serve argument '%s'", spec);
		return -EINVAL;
	}
	fcntl((int)v[2], F_SETFD, FD_CLOEXEC);
	*ctl = (int)v[2];
	named(m, FD_HISTORY, history_fd_from_env());
	named(m, FD_PSI, psistore_fd_from_env());
	unsetenv("LXCFS_HISTORY_FD");
	unsetenv("LXCFS_PSI_FD");
	m->u.start.gen = (uint64_t)v[3];
	m->u.start.reinit = reinit;
	m->u.start.virt_on = virt_env_on();
	return 0;
}
