/* The virtual tree.  A node id is a pure function of the path: a fixed table for the static tree,
 * a hash of the path below sys/devices/system/cpu.  Ids are never reused for another path, the
 * generation is always 0 and a node's type never changes, so a kernel that cached ids from an
 * earlier process of ours keeps getting the same files. */
#ifndef LXCFS_TREE_H
#define LXCFS_TREE_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/render.h"

enum node_type {
	NODE_DIR,     /* static directory */
	NODE_VFILE,   /* virtual file: content from a renderer */
	NODE_CPUROOT, /* sys/devices/system/cpu: host directory, some children virtual */
};

/* Static ids: append-only.  Never renumber or reuse one, a running kernel may hold it. */
enum {
	INO_ROOT = 1,
	INO_PROC = 2,
	INO_PROC_CPUINFO = 3,
	INO_PROC_MEMINFO = 4,
	INO_PROC_STAT = 5,
	INO_PROC_UPTIME = 6,
	INO_PROC_SWAPS = 7,
	INO_PROC_DISKSTATS = 8,
	INO_PROC_LOADAVG = 9,
	INO_PROC_SLABINFO = 10,
	INO_PROC_PRESSURE = 11,
	INO_PRESSURE_CPU = 12,
	INO_PRESSURE_IO = 13,
	INO_PRESSURE_MEMORY = 14,
	INO_SYS = 15,
	INO_SYS_DEVICES = 16,
	INO_SYS_SYSTEM = 17,
	INO_SYS_CPU = 18,
	INO_SYS_CPU_ONLINE = 19,
	INO_SYS_CPU_PRESENT = 20,
	INO_SYS_CPU_POSSIBLE = 21,
	INO_SYS_CPU_OFFLINE = 22,
	INO_STATIC_LAST = INO_SYS_CPU_OFFLINE,
	INO_STATIC_LIMIT = 1024, /* ids below are reserved for the static table */
};

/* Ids of host (passthrough) nodes have this bit set; static ids never do. */
#define INO_DYNAMIC_BIT (UINT64_C(1) << 63)

struct node {
	uint64_t ino;
	uint64_t parent;
	const char *name;
	enum node_type type;
	render_fn render;
	/* Host file whose existence decides if the node is shown (PSI), relative to host proc. */
	const char *needs_host_proc;
};

const struct node *tree_node(uint64_t ino);
/* A static child of parent (also the virtual children of the cpu root). */
const struct node *tree_child(uint64_t parent, const char *name);
/* Iterates the static children of parent: start with *pos = 0. */
const struct node *tree_next_child(uint64_t parent, unsigned *pos);
/* Is this static node present on this host (PSI files need the host's)? */
bool tree_present(const struct node *n, const struct hostroot *h);
/* Renders every static file present on the host as view sees it, and hands each to fn (if any). */
void tree_render_each(const struct rctx *view, void (*fn)(uint64_t ino, const struct buf *b, void *arg), void *arg);

/* The id of a host node below sys/devices/system/cpu, from its path relative to that dir.
 * Changing this function breaks every kernel that holds ids of a previous version. */
uint64_t tree_dynamic_ino(const char *relpath);

/* "cpuN" (a cpu's directory below sys/devices/system/cpu): true with *cpu = N. */
bool tree_cpu_dir(const char *name, unsigned *cpu);

/* A name a lookup may ask for: one component, not "." or "..", no '/'. */
bool tree_name_ok(const char *name);

#endif
