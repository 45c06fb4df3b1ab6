#include "reinit/claim.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mount.h"
#include "lib/parse.h"

#define CLAIM_MAGIC "lxcfs-claim 1\n"

/* The directory, if it is root's alone: anyone else able to write there could make us heal
 * (that is, take over) other instances' containers. */
static int open_dir(const char *dir, bool create)
{
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_uid != 0 || (st.st_mode & 022)) {
		log_error("%s is not root's alone (owner %u, mode %03o): its claims are not trusted", dir,
			  (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

int claim_record(const char *dir, const char *mnt)
{
	char path[PATH_MAX], name[32], tmp[40];
	dev_t dev;
	int r = mount_canonical(mnt, path, sizeof(path));
	if (r == 0)
		r = lxcfs_mount_at(path, &dev);
	int dfd = r < 0 ? r : open_dir(dir, true);
	if (dfd < 0) {
		log_warn("cannot record which device %s is (%s): after a stop, its containers' binds can "
			 "only be healed with `lxcfs --rebind --dead-dev`", mnt, strerror(-dfd));
		return dfd;
	}
	snprintf(name, sizeof(name), "%u:%u", major(dev), minor(dev));
	snprintf(tmp, sizeof(tmp), ".%s.new", name);
	unlinkat(dfd, tmp, 0);
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : 0;
	if (fd >= 0) {
		if (dprintf(fd, "%s%s\n", CLAIM_MAGIC, path) < 0 || fsync(fd) < 0)
			r = -EIO;
		close(fd);
		if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
			r = -errno;
		if (r < 0)
			unlinkat(dfd, tmp, 0);
	}
	if (r < 0)
		log_warn("cannot record %s/%s for %s: %s", dir, name, path, strerror(-r));
	close(dfd);
	return r;
}

/* One entry: root's regular file, the magic, one absolute path, a newline. */
static int read_claim(int dfd, const char *name, struct claim *out)
{
	char text[PATH_MAX + sizeof(CLAIM_MAGIC) + 2];
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	ssize_t n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 && st.st_size < (off_t)sizeof(text))
		n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n < 0)
		return -EINVAL;
	text[n] = '\0';
	size_t ml = strlen(CLAIM_MAGIC);
	char *p = text + ml;
	if ((size_t)n <= ml + 2 || memcmp(text, CLAIM_MAGIC, ml) != 0 || *p != '/' || text[n - 1] != '\n' ||
	    memchr(p, '\n', (size_t)n - ml - 1) || strlen(p) != (size_t)n - ml)
		return -EINVAL;
	text[n - 1] = '\0';
	out->mountpoint = strdup(p);
	out->mtime = st.st_mtime;
	return out->mountpoint ? 0 : -ENOMEM;
}

int claims_load(const char *dir, struct claims *out)
{
	*out = (struct claims){ 0 };
	int dfd = open_dir(dir, false);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue; /* ".", "..", and a claim being written */
		struct claim c = { 0 };
		if (parse_dev(e->d_name, &c.dev) < 0 || read_claim(dirfd(d), e->d_name, &c) < 0) {
			log_warn("%s/%s is not a claim of ours; ignored", dir, e->d_name);
			continue;
		}
		struct claim *more = reallocarray(out->v, out->n + 1, sizeof(*more));
		if (!more) {
			free(c.mountpoint);
			break;
		}
		out->v = more;
		out->v[out->n++] = c;
	}
	closedir(d);
	return 0;
}

const char *claims_owner(const struct claims *c, dev_t dev)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].dev == dev)
			return c->v[i].mountpoint;
	return NULL;
}

void claims_prune(const char *dir, const struct claims *c, const dev_t *seen, size_t nseen, time_t before)
{
	int dfd = -1;
	for (size_t i = 0; i < c->n; i++) {
		bool used = c->v[i].mtime >= before;
		for (size_t j = 0; j < nseen && !used; j++)
			used = seen[j] == c->v[i].dev;
		if (used)
			continue;
		if (dfd < 0 && (dfd = open_dir(dir, false)) < 0)
			return;
		char name[32];
		struct stat st;
		snprintf(name, sizeof(name), "%u:%u", major(c->v[i].dev), minor(c->v[i].dev));
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_mtime >= before)
			continue; /* gone, or written again meanwhile by a new mount of that number */
		if (unlinkat(dfd, name, 0) == 0)
			log_debug("claim %s (%s) dropped: no mount of that device is left anywhere", name,
				  c->v[i].mountpoint);
	}
	if (dfd >= 0)
		close(dfd);
}

void claims_free(struct claims *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].mountpoint);
	free(c->v);
	*c = (struct claims){ 0 };
}
