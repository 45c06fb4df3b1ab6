/* The keeper process of --restart-on-crash. */
#ifndef LXCFS_KEEPER_H
#define LXCFS_KEEPER_H

#include "lib/options.h"

/* Runs the keeper; returns only on a start-up failure (exit code).  resume: the argument of
 * --keeper-resume, the socket on which an upgrading keeper handed its fds and worker to its
 * re-executed self (or a version-0 spec, legacy.h); NULL for a fresh start. */
int keeper_main(const struct options *opt, int argc, char **argv, const char *resume);

#endif
