#include <stdio.h>
/* The messages between lxcfs's processes (proto.h), and the bridge from older versions
 * (legacy.h): what is sent arrives as sent, fds by name; anything else is refused with no fd
 * left open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "reinit/legacy.h"
#include "reinit/proto.h"

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	while (d && readdir(d))
		n++;
	closedir(d);
	return n;
}

struct raw_hdr {
	uint32_t magic;
	uint16_t version, type;
	uint32_t len, fds;
};

static void messages(void)
{
	int sv[2];
	struct msg m;
	CHECK_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	CHECK_INT(proto_tell(sv[0], MSG_RECOVER, 42), 0);
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.type, MSG_RECOVER);
	CHECK_U64(m.u.recover.live_gen, 42);
	CHECK_INT(proto_recv(sv[1], &m), -EAGAIN); /* nothing more: never blocks */
	/* by the socket's number, as a command line names it: waits, then wants its type */
	char num[16];
	snprintf(num, sizeof(num), "%d", sv[1]);
	CHECK_INT(proto_recv_arg(num, MSG_RECOVER, 10, &m), -ETIMEDOUT);
	CHECK_INT(proto_recv_arg("3x", MSG_RECOVER, 10, &m), -EINVAL);
	CHECK_INT(proto_recv_arg("", MSG_RECOVER, 10, &m), -EINVAL);
	CHECK_INT(proto_tell(sv[0], MSG_STOP, 0), 0);
	CHECK_INT(proto_recv_arg(num, MSG_RECOVER, 10, &m), -EBADMSG); /* another type: refused */
	CHECK_INT(proto_tell(sv[0], MSG_RECOVER, 7), 0);
	CHECK_INT(proto_recv_arg(num, MSG_RECOVER, 10, &m), sv[1]);
	CHECK_U64(m.u.recover.live_gen, 7);
	CHECK_INT(proto_tell(sv[0], MSG_VIRT, 0), 0);
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.type, MSG_VIRT);
	CHECK_INT(m.u.virt.on, 0);

	CHECK_INT(send(sv[0], "abc", 3, 0), 3);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	struct raw_hdr bad = { PROTO_MAGIC ^ 1, PROTO_VERSION, MSG_STOP, 0, 0 };
	send(sv[0], &bad, sizeof(bad), 0);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	bad = (struct raw_hdr){ PROTO_MAGIC, PROTO_VERSION + 1, MSG_STOP, 0, 0 };
	send(sv[0], &bad, sizeof(bad), 0);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	bad = (struct raw_hdr){ PROTO_MAGIC, PROTO_VERSION, 99, 0, 0 };
	send(sv[0], &bad, sizeof(bad), 0);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	bad = (struct raw_hdr){ PROTO_MAGIC, PROTO_VERSION, MSG_STOP, 8, 0 }; /* STOP has no payload */
	send(sv[0], &bad, sizeof(bad), 0);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	char big[64] = { 0 };
	send(sv[0], big, sizeof(big), 0);
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	/* a sender never sends what the table does not allow */
	CHECK_INT(proto_send(sv[0], MSG_STOP, big, 8, NULL), -EINVAL);
	CHECK_INT(proto_send(sv[0], MSG_START, big, sizeof(struct msg_start), NULL), -EINVAL); /* no fds */
	close(sv[0]);
	CHECK_INT(proto_recv(sv[1], &m), -EPIPE);
	close(sv[1]);
}

