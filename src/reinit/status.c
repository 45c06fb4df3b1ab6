#include "reinit/status.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How a field is written and read back.  The composite lines keep the text operators and
 * scripts already read (recovery: ...; snapshots_in_use: N/M). */
enum kind { I32, U32, U64, STR, RECOVERY, FRACTION, TIER, ONOFF, YESNO };

struct field {
	const char *name;
	enum kind kind;
	size_t off, size;
	bool optional; /* added after the first format: a keeper from before leaves it out */
	size_t off2;   /* FRACTION: its denominator (off: its numerator), both uint32_t */
};

#define FIELD(name, kind, member, opt) { name, kind, offsetof(struct status_rec, member), sizeof(((struct status_rec *)0)->member), opt, 0 }
#define F(name, kind, member) FIELD(name, kind, member, false)
#define OPT(name, kind, member) FIELD(name, kind, member, true)
#define FRAC(name, num, den, opt) { name, FRACTION, offsetof(struct status_rec, num), sizeof(uint32_t), opt, offsetof(struct status_rec, den) }

static const struct field fields[] = {
	F("keeper_pid", I32, keeper_pid),
	F("keeper_version", STR, keeper_version),
	F("worker_pid", I32, worker_pid),
	F("worker_version", STR, worker_version),
	F("generation", U64, generation),
	F("restarts", U32, restarts),
	F("last_death", STR, last_death),
	F("last_upgrade", STR, last_upgrade),
	F("mountpoint", STR, mountpoint),
	F("state_version", U32, state_version),
	F("recovery", RECOVERY, resend),
	FRAC("snapshots_in_use", snaps_in_use, nsnaps, false),
	F("kept_renders", U32, kept_renders),
	F("virtualization", ONOFF, virt_on),
	OPT("tier", TIER, tier),
	OPT("standby_pid", I32, standby_pid),
	OPT("standby_primed", YESNO, standby_primed),
	FRAC("journal_slots_in_use", slots_in_use, nslots, true),
	OPT("journal_slots_dead", U32, slots_dead),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

static void render(FILE *f, const struct status_rec *r)
{
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *d = &fields[i];
		const char *p = (const char *)r + d->off;
		fprintf(f, "%s: ", d->name);
		switch (d->kind) {
		case I32: fprintf(f, "%" PRId32, *(const int32_t *)p); break;
		case U32: fprintf(f, "%" PRIu32, *(const uint32_t *)p); break;
		case U64: fprintf(f, "%" PRIu64, *(const uint64_t *)p); break;
		case STR: fprintf(f, "%.*s", (int)strnlen(p, d->size), p); break;
		case RECOVERY: fprintf(f, "resume=yes journal=yes resend=%s reinit=%s", yes(r->resend), yes(r->reinit)); break;
		case FRACTION:
			fprintf(f, "%" PRIu32 "/%" PRIu32, *(const uint32_t *)p, *(const uint32_t *)((const char *)r + d->off2));
			break;
		case TIER: fputs(tier_name(r->tier), f); break;
		case ONOFF: fputs(r->virt_on ? "on" : "off", f); break;
		case YESNO: fputs(yes(*(const bool *)p), f); break;
		}
		fputc('\n', f);
	}
}

int status_print(FILE *f, const struct status_rec *rec)
{
	render(f, rec);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

int status_write(const char *path, const struct status_rec *rec)
{
	char tmp[PATH_MAX + 8];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = errno;
		close(fd);
		unlink(tmp);
		return -e;
	}
	int r = status_print(f, rec);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	*out = v;
	return !errno && !*end && v <= max;
}

static bool parse_bool(const char *s, const char *on, const char *off, bool *out)
{
	*out = strcmp(s, on) == 0;
	return *out || strcmp(s, off) == 0;
}

static bool parse(const struct field *d, const char *v, struct status_rec *r)
{
	char *p = (char *)r + d->off;
	uint64_t n, m;
	char a[8], b[8], tail;
	switch (d->kind) {
	case I32:
		if (v[0] == '-' ? !parse_uint(v + 1, INT32_MAX, &n) : !parse_uint(v, INT32_MAX, &n))
			return false;
		*(int32_t *)p = v[0] == '-' ? -(int32_t)n : (int32_t)n;
		return true;
	case U32:
		return parse_uint(v, UINT32_MAX, &n) && (*(uint32_t *)p = (uint32_t)n, true);
	case U64:
		return parse_uint(v, UINT64_MAX, &n) && (*(uint64_t *)p = n, true);
	case STR:
		if (strlen(v) >= d->size)
			return false;
		memcpy(p, v, strlen(v) + 1);
		return true;
	case RECOVERY:
		return sscanf(v, "resume=yes journal=yes resend=%7[a-z] reinit=%7[a-z]%c", a, b, &tail) == 2 &&
		       parse_bool(a, "yes", "no", &r->resend) && parse_bool(b, "yes", "no", &r->reinit);
	case FRACTION: {
		const char *slash = strchr(v, '/');
		char num[24];
		if (!slash || (size_t)(slash - v) >= sizeof(num))
			return false;
		memcpy(num, v, (size_t)(slash - v));
		num[slash - v] = '\0';
		if (!parse_uint(num, UINT32_MAX, &n) || !parse_uint(slash + 1, UINT32_MAX, &m))
			return false;
		*(uint32_t *)p = (uint32_t)n;
		*(uint32_t *)((char *)r + d->off2) = (uint32_t)m;
		return true;
	}
	case TIER:
		for (int t = 0; t < TIER_N; t++)
			if (strcmp(v, tier_name((enum tier)t)) == 0)
				return r->tier = (enum tier)t, true;
		return false;
	case ONOFF:
		return parse_bool(v, "on", "off", &r->virt_on);
	case YESNO:
		return parse_bool(v, "yes", "no", (bool *)p);
	}
	return false;
}

int status_read(const char *text, struct status_rec *rec)
{
	*rec = (struct status_rec){ .tier = TIER_RESUME, .virt_on = true };
	bool seen[NFIELDS] = { false };
	char line[PATH_MAX + 64];
	for (const char *s = text; *s;) {
		size_t n = strcspn(s, "\n");
		if (n >= sizeof(line))
			return -EBADMSG;
		memcpy(line, s, n);
		line[n] = '\0';
		s += n + (s[n] == '\n');
		char *colon = strstr(line, ": ");
		if (!colon)
			return -EBADMSG;
		*colon = '\0';
		for (size_t i = 0; i < NFIELDS; i++)
			if (strcmp(line, fields[i].name) == 0) {
				if (seen[i] || !parse(&fields[i], colon + 2, rec))
					return -EBADMSG;
				seen[i] = true;
			}
		/* a field this version does not know (a newer keeper's) is passed over */
	}
	for (size_t i = 0; i < NFIELDS; i++)
		if (!seen[i] && !fields[i].optional)
			return -EBADMSG;
	return 0;
}
