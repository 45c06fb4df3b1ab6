/* The tree's names looked up by one thread, alone, and held (see names.h). */
#include "worker/names.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/tree.h"
#include "lib/log.h"
#include "lib/mount.h"

/* More than the tree's static names (21 here): any beyond would be looked up, not held. */
#define HELD_MAX 128

static int held[HELD_MAX];
static int nheld = -1; /* -1: not looked up yet */

/* The static children of parent (at rel beneath root), and theirs. */
static void hold_below(int root, uint64_t parent, const char *rel)
{
	unsigned pos = 0;
	for (const struct node *c; (c = tree_next_child(parent, &pos));) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", c->name);
		int fd = mount_open_beneath(root, path); /* never into a mount made over one of ours */
		if (fd < 0)
			continue; /* not on this host (PSI), or made over: nothing to look up there */
		if (nheld < HELD_MAX)
			held[nheld++] = fd;
		else
			close(fd);
		if (c->type != NODE_VFILE)
			hold_below(root, c->ino, path);
	}
}

void names_hold(int fusefd, const char *mountpoint)
{
	if (nheld >= 0)
		return;
	dev_t ours;
	if (fuse_fd_device(0, fusefd, &ours) < 0)
		return;
	int root = open(mountpoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return;
	/* the device on top there, without a request to whoever serves it */
	struct statx sx;
	if (statx(root, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &sx) == 0 &&
	    makedev(sx.stx_dev_major, sx.stx_dev_minor) == ours) {
		nheld = 0;
		hold_below(root, INO_ROOT, "");
		log_debug("%d names of the tree looked up and held", nheld);
	}
	close(root);
}

void names_release(void)
{
	while (nheld > 0)
		close(held[--nheld]);
}
