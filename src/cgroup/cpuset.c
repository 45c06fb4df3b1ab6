#include "cgroup/cpuset.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

bool cpuset_has(const struct cpuset *set, unsigned cpu)
{
	return cpu < CPUSET_MAX && (set->bits[cpu / 64] >> (cpu % 64)) & 1;
}

void cpuset_add(struct cpuset *set, unsigned cpu)
{
	if (cpu < CPUSET_MAX)
		set->bits[cpu / 64] |= (uint64_t)1 << (cpu % 64);
}

unsigned cpuset_count(const struct cpuset *set)
{
	unsigned n = 0;
	for (unsigned i = 0; i < CPUSET_MAX / 64; i++)
		for (uint64_t w = set->bits[i]; w; w &= w - 1)
			n++;
	return n;
}

bool cpuset_empty(const struct cpuset *set)
{
	for (unsigned i = 0; i < CPUSET_MAX / 64; i++)
		if (set->bits[i])
			return false;
	return true;
}

int cpuset_next(const struct cpuset *set, unsigned from)
{
	for (unsigned i = from / 64; i < CPUSET_MAX / 64; i++) {
		uint64_t w = set->bits[i];
		if (i == from / 64)
			w &= ~(uint64_t)0 << (from % 64);
		if (w)
			return (int)(i * 64 + (unsigned)__builtin_ctzll(w));
	}
	return -1;
}

void cpuset_keep_first(struct cpuset *set, unsigned n)
{
	struct cpuset kept = { { 0 } };
	for (int c = cpuset_next(set, 0); c >= 0 && n > 0; c = cpuset_next(set, (unsigned)c + 1), n--)
		cpuset_add(&kept, (unsigned)c);
	*set = kept;
}

static int read_num(const char **p, unsigned *out)
{
	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	unsigned long v = 0;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (unsigned long)(**p - '0');
		if (v >= CPUSET_MAX)
			return -EINVAL;
		(*p)++;
	}
	*out = (unsigned)v;
	return 0;
}

int cpuset_parse(const char *s, struct cpuset *set)
{
	memset(set, 0, sizeof(*set));
	const char *p = s;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\n' || *p == '\0')
		return 0;
	for (;;) {
		unsigned a, b;
		if (read_num(&p, &a) < 0)
			goto bad;
		b = a;
		if (*p == '-') {
			p++;
			if (read_num(&p, &b) < 0 || b < a)
				goto bad;
		}
		for (unsigned c = a; c <= b; c++)
			cpuset_add(set, c);
		if (*p == ',') {
			p++;
			continue;
		}
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p)
			goto bad;
		return 0;
	}
bad:
	memset(set, 0, sizeof(*set));
	return -EINVAL;
}

bool cpuset_format(const struct cpuset *set, struct buf *out)
{
	bool first = true, ok = true;
	int c = cpuset_next(set, 0);
	while (c >= 0) {
		int end = c;
		while (end + 1 < CPUSET_MAX && cpuset_has(set, (unsigned)end + 1))
			end++;
		if (end == c)
			ok &= buf_printf(out, "%s%d", first ? "" : ",", c);
		else
			ok &= buf_printf(out, "%s%d-%d", first ? "" : ",", c, end);
		first = false;
		c = end + 1 < CPUSET_MAX ? cpuset_next(set, (unsigned)end + 1) : -1;
	}
	return ok;
}
