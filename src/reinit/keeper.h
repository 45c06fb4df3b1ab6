/* The keeper process of --restart-on-crash. */
#ifndef LXCFS_KEEPER_H
#define LXCFS_KEEPER_H

#include "options.h"

/* Runs the keeper; returns only on a start-up failure (exit code).  resume: the fds and worker
 * an upgrading keeper hands to its re-executed self (NULL for a fresh start). */
int keeper_main(const struct options *opt, int argc, char **argv, const char *resume);

#endif
