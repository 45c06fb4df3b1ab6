#include "fs/tree.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/hash.h"
#include "lib/parse.h"

static const struct node nodes[] = {
	{ INO_ROOT, INO_ROOT, "", NODE_DIR, NULL, NULL },
	{ INO_PROC, INO_ROOT, "proc", NODE_DIR, NULL, NULL },
	{ INO_PROC_CPUINFO, INO_PROC, "cpuinfo", NODE_VFILE, render_cpuinfo, NULL },
	{ INO_PROC_DISKSTATS, INO_PROC, "diskstats", NODE_VFILE, render_diskstats, NULL },
	{ INO_PROC_LOADAVG, INO_PROC, "loadavg", NODE_VFILE, render_loadavg, NULL },
	{ INO_PROC_MEMINFO, INO_PROC, "meminfo", NODE_VFILE, render_meminfo, NULL },
	{ INO_PROC_PRESSURE, INO_PROC, "pressure", NODE_DIR, NULL, "pressure" },
	{ INO_PRESSURE_CPU, INO_PROC_PRESSURE, "cpu", NODE_VFILE, render_pressure_cpu, "pressure/cpu" },
	{ INO_PRESSURE_IO, INO_PROC_PRESSURE, "io", NODE_VFILE, render_pressure_io, "pressure/io" },
	{ INO_PRESSURE_MEMORY, INO_PROC_PRESSURE, "memory", NODE_VFILE, render_pressure_memory, "pressure/memory" },
	{ INO_PROC_SLABINFO, INO_PROC, "slabinfo", NODE_VFILE, render_slabinfo, NULL },
	{ INO_PROC_STAT, INO_PROC, "stat", NODE_VFILE, render_stat, NULL },
	{ INO_PROC_SWAPS, INO_PROC, "swaps", NODE_VFILE, render_swaps, NULL },
	{ INO_PROC_UPTIME, INO_PROC, "uptime", NODE_VFILE, render_uptime, NULL },
	{ INO_SYS, INO_ROOT, "sys", NODE_DIR, NULL, NULL },
	{ INO_SYS_DEVICES, INO_SYS, "devices", NODE_DIR, NULL, NULL },
	{ INO_SYS_SYSTEM, INO_SYS_DEVICES, "system", NODE_DIR, NULL, NULL },
	{ INO_SYS_CPU, INO_SYS_SYSTEM, "cpu", NODE_CPUROOT, NULL, NULL },
	{ INO_SYS_CPU_ONLINE, INO_SYS_CPU, "online", NODE_VFILE, render_cpu_online, NULL },
	{ INO_SYS_CPU_PRESENT, INO_SYS_CPU, "present", NODE_VFILE, render_cpu_present, NULL },
	{ INO_SYS_CPU_POSSIBLE, INO_SYS_CPU, "possible", NODE_VFILE, render_cpu_possible, NULL },
	{ INO_SYS_CPU_OFFLINE, INO_SYS_CPU, "offline", NODE_VFILE, render_cpu_offline, NULL },
};

#define NNODES (sizeof(nodes) / sizeof(nodes[0]))

/* Direct index by id: the table is small and ids are dense. */
static const struct node *by_ino[INO_STATIC_LAST + 1];

static void index_once(void)
{
	static int done;
	if (__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		return;
	for (size_t i = 0; i < NNODES; i++)
		by_ino[nodes[i].ino] = &nodes[i];
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
}

const struct node *tree_node(uint64_t ino)
{
	index_once();
	if (ino >= sizeof(by_ino) / sizeof(by_ino[0]))
		return NULL;
	return by_ino[ino];
}

const struct node *tree_child(uint64_t parent, const char *name)
{
	for (size_t i = 1; i < NNODES; i++)
		if (nodes[i].parent == parent && strcmp(nodes[i].name, name) == 0)
			return &nodes[i];
	return NULL;
}

const struct node *tree_next_child(uint64_t parent, unsigned *pos)
{
	for (size_t i = *pos; i < NNODES; i++) {
		if (i > 0 && nodes[i].parent == parent) {
			*pos = (unsigned)i + 1;
			return &nodes[i];
		}
	}
	*pos = NNODES;
	return NULL;
}

bool tree_present(const struct node *n, const struct hostroot *h)
{
	if (!n->needs_host_proc)
		return true;
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", h->proc, n->needs_host_proc);
	return access(p, F_OK) == 0;
}

void tree_render_each(const struct rctx *view, void (*fn)(uint64_t ino, const struct buf *b, void *arg), void *arg)
{
	for (uint64_t ino = 1; ino < INO_STATIC_LIMIT; ino++) {
		const struct node *n = tree_node(ino);
		if (!n || n->type != NODE_VFILE || !tree_present(n, view->host))
			continue;
		struct buf b = BUF_INIT;
		if (n->render(view, &b) == 0 && fn)
			fn(ino, &b, arg);
		buf_free(&b);
	}
}

uint64_t tree_dynamic_ino(const char *relpath)
{
	/* FNV-1a, then the murmur3 finalizer to spread the bits. */
	uint64_t h = fnv1a64(FNV1A64_INIT, relpath, strlen(relpath));
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h | INO_DYNAMIC_BIT;
}

bool tree_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return strchr(name, '/') == NULL;
}

bool tree_cpu_dir(const char *name, unsigned *cpu)
{
	uint64_t v;
	/* digits only: parse_u64 would also take the spaces around them */
	if (strncmp(name, "cpu", 3) != 0 || name[3] < '0' || name[3] > '9' ||
	    name[3 + strspn(name + 3, "0123456789")] != '\0' || parse_u64(name + 3, false, &v) < 0 ||
	    v >= CPUSET_MAX)
		return false;
	*cpu = (unsigned)v;
	return true;
}
