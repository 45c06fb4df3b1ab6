#include "lib/options.h"

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "lib/log.h"
#include "lib/parse.h"
#include "version.h"

void options_usage(const char *argv0)
{
	printf("Usage: %s [options] MOUNTPOINT\n"
	       "\n"
	       "A FUSE filesystem that shows each container its own /proc and\n"
	       "/sys/devices/system/cpu values, computed from the container's cgroups.\n"
	       "\n"
	       "Options:\n"
	       "  -d, --debug            log every request (libfuse debug) and run in the foreground\n"
	       "  -f, --foreground       run in the foreground (always the case; accepted)\n"
	       "  -h, --help             print this help (-n too, as upstream 4.0 and 5.0 list it)\n"
	       "  -l, --enable-loadavg   per-container /proc/loadavg\n"
	       "  -o OPTIONS             comma-separated mount options\n"
	       "  -p, --pidfile FILE     pidfile (default: <runtime-dir>/lxcfs.pid)\n"
	       "  -s                     single-threaded (accepted, ignored)\n"
	       "  -u, --disable-swap     show no swap in meminfo and swaps\n"
	       "  --disable-zswap        a container's Zswap and Zswapped in meminfo read 0\n"
	       "  -v, --version          print the version\n"
	       "  --enable-cfs           count cpus from the cpu quota (cfs)\n"
	       "  --enable-pidfd         use pidfds (accepted; always used where available)\n"
	       "  --enable-psi-poll      proc/pressure/* take PSI triggers (write one, poll for\n"
	       "                         POLLPRI), armed on the reader's cgroup's pressure file\n"
	       "  --runtime-dir DIR      runtime directory (default: /run)\n"
	       "  --threads N            request threads (default: one per cpu, 2 to 8; at most 16)\n"
	       "  --restart-on-crash     a keeper process holds the mount and restarts the worker\n"
	       "                         that serves it; SIGUSR1 upgrades to the binary on disk\n"
	       "                         (without it, SIGUSR1 re-executes that binary in place)\n"
	       "  --no-standby           with --restart-on-crash: no worker waits ready beside the\n"
	       "                         serving one (a restart then forks and executes a new worker)\n"

	       "  --status               print the state of the running daemon (keeper, worker,\n"
	       "                         generation, restarts, last death, recovery paths)\n"
	       "  --reinit               ask the running keeper (same -p/--runtime-dir) to replace its\n"
	       "                         worker through a reset of the connection (a kernel with our\n"
	       "                         series), and wait for the outcome\n"
	       "  --rebind               heal dead lxcfs bind mounts in every mount namespace from\n"
	       "                         the live mount at MOUNTPOINT, then exit (done at every start):\n"
	       "                         those of devices this mountpoint mounted before, and\n"
	       "  --dead-dev MAJ:MIN     with --rebind: also those of this device (repeatable)\n"
	       "  --orphans              with --rebind: also binds of a device that no lxcfs mounts\n"
	       "                         or claims (left by a stopped upstream lxcfs)\n"
	       "  --replace              take MOUNTPOINT over from the live lxcfs serving it (upstream's):\n"
	       "                         every container's mounts of it move to ours, it is stopped,\n"
	       "                         and our worker serves on until `--restart-on-crash` adopts it\n"
	       "  --release              give every container back the kernel's files: detach each\n"
	       "                         bind of the lxcfs at MOUNTPOINT in every mount namespace\n"
	       "\n"
	       "Signals: SIGUSR1 upgrades, SIGUSR2 switches virtualization off and on (as upstream's),\n"
	       "SIGTERM and SIGINT unmount and exit (SIGHUP too without --restart-on-crash).\n",
	       argv0);
}

/* Options we set ourselves, or libfuse high-level options that mean nothing to the kernel and
 * to the low-level API: dropped, as upstream drops them, so -o cannot change the mount's identity. */
