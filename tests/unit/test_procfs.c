/* proc_ns_inode: the inode read from a namespace link's text is the one a stat of the link gives,
 * for this process and for a child in a mount namespace of its own; a process gone and a kind
 * that is no namespace are errors, not an inode. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/procfs.h"
#include "check.h"
#include "nschild.h"

static uint64_t stat_ino(pid_t pid, const char *kind)
{
	char p[64];
	struct stat st;
	snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, kind);
	return stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

int main(void)
{
	uint64_t ino = 0;
	CHECK_INT(proc_ns_inode(getpid(), "mnt", &ino), 0);
	CHECK_U64(ino, stat_ino(getpid(), "mnt"));
	CHECK_INT(proc_ns_inode(getpid(), "pid", &ino), 0);
	CHECK_U64(ino, stat_ino(getpid(), "pid"));
	CHECK_INT(proc_ns_inode(getpid(), "nothing", &ino), -ENOENT);

	/* a child in a mount namespace of its own (root only) */
	pid_t child;
	char c = child_in_own_mntns(NULL, NULL, &child);
	CHECK(c != 0);
	if (c == 'y') {
		uint64_t ours = 0, theirs = 0;
		CHECK_INT(proc_ns_inode(getpid(), "mnt", &ours), 0);
		CHECK_INT(proc_ns_inode(child, "mnt", &theirs), 0);
		CHECK(theirs != ours);
		CHECK_U64(theirs, stat_ino(child, "mnt"));
	} else {
		printf("(not root: no mount namespace of its own for the child)\n");
	}
	child_end(child);
	/* reaped: its pid names no process (unless reused at once, which a test run does not do) */
	ino = 12345;
	CHECK_INT(proc_ns_inode(child, "mnt", &ino), -ENOENT);
	CHECK_U64(ino, 12345);
	return check_failures != 0;
}
