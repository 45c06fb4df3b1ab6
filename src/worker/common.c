#include "worker/worker.h"

#include <stdlib.h>
#include <string.h>

int worker_threads(const struct options *o)
{
	if (o->threads > 0)
		return o->threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 2 ? 2 : n > 8 ? 8 : (int)n;
}

enum recovery worker_recovery(void)
{
	const char *m = getenv("LXCFS_RECOVERY"); /* tests choose the path they exercise */
	if (m && strcmp(m, "journal") == 0)
		return RECOVER_JOURNAL;
	if (m && strcmp(m, "resend") == 0)
		return RECOVER_RESEND;
	return RECOVER_BOTH;
}

static int connection_gone;

bool worker_connection_gone(void)
{
	return connection_gone;
}

void worker_end_of_connection(void)
{
	/* The connection is gone (unmounted, aborted): nothing left to serve. */
	connection_gone = 1;
	kill(getpid(), SIGTERM);
}

sigset_t worker_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	sigaddset(&s, SIGPIPE);
	sigaddset(&s, SIGCHLD);
	return s;
}
