/* reinit/heal/fresh: the pass holds each name a fresh bind is cloned from, and every directory
 * above it, once (a root met again, or a directory above another root, is not looked up twice);
 * a name that is not there, or reached through a symlink, is not held; a held name that leaves
 * the kernel's cache of names (its file unlinked) is said dropped, and one still there is not. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reinit/heal/fresh.h"
#include "check.h"

static const struct fresh_name *held(const struct fresh *f, const char *rel)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].rel, rel) == 0)
			return &f->v[i];
	return NULL;
}

int main(void)
{
	char dir[] = "/tmp/test_fresh.XXXXXX", p[256];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(p, sizeof(p), "%s/proc", dir);
	CHECK(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/proc/meminfo", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/proc/stat", dir);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/link", dir);
	CHECK(symlink("proc", p) == 0);
	int mntfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(mntfd >= 0);

	struct fresh f;
	fresh_init(&f, mntfd);
	CHECK(f.procfd >= 0);
	fresh_hold(&f, "/proc/meminfo");
	CHECK_INT(f.n, 2);
	CHECK(held(&f, "proc") && held(&f, "proc/meminfo"));
	fresh_hold(&f, "/proc/meminfo");
	fresh_hold(&f, "/proc");
	fresh_hold(&f, "/");
	CHECK_INT(f.n, 2);
	fresh_hold(&f, "/proc/stat");
	CHECK_INT(f.n, 3);
	fresh_hold(&f, "/proc/swaps"); /* not in this tree */
	fresh_hold(&f, "/link/stat");  /* through a symlink: never */
	CHECK_INT(f.n, 3);
	CHECK(!held(&f, "link") && !held(&f, "link/stat"));

	const struct fresh_name *m = held(&f, "proc/meminfo");
	CHECK(m && !fresh_dropped(f.procfd, m->fd));
	snprintf(p, sizeof(p), "%s/proc/meminfo", dir);
	CHECK(unlink(p) == 0);
	CHECK(m && fresh_dropped(f.procfd, m->fd));
	const struct fresh_name *s = held(&f, "proc/stat");
	CHECK(s && !fresh_dropped(f.procfd, s->fd));

	fresh_free(&f);
	CHECK_INT(f.n, 0);
	close(mntfd);
	snprintf(p, sizeof(p), "rm -rf %s", dir);
	CHECK(system(p) == 0);
	return check_failures ? 1 : 0;
}
