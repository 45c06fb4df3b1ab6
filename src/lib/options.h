/* Command line, upstream-compatible. */
#ifndef LXCFS_OPTIONS_H
#define LXCFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define OPTIONS_MAX_DEAD_DEVS 16

struct options {
	bool debug;
	bool foreground;
	bool loadavg;
	bool swap_off;
	bool zswap_off;       /* --disable-zswap: Zswap and Zswapped of a container read 0 */
	bool psi_poll;        /* --enable-psi-poll: PSI triggers through the pressure files */
	bool cfs;
	bool pidfd;
	bool restart_on_crash;
	bool no_standby;      /* --no-standby: no warm standby worker (reinit/keeper/standby.c) */
	bool help;
	bool version;
	bool status;
	bool reinit;          /* ask the running keeper to upgrade through reinit */
	bool rebind;
	bool orphans;         /* --rebind: also heal unclaimed orphans */
	unsigned ndead_devs;  /* --rebind: devices named by --dead-dev */
	dev_t dead_devs[OPTIONS_MAX_DEAD_DEVS];
	dev_t live_dev;       /* --rebind: a live lxcfs whose mounts move to ours (a replacement) */
	bool release;         /* give containers back the kernel's files: detach our binds */
	bool replace;         /* take the mountpoint over from a live lxcfs of another kind */
	int threads;          /* request threads; 0 = one per online cpu, at least 2 */
	const char *runtime_dir;
	const char *pidfile;  /* NULL = <runtime_dir>/lxcfs.pid */
	const char *mountpoint;
	char *fuse_opts;      /* kernel fuse options from -o (default_permissions, max_read=N) */
	unsigned long mount_flags; /* MS_* flags: nosuid,nodev by default (and rdonly: see
				      options_parse), changed by -o */
	bool rw_given;        /* -o ro or -o rw: the operator chose */
};

/* 0 = run, 1 = printed help/version (exit 0), -1 = usage error (message already printed). */
int options_parse(struct options *o, int argc, char **argv);
void options_free(struct options *o);
/* The pidfile: -p, else <runtime-dir>/lxcfs.pid. */
void options_pidfile(const struct options *o, char *dst, size_t size);
/* Where a keeper reports its state: the pidfile's path with .status for .pid. */
void options_statusfile(const struct options *o, char *dst, size_t size);
void options_usage(const char *argv0);

#endif
