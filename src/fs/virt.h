/* Upstream's SIGUSR2: virtualization on or off.  Off, every reader is answered as the host is
 * (its own /proc and cpu files), whatever its container; the next SIGUSR2 turns it back on.
 * The setting belongs to the daemon, not to a worker: the keeper hands it to each worker it
 * starts (VIRT_ENV) and sends every change (CTL_VIRT); a standalone daemon keeps it across its
 * re-exec the same way. */
#ifndef LXCFS_VIRT_H
#define LXCFS_VIRT_H

#include <stdbool.h>

#define VIRT_ENV "LXCFS_VIRTUALIZATION" /* "off" when a new process starts with it off */

bool virt_on(void);
/* Sets it; logs a change, naming what caused it. */
void virt_set(bool on, const char *why);
/* The setting a new process was given (on unless VIRT_ENV says "off"). */
bool virt_from_env(void);

#endif
