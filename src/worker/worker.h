/* What lxcfs-worker's modes share (src/worker/): the request threads' count, the signals a
 * serving process takes in its loop, the end of the connection.  Each mode is one file:
 * served.c (a keeper's worker), standalone.c (upstream's one process), main.c (which mode, the
 * upgrade probe, the rebind tier's command). */
#ifndef LXCFS_WORKER_H
#define LXCFS_WORKER_H

#include <signal.h>
#include <stdbool.h>

#include "fs/serve.h"
#include "lib/options.h"

int worker_threads(const struct options *o);
/* Which recovery a takeover uses ($LXCFS_RECOVERY: the tests choose the path they exercise). */
enum recovery worker_recovery(void);
sigset_t worker_signals(void);
/* The request loop's callback when the connection is gone (unmounted, aborted): the mode's loop
 * gets SIGTERM and then worker_connection_gone() says why. */
void worker_end_of_connection(void);
bool worker_connection_gone(void);

int served_main(const char *arg, struct options *opt, bool v0_reinit);
int standalone_main(struct options *opt, int nargs, char **args, const char *resume);

#endif
