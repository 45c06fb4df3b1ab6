/* fake-systemd: the part of systemd that lxcfs.service relies on, for hosts where systemd is not
 * PID 1 (like the one the tests run on).  It plays a Type=notify service with
 * FileDescriptorStoreMax, KillMode=control-group and Restart=on-failure:
 *   - runs CMD with $NOTIFY_SOCKET, logs every notify message to LOG, keeps the fds sent with
 *     FDSTORE=1 under their FDNAME (FDSTOREREMOVE=1 drops them);
 *   - SIGHUP = `systemctl restart`: SIGTERM to every process of the service, then CMD again
 *     with the stored fds ($LISTEN_FDS, $LISTEN_PID, $LISTEN_FDNAMES);
 *   - the main process dying of a signal or failing = a restart as well, after the others of
 *     the service got SIGTERM (Restart=on-failure);
 *   - SIGTERM = `systemctl stop`: every process SIGTERMed, the store closed, exit.
 * "Processes of the service" are our descendants: we are a child subreaper, so a worker whose
 * keeper died is reparented to us as it stays in the service's cgroup under systemd.
 *
 *   fake-systemd LOG CMD [ARGS...] */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_STORE 16

static struct {
	int fd;
	char name[64];
} store[MAX_STORE];
static int nstore;
static FILE *logfile;
static char **cmd;
static pid_t mainpid;

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(logfile, fmt, ap);
	va_end(ap);
	fputc('\n', logfile);
	fflush(logfile);
}

static void start(void)
{
	pid_t pid = fork();
	if (pid < 0) {
		say("fork: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		mainpid = pid;
		say("started %d with %d stored fds", (int)pid, nstore);
		return;
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char names[1024] = "", num[32];
	/* Stored fds go to 3, 4, ... : move them above the range first. */
	int tmp[MAX_STORE];
	for (int i = 0; i < nstore; i++)
		tmp[i] = fcntl(store[i].fd, F_DUPFD, 100);
	for (int i = 0; i < nstore; i++) {
		dup2(tmp[i], 3 + i);
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ":" : "", store[i].name);
	}
	if (nstore) {
		snprintf(num, sizeof(num), "%d", nstore);
		setenv("LISTEN_FDS", num, 1);
		setenv("LISTEN_FDNAMES", names, 1);
		snprintf(num, sizeof(num), "%d", (int)getpid());
		setenv("LISTEN_PID", num, 1);
	}
	execvp(cmd[0], cmd);
	_exit(127);
}

/* Our descendants, found through /proc (ppid links). */
static int descendants(pid_t *out, int max)
{
	int n = 0;
	pid_t me = getpid();
	for (int round = 0; round < 8; round++) {
		DIR *d = opendir("/proc");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char path[64], buf[512];
			pid_t pid = atoi(e->d_name), ppid;
			if (pid <= 0)
				continue;
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
			FILE *f = fopen(path, "r");
			if (!f)
				continue;
			size_t len = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			buf[len] = '\0';
			char *rp = strrchr(buf, ')');
			if (!rp || sscanf(rp + 2, "%*c %d", &ppid) != 1)
				continue;
			bool known = false, parent = ppid == me;
			for (int i = 0; i < n; i++) {
				known |= out[i] == pid;
				parent |= out[i] == ppid;
			}
			if (parent && !known && n < max)
				out[n++] = pid;
		}
		if (d)
			closedir(d);
	}
	return n;
}

static void signal_service(int sig)
{
	pid_t p[256];
	int n = descendants(p, 256);
	for (int i = 0; i < n; i++)
		kill(p[i], sig);
}

/* After the main process ended: what systemd does to the rest of the cgroup. */
static void end_service(void)
{
	signal_service(SIGTERM);
	for (int i = 0; i < 500; i++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		pid_t p[4];
		if (descendants(p, 4) == 0)
			return;
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
	}
	signal_service(SIGKILL);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static void drop(const char *name)
{
	for (int i = 0; i < nstore; i++)
		if (strcmp(store[i].name, name) == 0) {
			close(store[i].fd);
			store[i--] = store[--nstore];
		}
}

static void on_message(int sock)
{
	char buf[4096];
	union {
		char c[CMSG_SPACE(sizeof(int) * MAX_STORE)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c, .msg_controllen = sizeof(u.c) };
	ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return;
	buf[n] = '\0';
	int fds[MAX_STORE], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)nfds);
		}
	char name[64] = "stored";
	const char *fn = strstr(buf, "FDNAME=");
	if (fn)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(fn + 7, "\n"), fn + 7);
	char line[4096];
	snprintf(line, sizeof(line), "%s", buf);
	for (char *p = line; *p; p++)
		if (*p == '\n')
			*p = '|';
	say("notify: %s (%d fds)", line, nfds);
	if (strstr(buf, "FDSTOREREMOVE=1"))
		drop(name);
	if (strstr(buf, "FDSTORE=1")) {
		for (int i = 0; i < nfds && nstore < MAX_STORE; i++) {
			store[nstore].fd = fds[i];
			snprintf(store[nstore].name, sizeof(store[nstore].name), "%s", name);
			nstore++;
		}
	} else {
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
	}
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: fake-systemd LOG CMD [ARGS...]\n");
		return 2;
	}
	logfile = fopen(argv[1], "a");
	if (!logfile)
		return 1;
	cmd = argv + 2;
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[64];
	snprintf(path, sizeof(path), "@fake-systemd-%d", (int)getpid());
	memcpy(sa.sun_path + 1, path + 1, strlen(path) - 1);
	int on = 1;
	setsockopt(sock, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	if (bind(sock, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path))) < 0) {
		say("bind: %s", strerror(errno));
		return 1;
	}
	setenv("NOTIFY_SOCKET", path, 1);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigprocmask(SIG_BLOCK, &s, NULL);
	int sfd = signalfd(-1, &s, SFD_CLOEXEC);
	bool restarting = false, stopping = false;
	start();
	for (;;) {
		struct pollfd p[2] = { { .fd = sock, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents & POLLIN)
			on_message(sock);
		if (!(p[1].revents & POLLIN))
			continue;
		struct signalfd_siginfo si;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP || si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			restarting = si.ssi_signo == SIGHUP;
			stopping = !restarting;
			say("%s", restarting ? "restart requested" : "stop requested");
			signal_service(SIGTERM);
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != mainpid)
				continue;
			bool failed = WIFSIGNALED(status) || WEXITSTATUS(status) != 0;
			say("main process %d %s %d", (int)pid, WIFSIGNALED(status) ? "killed by signal" : "exited with",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			mainpid = 0;
			struct pollfd q = { .fd = sock, .events = POLLIN };
			while (poll(&q, 1, 0) > 0 && (q.revents & POLLIN))
				on_message(sock); /* what it said before dying still counts */
			end_service();
			if (stopping || (!restarting && !failed)) {
				while (nstore)
					drop(store[0].name);
				say("stopped");
				return 0;
			}
			restarting = false;
			start();
		}
	}
}
