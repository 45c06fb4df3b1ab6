/* Parsers for the text formats of procfs and cgroupfs.  All are total: garbage -> an error code,
 * never a crash and never a made-up number. */
#ifndef LXCFS_PARSE_H
#define LXCFS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Unsigned decimal with optional trailing whitespace.  "max" gives UINT64_MAX when allow_max. */
int parse_u64(const char *s, bool allow_max, uint64_t *out);

/* In "key value\n" text (memory.stat, cpu.stat and the like), finds key and parses its value. */
int kv_get_u64(const char *text, size_t len, const char *key, uint64_t *out);

/* In /proc/meminfo-style text ("Key:   123 kB"), finds Key and returns the number (kB). */
int meminfo_get_kb(const char *text, size_t len, const char *key, uint64_t *out);

/* Field number field (>= 3, as proc(5) numbers them: 3 is the state, 4 the ppid, 22 the start
 * time) of /proc/<pid>/stat text, or NULL.  comm may hold spaces and parentheses, so fields are
 * counted from the last ')'. */
const char *stat_field(const char *stat_text, int field);
/* Field 22 of /proc/<pid>/stat (start time, clock ticks after boot). */
int stat_starttime(const char *stat_text, uint64_t *out);
/* The last NSpid of /proc/<pid>/status text: the pid as its own namespace numbers it. */
int status_nspid(const char *status_text, long *out);

/* PPid of /proc/<pid>/status text. */
int status_ppid(const char *status_text, long *out);

/* In /proc/cgroups text ("#subsys_name hierarchy num_cgroups enabled" rows, in subsystem index
 * order), the first controller named in opts (a v1 mount's options) that is mounted: its
 * hierarchy id and subsystem index.  -ENODEV if none. */
int proc_cgroups_find(const char *text, size_t len, const char *opts, unsigned *hierarchy_id, unsigned *ssid);

/* Is name one of the comma-separated options (a mount's "rw,cpu,cpuacct")? */
bool opt_list_has(const char *opts, const char *name);

/* An absolute path with no "." or ".." step and no "//" (nor a deleted file's "//deleted"):
 * one that names what it says below its root. */
bool path_clean_abs(const char *path);
/* Iterates lines: sets line and linelen (without the newline) for each; false at the end. */
bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *linelen);

/* "MAJ:MIN" -> dev; -EINVAL on anything else. */
int parse_dev(const char *s, dev_t *out);

#endif