static void named_fds(void)
{
	int sv[2];
	struct msg m;
	CHECK_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	int base = open_fds();
	int a = open("/dev/null", O_RDONLY), b = open("/dev/zero", O_RDONLY), c = open("/dev/null", O_WRONLY);
	struct fdset s = FDSET_NONE;
	s.fd[FD_FUSE] = a, s.fd[FD_STATE] = b, s.fd[FD_PSI] = c;
	s.fd[FD_PIDFILE] = a; /* not START's: left out */
	struct msg_start st = { .gen = 7, .reinit = 1, .virt_on = 1 };
	CHECK_INT(proto_send(sv[0], MSG_START, &st, sizeof(st), &s), 0);
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.type, MSG_START);
	CHECK_U64(m.u.start.gen, 7);
	CHECK_INT(m.u.start.reinit, 1);
	CHECK(m.fds.fd[FD_FUSE] >= 0 && m.fds.fd[FD_STATE] >= 0 && m.fds.fd[FD_PSI] >= 0);
	CHECK_INT(m.fds.fd[FD_HISTORY], -1);
	CHECK_INT(m.fds.fd[FD_PIDFILE], -1);
	CHECK_INT(fcntl(m.fds.fd[FD_FUSE], F_GETFD), FD_CLOEXEC);
	char p1[64], p2[64], t1[64] = "", t2[64] = "";
	snprintf(p1, sizeof(p1), "/proc/self/fd/%d", m.fds.fd[FD_STATE]);
	snprintf(p2, sizeof(p2), "/proc/self/fd/%d", b);
	CHECK(readlink(p1, t1, sizeof(t1) - 1) > 0 && readlink(p2, t2, sizeof(t2) - 1) > 0);
	CHECK_STR(t1, t2); /* the state is the state: names follow the mask, not the order sent */
	fdset_close(&m.fds);

	/* a message whose mask does not match its fds: refused, every fd closed */
	struct { struct raw_hdr h; struct msg_start s; } lie = { { PROTO_MAGIC, PROTO_VERSION, MSG_START,
								   sizeof(struct msg_start), 7 }, st };
	int fds[2] = { a, b };
	union { struct cmsghdr align; char b[CMSG_SPACE(sizeof(fds))]; } cb;
	struct iovec iov = { &lie, sizeof(lie) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	int before = open_fds();
	CHECK_INT(sendmsg(sv[0], &mh, 0), (long long)sizeof(lie));
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	CHECK_INT(open_fds(), before);
	/* fds on a message that carries none: refused, closed */
	lie.h = (struct raw_hdr){ PROTO_MAGIC, PROTO_VERSION, MSG_STOP, 0, 0 };
	iov.iov_len = sizeof(lie.h);
	CHECK_INT(sendmsg(sv[0], &mh, 0), (long long)sizeof(lie.h));
	CHECK_INT(proto_recv(sv[1], &m), -EBADMSG);
	CHECK_INT(open_fds(), before);

	/* PRIME: START's fds and payload with the serving worker's lifeline, which it must carry;
	 * waiting for START takes it (a standby tells them apart by type) */
	CHECK_INT(proto_send(sv[0], MSG_PRIME, &st, sizeof(st), &s), -EINVAL); /* no lifeline */
	s.fd[FD_LIFELINE] = c;
	st.lifeline = 1;
	CHECK_INT(proto_send(sv[0], MSG_PRIME, &st, sizeof(st), &s), 0);
	char num[16];
	snprintf(num, sizeof(num), "%d", sv[1]);
	CHECK_INT(proto_recv_arg(num, MSG_START, 10, &m), sv[1]);
	CHECK_INT(m.type, MSG_PRIME);
	CHECK_INT(m.u.start.lifeline, 1);
	CHECK(m.fds.fd[FD_LIFELINE] >= 0 && m.fds.fd[FD_FUSE] >= 0);
	fdset_close(&m.fds);
	CHECK_INT(proto_send(sv[0], MSG_PRIME, &st, sizeof(st), &s), 0);
	CHECK_INT(proto_recv_arg(num, MSG_RECOVER, 10, &m), -EBADMSG); /* only START stands for it */
	/* READY may bring the worker's lifeline, and nothing else */
	struct msg_ready rd = { .features = 1 };
	CHECK_INT(proto_send(sv[0], MSG_READY, &rd, sizeof(rd), &s), 0); /* (the rest left out) */
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.type, MSG_READY);
	CHECK(m.fds.fd[FD_LIFELINE] >= 0);
	CHECK_INT(m.fds.fd[FD_FUSE], -1);
	fdset_close(&m.fds);
	CHECK_INT(open_fds(), before);
	close(a), close(b), close(c);
	close(sv[0]), close(sv[1]);
	CHECK_INT(open_fds(), base - 2);
}