static const char *const dropped[] = {
	"allow_other", "allow_root", "fsname", "subtype", "user_id", "group_id", "fd", "rootmode",
	"direct_io", "kernel_cache", "auto_cache", "entry_timeout", "attr_timeout", "negative_timeout",
	"use_ino", "readdir_ino", "hard_remove", "nonempty", "auto_unmount", "max_idle_threads",
	"clone_fd", "debug", "umask", "uid", "gid", "intr", "intr_signal", "remember", "noforget",
	"modules", "ac_attr_timeout", "big_writes", "large_read", "splice_read", "splice_write",
	"splice_move", "no_remote_lock", "no_remote_flock", "no_remote_posix_lock",
};

/* Options the fuse kernel module takes in the mount data. */
static const char *const kernel_data[] = { "default_permissions", "max_read" };

/* Generic mount flags: name, flag, whether the name sets (1) or clears (0) it. */
static const struct {
	const char *name;
	unsigned long flag;
	bool set;
} vfs_flags[] = {
	{ "ro", MS_RDONLY, true },	  { "rw", MS_RDONLY, false },	      { "nosuid", MS_NOSUID, true },
	{ "suid", MS_NOSUID, false },	  { "nodev", MS_NODEV, true },	      { "dev", MS_NODEV, false },
	{ "noexec", MS_NOEXEC, true },	  { "exec", MS_NOEXEC, false },	      { "noatime", MS_NOATIME, true },
	{ "atime", MS_NOATIME, false },	  { "relatime", MS_RELATIME, true },  { "strictatime", MS_STRICTATIME, true },
	{ "sync", MS_SYNCHRONOUS, true }, { "async", MS_SYNCHRONOUS, false }, { "dirsync", MS_DIRSYNC, true },
};

static bool in_list(const char *const *list, size_t n, const char *opt)
{
	size_t len = strcspn(opt, "=");
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncmp(list[i], opt, len) == 0)
			return true;
	return false;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int add_fuse_opts(struct options *o, const char *arg)
{
	char *copy = strdup(arg);
	if (!copy)
		return -1;
	char *save = NULL;
	int r = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		if (in_list(dropped, N(dropped), tok))
			continue;
		size_t i = 0;
		for (; i < N(vfs_flags); i++)
			if (strcmp(tok, vfs_flags[i].name) == 0)
				break;
		if (i < N(vfs_flags)) {
			if (vfs_flags[i].flag == MS_RDONLY)
				o->rw_given = true;
			if (vfs_flags[i].set)
				o->mount_flags |= vfs_flags[i].flag;
			else
				o->mount_flags &= ~vfs_flags[i].flag;
			continue;
		}
		if (!in_list(kernel_data, N(kernel_data), tok)) {
			log_cmdline_error("unknown mount option '%s'", tok);
			r = -1;
			break;
		}
		char *n = NULL;
		if (asprintf(&n, "%s%s%s", o->fuse_opts ? o->fuse_opts : "", o->fuse_opts ? "," : "", tok) < 0) {
			r = -1;
			break;
		}
		free(o->fuse_opts);
		o->fuse_opts = n;
	}
	free(copy);
	return r;
}

static int take_fuse_opts(struct options *o, const char *arg)
{
	return add_fuse_opts(o, arg);
}

static int take_pidfile(struct options *o, const char *arg)
{
	o->pidfile = arg;
	return 0;
}

static int take_runtime_dir(struct options *o, const char *arg)
{
	o->runtime_dir = arg;
	return 0;
}

static int take_threads(struct options *o, const char *arg)
{
	char *end;
	long n = strtol(arg, &end, 10);
	if (*end || n < 1 || n > 64) {
		log_cmdline_error("--threads wants a number from 1 to 64");
		return -1;
	}
	o->threads = (int)n;
	return 0;
}

static int take_dead_dev(struct options *o, const char *arg)
{
	if (o->ndead_devs == OPTIONS_MAX_DEAD_DEVS || parse_dev(arg, &o->dead_devs[o->ndead_devs]) < 0) {
		log_cmdline_error("--dead-dev wants MAJ:MIN (at most %d of them)", OPTIONS_MAX_DEAD_DEVS);
		return -1;
	}
	o->ndead_devs++;
	return 0;
}

