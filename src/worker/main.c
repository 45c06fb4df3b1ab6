/* lxcfs-worker: the FUSE server.  Its modes (proto.h):
 *   lxcfs-worker --standalone [lxcfs options] MOUNTPOINT
 *       one process mounts and serves, as upstream lxcfs does (what `lxcfs` runs without
 *       --restart-on-crash); SIGUSR1 re-executes the binary on disk in place
 *   lxcfs-worker --standalone-resume SOCKFD [options] MOUNTPOINT
 *       that re-executed image: takes the connection over from its previous self, same pid; its
 *       fds come in STANDALONE_RESUME on SOCKFD
 *   lxcfs-worker --serve CTLFD [lxcfs options] MOUNTPOINT
 *       serves the keeper's connection, whose fds come in START on CTLFD: takes over from a
 *       predecessor through the state, or resets the connection through the kernel series
 *       (FUSE_DEV_IOC_REINIT, then FUSE_DEV_IOC_BM_REVAL for the bind mounts)
 *   lxcfs-worker --check-state STATEFD
 *       the upgrade probe: can this binary take over that state?  exit 0 or say why not
 *   lxcfs-worker --rebind [--dead-dev MAJ:MIN]... [--orphans] MOUNTPOINT
 *       the rebind tier: heal dead lxcfs bind mounts in every mount namespace from MOUNTPOINT
 * Older binaries' positional forms (--serve F,S,C,G, --serve-reinit, --standalone-resume with a
 * spec) are read by legacy.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/ctx.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "reinit/claim.h"
#include "reinit/heal/rebind.h"

#include "worker/worker.h"

static int check_state(const char *arg)
{
	char *end;
	long fd = strtol(arg, &end, 10);
	const char *why = NULL;
	struct state st;
	if (*end || fd < 0) {
		fprintf(stderr, "bad state fd '%s'\n", arg);
		return 1;
	}
	if (state_attach(&st, (int)fd, &why) < 0) {
		fprintf(stderr, "%s (this binary: lxcfs %s, state format %d)\n", why, LXCFS_VERSION,
			LXCFS_STATE_VERSION);
		return 1;
	}
	/* Replay the recorded INIT into a session of ours: our answer must be the one the kernel
	 * got, or we would serve a connection negotiated differently. */
	struct state_hdr copy = *st.hdr;
	struct state scratch = { .fd = -1, .hdr = &copy };
	struct options o = { 0 };
	struct lxcfs c = { .opt = &o, .host = &lxcfs_host, .st = &scratch };
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int r = lxcfs_session(&c) == 0 && devnull >= 0 && serve_attach(&c, devnull) == 0
			? serve_replay_init(&c.serve)
			: -EIO;
	if (c.se)
		fuse_session_destroy(c.se);
	state_detach(&st);
	if (r < 0) {
		fprintf(stderr, "lxcfs %s would negotiate another fuse connection than the running one\n",
			LXCFS_VERSION);
		return 1;
	}
	return 0;
}

static int rebind_main(int argc, char **argv)
{
	log_set_prefix("lxcfs-rebind");
	struct options opt;
	int pr = options_parse(&opt, argc, argv);
	if (pr != 0 || !opt.rebind) {
		fprintf(stderr, "usage: lxcfs --rebind [--dead-dev MAJ:MIN]... [--live-dev MAJ:MIN] [--orphans] MOUNTPOINT\n"
				"       lxcfs --release MOUNTPOINT\n");
		return 2;
	}
	options_free(&opt);
	struct rebind_req req = { .devs = opt.dead_devs, .ndevs = opt.ndead_devs, .orphans = opt.orphans,
				  .claim_dir = CLAIM_DIR, .live = opt.live_dev, .release = opt.release };
	/* what the pass did to each mount it took, for the summary */
	const char *done = opt.release ? "released" : opt.live_dev ? "moved or healed" : "healed";
	const char *what = opt.release ? "" : opt.live_dev ? "" : "dead ";
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC);
	struct rebind_stats s;
	if (rebind_all(opt.mountpoint, &req, &s) < 0)
		return 1;
	double ms = mono_since_ms(t0);
	char unvisited[160];
	int at = snprintf(unvisited, sizeof(unvisited), "; %u %s in %.1f ms", s.met,
			  s.listed ? "mount namespaces listed" : "processes walked", s.walk_ms);
	if (s.unvisited)
		snprintf(unvisited + at, sizeof(unvisited) - (size_t)at, "; %u namespace(s) with only other live "
			 "instances' mounts not entered", s.unvisited);
	if (s.healed || s.failed || s.left)
		log_info("rebind: %u %smount(s) %s in %u namespace(s), %u failed, %u left alone (%.1f ms%s)", s.healed,
			 what, done, s.namespaces, s.failed, s.left, ms, unvisited);
	else
		log_info("rebind: no %slxcfs mount to %s (%.1f ms%s)", what, opt.release ? "release" : "heal", ms,
			 unvisited);
	return s.failed ? REBIND_EXIT_PARTIAL : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], MODE_CHECK_STATE) == 0)
		return check_state(argv[2]);
	if (argc >= 2 && strcmp(argv[1], MODE_REBIND) == 0)
		return rebind_main(argc, argv);
	bool reinit = argc >= 3 && strcmp(argv[1], MODE_SERVE_REINIT) == 0; /* protocol version 0 */
	bool keeper = reinit || (argc >= 3 && strcmp(argv[1], MODE_SERVE) == 0);
	bool resume = argc >= 3 && strcmp(argv[1], MODE_STANDALONE_RESUME) == 0;
	if (!keeper && !resume && (argc < 2 || strcmp(argv[1], MODE_STANDALONE) != 0)) {
		fprintf(stderr, "lxcfs-worker is started by lxcfs; run lxcfs instead\n");
		return 2;
	}
	const char *arg = keeper || resume ? argv[2] : NULL;
	int skip = keeper || resume ? 2 : 1;
	argv[skip] = argv[0];
	struct options opt;
	int pr = options_parse(&opt, argc - skip, argv + skip);
	if (pr != 0)
		return pr > 0 ? 0 : 1;
	log_set_debug(opt.debug);
	int rc = keeper ? served_main(arg, &opt, reinit) : standalone_main(&opt, argc - skip, argv + skip, arg);
	options_free(&opt);
	return rc;
}