static void version1(void)
{
	int sv[2];
	struct msg m;
	CHECK_INT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	CHECK_INT(legacy_ctl_send(sv[0], MSG_READY, 5), 0);
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.type, MSG_READY);
	CHECK_U64(m.u.ready.features, 5);
	CHECK_INT(legacy_ctl_send(sv[0], MSG_VIRT, 1), 0);
	CHECK_INT(proto_recv(sv[1], &m), 0);
	CHECK_INT(m.u.virt.on, 1);
	CHECK_INT(legacy_ctl_send(sv[0], MSG_START, 1), -EINVAL); /* version 1 had no START */
	close(sv[0]), close(sv[1]);
}

static void version0(void)
{
	struct msg m;
	int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY), c = open("/dev/null", O_RDONLY);
	int d = open("/dev/null", O_RDONLY);
	char spec[128];
	/* an older keeper's hand-over without the history, virtualization and PSI fields */
	snprintf(spec, sizeof(spec), "%d,%d,%d,1234,%d,9,1", a, b, c, d);
	CHECK(legacy_spec(spec));
	CHECK(!legacy_spec("12"));
	CHECK_INT(legacy_keeper_resume(spec, &m), 0);
	CHECK_INT(m.type, MSG_KEEPER_RESUME);
	CHECK_INT(m.fds.fd[FD_FUSE], a);
	CHECK_INT(m.fds.fd[FD_CTL], d);
	CHECK_INT(m.fds.fd[FD_HISTORY], -1);
	CHECK_INT(m.u.keeper_resume.worker_pid, 1234);
	CHECK_U64(m.u.keeper_resume.gen, 9);
	CHECK_INT(m.u.keeper_resume.reinit, 1);
	CHECK_INT(m.u.keeper_resume.virt_on, 1);
	CHECK_INT(fcntl(a, F_GETFD), FD_CLOEXEC);
	snprintf(spec, sizeof(spec), "%d,%d,%d,1234,%d,9,0,-1,1,%d", a, b, c, d, c);
	CHECK_INT(legacy_keeper_resume(spec, &m), 0);
	CHECK_INT(m.u.keeper_resume.virt_on, 0);
	CHECK_INT(m.fds.fd[FD_PSI], c);
	CHECK(legacy_keeper_resume("3,4,5", &m) < 0); /* too few fields */
	CHECK(legacy_keeper_resume("3,-4,5,6,7,8", &m) < 0);
	snprintf(spec, sizeof(spec), "%d,%d,%d,%d,3,0,100", a, b, c, d);
	CHECK_INT(legacy_standalone_resume(spec, &m), 0);
	CHECK_INT(m.fds.fd[FD_HISTORY], d);
	CHECK_INT(m.fds.fd[FD_PSI], -1);
	CHECK_U64(m.u.standalone_resume.gen, 3);
	CHECK_INT(m.u.standalone_resume.stopped_ms, 100);
	int ctl = -1;
	snprintf(spec, sizeof(spec), "%d,%d,%d,5", a, b, d);
	CHECK_INT(legacy_serve(spec, true, &m, &ctl), 0);
	CHECK_INT(ctl, d);
	CHECK_INT(m.type, MSG_START);
	CHECK_INT(m.u.start.reinit, 1);
	CHECK_U64(m.u.start.gen, 5);
	CHECK(legacy_serve("1,2,3", false, &m, &ctl) < 0);
	close(a), close(b), close(c), close(d);
}

/* The pidfile of a self hand-over is kept at its number, not copied: only a regular file of ours. */
static void kept_pidfile(void)
{
	struct msg m = { .fds = FDSET_NONE };
	char path[] = "/tmp/lxcfs-test-kept-XXXXXX";
	int f = mkstemp(path), n = open("/dev/null", O_RDONLY);
	unlink(path);
	CHECK_INT(proto_kept(&m, f), 0);
	CHECK_INT(m.fds.fd[FD_PIDFILE], f);
	CHECK_INT(fcntl(f, F_GETFD), FD_CLOEXEC);
	m.fds.fd[FD_PIDFILE] = -1;
	CHECK_INT(proto_kept(&m, n), -EBADF);
	CHECK_INT(proto_kept(&m, 1), -EBADF);
	CHECK_INT(proto_kept(&m, 4000), -EBADF);
	CHECK_INT(m.fds.fd[FD_PIDFILE], -1);
	close(f), close(n);
}

int main(void)
{
	kept_pidfile();
	messages();
	named_fds();
	version1();
	version0();
	return check_failures ? 1 : 0;
}
