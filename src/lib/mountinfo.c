#include "lib/mountinfo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/fileio.h"
#include "lib/parse.h"

/* Copies one space-separated field, undoing the kernel's octal escapes (\040 for a space, \011,
 * \012, \134).  false if it does not fit or an escape is malformed. */
static bool take_field(const char **p, const char *end, char *dst, size_t size)
{
	const char *s = *p;
	size_t n = 0;
	while (s < end && *s != ' ') {
		char c = *s++;
		if (c == '\\') {
			if (end - s < 3 || s[0] < '0' || s[0] > '3' || s[1] < '0' || s[1] > '7' || s[2] < '0' ||
			    s[2] > '7')
				return false;
			c = (char)((s[0] - '0') * 64 + (s[1] - '0') * 8 + (s[2] - '0'));
			s += 3;
		}
		if (n + 1 >= size || c == '\0')
			return false;
		dst[n++] = c;
	}
	if (n == 0)
		return false;
	dst[n] = '\0';
	*p = s < end ? s + 1 : s;
	return true;
}

static bool take_uint(const char **p, const char *end, char stop, unsigned *out)
{
	const char *s = *p;
	unsigned long v = 0;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long)(*s++ - '0');
		if (v > 0xffffffffUL)
			return false;
	}
	if (s >= end || *s != stop)
		return false;
	*out = (unsigned)v;
	*p = s + 1;
	return true;
}

bool mountinfo_parse(const char *line, size_t len, struct mntent_info *m)
{
	const char *p = line, *end = line + len;
	unsigned id, parent;
	char opts[1024];
	if (!take_uint(&p, end, ' ', &id) || !take_uint(&p, end, ' ', &parent) ||
	    !take_uint(&p, end, ':', &m->major) || !take_uint(&p, end, ' ', &m->minor))
		return false;
	m->id = (int)id;
	m->parent = (int)parent;
	if (!take_field(&p, end, m->root, sizeof(m->root)) ||
	    !take_field(&p, end, m->mountpoint, sizeof(m->mountpoint)) ||
	    !take_field(&p, end, opts, sizeof(opts)))
		return false;
	/* Optional fields (shared:N, master:N...) end at a lone "-". */
	for (;;) {
		if (!take_field(&p, end, opts, sizeof(opts)))
			return false;
		if (strcmp(opts, "-") == 0)
			break;
	}
	if (!take_field(&p, end, m->fstype, sizeof(m->fstype)) ||
	    !take_field(&p, end, m->source, sizeof(m->source)))
		return false;
	if (!take_field(&p, end, m->superopts, sizeof(m->superopts)))
		m->superopts[0] = '\0';
	return m->root[0] == '/' && m->mountpoint[0] == '/';
}

int mountinfo_each_text(const char *text, size_t len, bool (*fn)(const struct mntent_info *m, void *arg), void *arg)
{
	struct mntent_info *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	size_t pos = 0, n;
	const char *line;
	while (next_line(text, len, &pos, &line, &n))
		if (mountinfo_parse(line, n, m) && !fn(m, arg))
			break;
	free(m);
	return 0;
}

int mountinfo_each(int dirfd, const char *path, bool (*fn)(const struct mntent_info *m, void *arg), void *arg)
{
	struct buf b = BUF_INIT;
	int r = file_read_at(dirfd, path, &b);
	if (r == 0)
		r = mountinfo_each_text(b.data, b.len, fn, arg);
	buf_free(&b);
	return r;
}

bool mountinfo_is_lxcfs(const struct mntent_info *m)
{
	return strcmp(m->fstype, "fuse.lxcfs") == 0;
}