static int take_live_dev(struct options *o, const char *arg)
{
	if (parse_dev(arg, &o->live_dev) < 0) {
		log_cmdline_error("--live-dev wants MAJ:MIN");
		return -1;
	}
	return 0;
}

static int refuse_cgroup(struct options *o, const char *arg)
{
	log_cmdline_error("--enable-cgroup (upstream 6.0's cgroupfs emulation under MOUNTPOINT/cgroup) "
		"is not provided; upstream dropped it too. Containers see their own cgroups through "
		"cgroup namespaces: let LXC mount cgroupfs in them (lxc.mount.auto = cgroup)");
	return -1;
}

#define NO_FLAG SIZE_MAX
#define FLAG(member) offsetof(struct options, member)

/* Every option: its long name (NULL: short only), its short letter (0: long only), the bool it
 * sets, or the function that takes it (with its argument, if it has one). */
static const struct optdef {
	const char *name;
	char letter;
	size_t flag;
	int (*take)(struct options *o, const char *arg);
	bool arg;
} optdefs[] = {
	{ "debug", 'd', FLAG(debug), NULL, false },
	{ "disable-swap", 'u', FLAG(swap_off), NULL, false },
	{ "disable-zswap", 0, FLAG(zswap_off), NULL, false },
	{ "enable-cgroup", 0, NO_FLAG, refuse_cgroup, false },
	{ "enable-psi-poll", 0, FLAG(psi_poll), NULL, false },
	{ "enable-loadavg", 'l', FLAG(loadavg), NULL, false },
	{ "foreground", 'f', FLAG(foreground), NULL, false },
	{ "help", 'h', FLAG(help), NULL, false },
	{ NULL, 'n', FLAG(help), NULL, false }, /* upstream 4.0.x and 5.0.x list "-n, --help" (a typo
						   they never parsed) */
	{ NULL, 's', NO_FLAG, NULL, false },    /* single-threaded: accepted, ignored */
	{ "version", 'v', FLAG(version), NULL, false },
	{ "pidfile", 'p', NO_FLAG, take_pidfile, true },
	{ NULL, 'o', NO_FLAG, take_fuse_opts, true },
	{ "enable-cfs", 0, FLAG(cfs), NULL, false },
	{ "enable-pidfd", 0, FLAG(pidfd), NULL, false },
	{ "runtime-dir", 0, NO_FLAG, take_runtime_dir, true },
	{ "threads", 0, NO_FLAG, take_threads, true },
	{ "restart-on-crash", 0, FLAG(restart_on_crash), NULL, false },
	{ "no-standby", 0, FLAG(no_standby), NULL, false },
	{ "status", 0, FLAG(status), NULL, false },
	{ "reinit", 0, FLAG(reinit), NULL, false },
	{ "rebind", 0, FLAG(rebind), NULL, false },
	{ "orphans", 0, FLAG(orphans), NULL, false },
	{ "dead-dev", 0, NO_FLAG, take_dead_dev, true },
	{ "live-dev", 0, NO_FLAG, take_live_dev, true },
	{ "release", 0, FLAG(release), NULL, false },
	{ "replace", 0, FLAG(replace), NULL, false },
};
#define LONG_ONLY 256 /* getopt's value for optdefs[i] without a letter: LONG_ONLY + i */

/* getopt's tables, from optdefs. */
static void getopt_tables(struct option *longopts, char *shortopts)
{
	char *sp = shortopts;
	*sp++ = ':'; /* a missing argument is ':', not '?' */
	size_t nl = 0;
	for (size_t i = 0; i < N(optdefs); i++) {
		const struct optdef *d = &optdefs[i];
		if (d->letter) {
			*sp++ = d->letter;
			if (d->arg)
				*sp++ = ':';
		}
		if (d->name)
			longopts[nl++] = (struct option){ d->name, d->arg ? required_argument : no_argument, NULL,
							  d->letter ? d->letter : LONG_ONLY + (int)i };
	}
	*sp = '\0';
	longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
}

static const struct optdef *optdef_of(int c)
{
	if (c >= LONG_ONLY && c < LONG_ONLY + (int)N(optdefs))
		return &optdefs[c - LONG_ONLY];
	for (size_t i = 0; i < N(optdefs); i++)
		if (optdefs[i].letter && optdefs[i].letter == c)
			return &optdefs[i];
	return NULL;
}

