#include "lib/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

int parse_u64(const char *s, bool allow_max, uint64_t *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (allow_max && strncmp(s, "max", 3) == 0) {
		const char *e = s + 3;
		while (*e && isspace((unsigned char)*e))
			e++;
		if (*e)
			return -EINVAL;
		*out = UINT64_MAX;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	uint64_t v = 0;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	while (*s && isspace((unsigned char)*s))
		s++;
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *linelen)
{
	if (*pos >= len)
		return false;
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	size_t n = nl ? (size_t)(nl - start) : len - *pos;
	*line = start;
	*linelen = n;
	*pos += n + (nl ? 1 : 0);
	return true;
}

/* Parses the digits that start p (bounded by end) after skipping blanks. */
static int digits_u64(const char *p, const char *end, uint64_t *out)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || !isdigit((unsigned char)*p))
		return -EINVAL;
	uint64_t v = 0;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int find_key_value(const char *text, size_t len, const char *key, char sep, uint64_t *out)
{
	size_t klen = strlen(key), pos = 0, ll;
	const char *l;
	while (next_line(text, len, &pos, &l, &ll)) {
		if (ll > klen && memcmp(l, key, klen) == 0 && l[klen] == sep)
			return digits_u64(l + klen + 1, l + ll, out);
	}
	return -ENOENT;
}

int kv_get_u64(const char *text, size_t len, const char *key, uint64_t *out)
{
	return find_key_value(text, len, key, ' ', out);
}

int meminfo_get_kb(const char *text, size_t len, const char *key, uint64_t *out)
{
	return find_key_value(text, len, key, ':', out);
}

const char *stat_field(const char *text, int field)
{
	const char *p = strrchr(text, ')');
	if (!p || field < 3)
		return NULL;
	p++;
	for (int f = 3; *p; f++) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (f == field)
			return p;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

int stat_starttime(const char *text, uint64_t *out)
{
	const char *p = stat_field(text, 22);
	if (!p || !isdigit((unsigned char)*p))
		return -EINVAL;
	uint64_t v = 0;
	for (; isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE; /* no start time is that late: the file is not what it claims */
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int status_nspid(const char *text, long *out)
{
	const char *ns = strstr(text, "\nNSpid:");
	if (!ns)
		return -EINVAL;
	const char *e = strchr(ns + 1, '\n');
	const char *last = e ? e : ns + strlen(ns);
	while (last > ns && (last[-1] == ' ' || last[-1] == '\t'))
		last--;
	const char *digits = last;
	while (digits > ns && digits[-1] >= '0' && digits[-1] <= '9')
		digits--;
	if (digits == last)
		return -EINVAL;
	*out = strtol(digits, NULL, 10);
	return 0;
}

int status_ppid(const char *text, long *out)
{
	const char *pp = strstr(text, "\nPPid:");
	if (!pp)
		return -EINVAL;
	*out = strtol(pp + 6, NULL, 10);
	return 0;
}

int proc_cgroups_find(const char *text, size_t len, const char *opts, unsigned *hierarchy_id, unsigned *ssid)
{
	size_t pos = 0, ll;
	const char *line;
	int id = -1;
	while (next_line(text, len, &pos, &line, &ll)) {
		if (ll == 0 || line[0] == '#')
			continue;
		id++;
		char row[128], name[64];
		unsigned hid;
		snprintf(row, sizeof(row), "%.*s", (int)(ll < sizeof(row) ? ll : sizeof(row) - 1), line);
		if (sscanf(row, "%63s %u", name, &hid) != 2 || hid == 0)
			continue;
		if (opt_list_has(opts, name)) {
			*hierarchy_id = hid;
			*ssid = (unsigned)id;
			return 0;
		}
	}
	return -ENODEV; /* (not -ENOENT: that says the cgroup is gone) */
}

bool opt_list_has(const char *opts, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = opts; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && memcmp(p, name, n) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}

bool path_clean_abs(const char *r)
{
	if (r[0] != '/' || strstr(r, "//"))
		return false;
	for (const char *p = r; *p;) {
		while (*p == '/')
			p++;
		size_t n = strcspn(p, "/");
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

int parse_dev(const char *s, dev_t *out)
{
	char *end;
	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	unsigned long ma = strtoul(s, &end, 10);
	if (*end != ':' || !isdigit((unsigned char)end[1]))
		return -EINVAL;
	const char *m = end + 1;
	unsigned long mi = strtoul(m, &end, 10);
	if (*end || ma > 0xfff || mi > 0xfffff)
		return -EINVAL;
	*out = makedev(ma, mi);
	return 0;
}
