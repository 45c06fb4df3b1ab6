#include "worker/worker.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "reinit/state_journal.h"

/* Each request thread reads into a journal slot of its own, and at times three workers' threads
 * hold slots at once: the serving worker's, a dead one's until the journal has answered them,
 * a new one's during an upgrade.  More threads than a third of the journal would fill it there,
 * and a thread without a slot either waits for one (fs/serve.c) or, if none of its worker's has
 * one, holds requests a kernel that cannot resend them loses at a crash.  So no more run,
 * whatever --threads asks. */
#define WORKER_THREADS_MAX (STATE_SLOTS / 3)

int worker_threads(const struct options *o)
{
	static bool said;
	if (o->threads > WORKER_THREADS_MAX) {
		if (!said)
			log_warn("--threads %d: the journal carries %d request threads per worker; %d run",
				 o->threads, WORKER_THREADS_MAX, WORKER_THREADS_MAX);
		said = true;
		return WORKER_THREADS_MAX;
	}
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