/* One option getopt returned: 0, or -1 (said why). */
static int take_option(struct options *o, int c, char **argv)
{
	const struct optdef *d = optdef_of(c);
	if (d && d->flag != NO_FLAG)
		*(bool *)((char *)o + d->flag) = true;
	if (d)
		return d->take ? d->take(o, optarg) : 0;
	if (c == ':')
		log_cmdline_error("option %s needs an argument (lxcfs --help lists them)", argv[optind - 1]);
	else if (optopt)
		log_cmdline_error("unknown option -%c (lxcfs --help lists them)", optopt);
	else
		log_cmdline_error("unknown option %s (lxcfs --help lists them)", argv[optind - 1]);
	return -1;
}

/* The options that go together and those that do not: 0 or -1 (said why). */
static int check_combinations(const struct options *o)
{
	if ((o->orphans || o->ndead_devs || o->live_dev) && !o->rebind) {
		log_cmdline_error("--orphans, --dead-dev and --live-dev go with --rebind");
		return -1;
	}
	if (o->replace + o->release + o->rebind + o->status > 1 && !(o->release && o->rebind)) {
		log_cmdline_error("--replace, --release, --rebind and --status are separate commands");
		return -1;
	}
	if (o->status && o->reinit) {
		log_cmdline_error("--status and --reinit are two commands; give one");
		return -1;
	}
	return 0;
}

int options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[N(optdefs) + 1];
	char shortopts[2 * N(optdefs) + 2];
	getopt_tables(longopts, shortopts);
	memset(o, 0, sizeof(*o));
	o->runtime_dir = "/run";
	o->mount_flags = MS_NOSUID | MS_NODEV;
	/* 0, not 1: only then does glibc restart its scan from scratch.  With 1, a parse that
	 * stopped inside a cluster of short options ("-zu": refused at z) leaves getopt pointing
	 * into that argv, and the next parse reads the rest of the old cluster (found by fuzzing:
	 * a use after free, or options nobody gave). */
	optind = 0;
	opterr = 0; /* its messages are ours: one line, at error priority in the journal */
	int c;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if (take_option(o, c, argv) < 0)
			return -1;
	if (o->help) {
		options_usage(argv[0]);
		return 1;
	}
	if (o->version) {
		printf("%s\n", LXCFS_VERSION);
		return 1;
	}
	if (check_combinations(o) < 0)
		return -1;
	/* A read-only superblock, unless something must be written (PSI triggers) or -o says rw:
	 * the kernel marks a FUSE inode's atime stale at every read unless its superblock is
	 * read-only (fuse_invalidate_atime), and the next fstat(2), every cat's, then costs a
	 * GETATTR round trip to us: 4 synchronous requests a cat instead of 3 (bench/floor). */
	if (!o->psi_poll && !o->rw_given)
		o->mount_flags |= MS_RDONLY;
	if ((o->status || o->reinit) && optind == argc)
		return 0; /* they find the daemon by its pidfile: no mountpoint needed */
	if (optind != argc - 1) {
		log_cmdline_error("%s", optind >= argc ? "missing mountpoint" : "too many arguments");
		options_usage(argv[0]);
		return -1;
	}
	o->mountpoint = argv[optind];
	return 0;
}

void options_free(struct options *o)
{
	free(o->fuse_opts);
	o->fuse_opts = NULL;
}

void options_pidfile(const struct options *o, char *dst, size_t size)
{
	if (o->pidfile)
		snprintf(dst, size, "%s", o->pidfile);
	else
		snprintf(dst, size, "%s/lxcfs.pid", o->runtime_dir);
}

void options_statusfile(const struct options *o, char *dst, size_t size)
{
	char pid[4096];
	options_pidfile(o, pid, sizeof(pid));
	size_t n = strlen(pid);
	if (n > 4 && strcmp(pid + n - 4, ".pid") == 0)
		pid[n - 4] = '\0';
	snprintf(dst, size, "%s.status", pid);
}
