/* The keeper process of --restart-on-crash. */
#ifndef LXCFS_KEEPER_H
#define LXCFS_KEEPER_H

#include "lib/options.h"

/* `lxcfs --reinit` asks the keeper for an upgrade through reinit: SIGUSR1 sent with sigqueue and
 * this value (a plain SIGUSR1 is the upgrade that resumes where it can). */
#define KEEPER_REINIT_REQUEST 0x6c78726e /* "lxrn" */

/* Runs the keeper; returns only on a start-up failure (exit code).  resume: the fds and worker
 * an upgrading keeper hands to its re-executed self (NULL for a fresh start). */
int keeper_main(const struct options *opt, int argc, char **argv, const char *resume);

#endif
