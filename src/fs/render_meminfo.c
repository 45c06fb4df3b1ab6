/* /proc/meminfo and /proc/swaps: the host's files with the container's memory numbers. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "cgroup/memstat.h"
#include "lib/parse.h"
#include "fs/render.h"

/* The lines we replace, in kB; every other host line passes through. */
struct memview {
	uint64_t total, free, avail, buffers, cached, swap_cached, active, inactive;
	uint64_t active_anon, inactive_anon, active_file, inactive_file, unevictable;
	uint64_t dirty, writeback, anon_pages, mapped, shmem, slab, sreclaimable, sunreclaim;
	uint64_t anon_huge, shmem_huge, shmem_pmd, swap_total, swap_free, zswap, zswapped;
};

static const struct {
	const char *label;
	size_t len;
	size_t off;
} replaced[] = {
#define L(s) s, sizeof(s) - 1
	{ L("MemTotal:"), offsetof(struct memview, total) },
	{ L("MemFree:"), offsetof(struct memview, free) },
	{ L("MemAvailable:"), offsetof(struct memview, avail) },
	{ L("Buffers:"), offsetof(struct memview, buffers) },
	{ L("Cached:"), offsetof(struct memview, cached) },
	{ L("SwapCached:"), offsetof(struct memview, swap_cached) },
	{ L("Active:"), offsetof(struct memview, active) },
	{ L("Inactive:"), offsetof(struct memview, inactive) },
	{ L("Active(anon):"), offsetof(struct memview, active_anon) },
	{ L("Inactive(anon):"), offsetof(struct memview, inactive_anon) },
	{ L("Active(file):"), offsetof(struct memview, active_file) },
	{ L("Inactive(file):"), offsetof(struct memview, inactive_file) },
	{ L("Unevictable:"), offsetof(struct memview, unevictable) },
	{ L("Dirty:"), offsetof(struct memview, dirty) },
	{ L("Writeback:"), offsetof(struct memview, writeback) },
	{ L("AnonPages:"), offsetof(struct memview, anon_pages) },
	{ L("Mapped:"), offsetof(struct memview, mapped) },
	{ L("Shmem:"), offsetof(struct memview, shmem) },
	{ L("Slab:"), offsetof(struct memview, slab) },
	{ L("SReclaimable:"), offsetof(struct memview, sreclaimable) },
	{ L("SUnreclaim:"), offsetof(struct memview, sunreclaim) },
	{ L("AnonHugePages:"), offsetof(struct memview, anon_huge) },
	{ L("ShmemHugePages:"), offsetof(struct memview, shmem_huge) },
	{ L("ShmemPmdMapped:"), offsetof(struct memview, shmem_pmd) },
	{ L("SwapTotal:"), offsetof(struct memview, swap_total) },
	{ L("SwapFree:"), offsetof(struct memview, swap_free) },
	{ L("Zswap:"), offsetof(struct memview, zswap) },
	{ L("Zswapped:"), offsetof(struct memview, zswapped) },
#undef L
};

static uint64_t sub0(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Swap the container may use and has used, in kB, bounded by the host's swap. */
static void swap_view(const struct memstat *m, uint64_t host_swap_kb, uint64_t *total, uint64_t *used)
{
	*total = *used = 0;
	if (!m->has_swap)
		return;
	*total = min64(m->swap_limit / 1024, host_swap_kb);
	*used = min64(m->swap_usage / 1024, *total);
}

static void compute(const struct memstat *m, const struct buf *host, struct memview *v)
{
	uint64_t host_total = 0, host_swap = 0;
	meminfo_get_kb(host->data, host->len, "MemTotal", &host_total);
	meminfo_get_kb(host->data, host->len, "SwapTotal", &host_swap);
	memset(v, 0, sizeof(*v));
	v->total = min64(m->limit / 1024, host_total);
	uint64_t used = min64(m->usage / 1024, v->total);
	v->free = v->total - used;
	v->cached = m->file / 1024;
	v->avail = min64(v->free + v->cached, v->total);
	v->active_anon = m->active_anon / 1024;
	v->inactive_anon = m->inactive_anon / 1024;
	v->active_file = m->active_file / 1024;
	v->inactive_file = m->inactive_file / 1024;
	v->active = v->active_anon + v->active_file;
	v->inactive = v->inactive_anon + v->inactive_file;
	v->unevictable = m->unevictable / 1024;
	v->dirty = m->file_dirty / 1024;
	v->writeback = m->file_writeback / 1024;
	v->anon_pages = sub0(m->active_anon + m->inactive_anon, m->shmem) / 1024;
	v->mapped = m->file_mapped / 1024;
	v->shmem = m->shmem / 1024;
	v->sreclaimable = m->slab_reclaimable / 1024;
	v->sunreclaim = m->slab_unreclaimable / 1024;
	v->slab = v->sreclaimable + v->sunreclaim;
	v->anon_huge = m->anon_thp / 1024;
	uint64_t swap_used;
	swap_view(m, host_swap, &v->swap_total, &swap_used);
	v->swap_free = v->swap_total - swap_used;
	v->zswap = m->zswap / 1024;
	v->zswapped = m->zswapped / 1024;
}

int render_meminfo(const struct rctx *c, struct buf *out)
{
	struct buf host = BUF_INIT;
	int r = host_proc_read(c, "meminfo", &host);
	struct memstat m;
	if (r < 0 || memstat_read(c, &m) < 0) {
		if (r == 0)
			buf_append(out, host.data, host.len);
		buf_free(&host);
		return r;
	}
	struct memview v;
	compute(&m, &host, &v);
	size_t pos = 0, ll;
	const char *line;
	while (next_line(host.data, host.len, &pos, &line, &ll)) {
		const char *colon = memchr(line, ':', ll);
		size_t i = 0, n = sizeof(replaced) / sizeof(replaced[0]);
		if (colon) {
			size_t label_len = (size_t)(colon - line) + 1;
			for (; i < n; i++)
				if (replaced[i].len == label_len && memcmp(replaced[i].label, line, label_len) == 0)
					break;
		} else {
			i = n;
		}
		if (i < n) {
			/* The kernel's layout: label in 16 columns, value right-aligned in 8. */
			buf_put_pad(out, replaced[i].label, replaced[i].len, 16);
			buf_put_u64(out, *(const uint64_t *)((const char *)&v + replaced[i].off), 8);
			buf_puts(out, " kB\n");
		} else {
			buf_append(out, line, ll);
			buf_puts(out, "\n");
		}
	}
	buf_free(&host);
	return 0;
}

int render_swaps(const struct rctx *c, struct buf *out)
{
	struct memstat m;
	if (memstat_read(c, &m) < 0)
		return host_proc_read(c, "swaps", out);
	struct buf host = BUF_INIT;
	uint64_t host_swap = 0;
	if (host_proc_read(c, "meminfo", &host) == 0)
		meminfo_get_kb(host.data, host.len, "SwapTotal", &host_swap);
	buf_free(&host);
	uint64_t total, used;
	swap_view(&m, host_swap, &total, &used);
	buf_puts(out, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
	/* The kernel's layout: name in 40 columns, an extra tab after numbers below 10^7. */
	if (total > 0)
		buf_printf(out, "%-40s%s\t%" PRIu64 "\t%s%" PRIu64 "\t%s%d\n", "none", "virtual", total,
			   total < 10000000 ? "\t" : "", used, used < 10000000 ? "\t" : "", 0);
	return 0;
}
