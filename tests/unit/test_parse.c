#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>
#include <stdlib.h>

#include <string.h>

#include "check.h"
#include "cgroup/cpuset.h"
#include "lib/mountinfo.h"
#include "lib/fileio.h"
#include "lib/parse.h"

static void numbers(void)
{
	uint64_t v;
	CHECK_INT(parse_u64("42\n", false, &v), 0);
	CHECK_U64(v, 42);
	CHECK_INT(parse_u64("  7 ", false, &v), 0);
	CHECK_U64(v, 7);
	CHECK_INT(parse_u64("max\n", true, &v), 0);
	CHECK_U64(v, UINT64_MAX);
	CHECK(parse_u64("max", false, &v) < 0);
	CHECK(parse_u64("maxx", true, &v) < 0);
	CHECK(parse_u64("", false, &v) < 0);
	CHECK(parse_u64("-1", false, &v) < 0);
	CHECK(parse_u64("12abc", false, &v) < 0);
	CHECK(parse_u64("99999999999999999999999", false, &v) < 0); /* overflow, not a wrap */
	CHECK_INT(parse_u64("18446744073709551615", false, &v), 0);
	CHECK_U64(v, UINT64_MAX);
}

static void keyed(void)
{
	const char st[] = "total_cache 10\ntotal_rss 20\ncache 5\nbroken\ntotal_rss_huge 3\n";
	uint64_t v = 0;
	CHECK_INT(kv_get_u64(st, sizeof(st) - 1, "total_rss", &v), 0);
	CHECK_U64(v, 20); /* not total_rss_huge: keys match whole */
	CHECK_INT(kv_get_u64(st, sizeof(st) - 1, "cache", &v), 0);
	CHECK_U64(v, 5);
	CHECK(kv_get_u64(st, sizeof(st) - 1, "missing", &v) < 0);
	CHECK(kv_get_u64(st, sizeof(st) - 1, "broken", &v) < 0);
	const char mi[] = "MemTotal:        8000 kB\nMemFree:  x kB\nSwapTotal:  0 kB";
	CHECK_INT(meminfo_get_kb(mi, sizeof(mi) - 1, "MemTotal", &v), 0);
	CHECK_U64(v, 8000);
	CHECK(meminfo_get_kb(mi, sizeof(mi) - 1, "MemFree", &v) < 0);
	CHECK_INT(meminfo_get_kb(mi, sizeof(mi) - 1, "SwapTotal", &v), 0); /* no trailing newline */
	CHECK_U64(v, 0);
}

static void starttime(void)
{
	uint64_t v = 0;
	CHECK_INT(stat_starttime("1 (a) S 0 1 1 0 -1 4 1 0 0 0 1 2 0 0 20 0 1 0 777 1 1", &v), 0);
	CHECK_U64(v, 777);
	/* comm with spaces and parentheses */
	CHECK_INT(stat_starttime("9 (x) y (z)) R 0 1 1 0 -1 4 1 0 0 0 1 2 0 0 20 0 1 0 12345 9", &v), 0);
	CHECK_U64(v, 12345);
	CHECK(stat_starttime("1 (a) S 0 1", &v) < 0);
	CHECK(stat_starttime("no parens here", &v) < 0);
	/* past 2^64: refused, not wrapped into a small start time */
	CHECK(stat_starttime("1 (a) S 0 1 1 0 -1 4 1 0 0 0 1 2 0 0 20 0 1 0 99999999999999999999 1", &v) < 0);
	CHECK(path_clean_abs("/"));
	CHECK(path_clean_abs("/lxc.payload.a/x..y/.z"));
	CHECK(!path_clean_abs("relative"));
	CHECK(!path_clean_abs("/a/../b"));
	CHECK(!path_clean_abs("/a/.."));
	CHECK(!path_clean_abs("/./a"));
	CHECK(!path_clean_abs("/a//deleted"));
	CHECK(stat_starttime("1 (a) S 0 1 1 0 -1 4 1 0 0 0 1 2 0 0 20 0 1 0 x", &v) < 0);
	/* the other fields the daemon reads: the state and the parent */
	const char *t = "9 (x) y (z)) R 42 1";
	CHECK(stat_field(t, 3) && *stat_field(t, 3) == 'R');
	CHECK(stat_field(t, 4) && atoi(stat_field(t, 4)) == 42);
	CHECK(stat_field(t, 9) == NULL && stat_field(t, 2) == NULL && stat_field("no parens", 3) == NULL);
	/* the last NSpid: the pid inside the innermost namespace */
	long pid = 0;
	CHECK_INT(status_nspid("Name:\ta\nPid:\t700\nNSpid:\t700\t12\t3\nState:\tS\n", &pid), 0);
	CHECK_INT(pid, 3);
	CHECK_INT(status_nspid("Name:\ta\nNSpid:\t700", &pid), 0);
	CHECK_INT(pid, 700);
	CHECK(status_nspid("Name:\ta\nPid:\t700\n", &pid) < 0);
	CHECK(status_nspid("Name:\ta\nNSpid:\t\n", &pid) < 0);
}

static void cpusets(void)
{
	struct cpuset s;
	struct buf b = BUF_INIT;
	CHECK_INT(cpuset_parse("0-3,8,10-11\n", &s), 0);
	CHECK_INT(cpuset_count(&s), 7);
	CHECK(cpuset_has(&s, 8) && !cpuset_has(&s, 9));
	cpuset_format(&s, &b);
	CHECK_STR(buf_cstr(&b), "0-3,8,10-11");
	CHECK_INT(cpuset_parse("\n", &s), 0);
	CHECK(cpuset_empty(&s));
	CHECK(cpuset_parse("3-1", &s) < 0);
	CHECK(cpuset_parse("1,,2", &s) < 0);
	CHECK(cpuset_parse("a", &s) < 0);
	CHECK(cpuset_parse("99999", &s) < 0);
	CHECK(cpuset_empty(&s)); /* a failed parse leaves nothing half-filled */
	CHECK_INT(cpuset_parse("5", &s), 0);
	CHECK_INT(cpuset_next(&s, 0), 5);
	CHECK_INT(cpuset_next(&s, 6), -1);
	buf_reset(&b);
	cpuset_format(&s, &b);
	CHECK_STR(buf_cstr(&b), "5");
	buf_free(&b);
}

static void bufs(void)
{
	struct buf b = BUF_INIT;
	buf_put_u64(&b, 0, 0);
	buf_puts(&b, "|");
	buf_put_u64(&b, 262144, 8);
	buf_puts(&b, "|");
	buf_put_u64(&b, UINT64_MAX, 3);
	buf_puts(&b, "|");
	buf_put_pad(&b, "Mem:", 4, 6);
	CHECK_STR(buf_cstr(&b), "0|  262144|18446744073709551615|Mem:  ");
	buf_free(&b);
}

static void mountinfo_lines(void)
{
	struct mntent_info m;
	/* a v1 hierarchy: the controllers are in the super options (the load average's kernel pass
	 * finds a cgroup's hierarchy there) */
	const char *l = "35 26 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct";
	CHECK(mountinfo_parse(l, strlen(l), &m));
	CHECK_STR(m.fstype, "cgroup");
	CHECK_STR(m.mountpoint, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(m.superopts, "rw,cpu,cpuacct");
	CHECK_INT((int)m.major, 0);
	CHECK_INT((int)m.minor, 30);
	/* escapes undone; super options too long for the field: the line still parses, without them */
	char big[700];
	int n = snprintf(big, sizeof(big), "36 26 0:31 / /mnt/a\\040b rw - tmpfs tmpfs rw,%0600d", 7);
	CHECK(mountinfo_parse(big, (size_t)n, &m));
	CHECK_STR(m.mountpoint, "/mnt/a b");
	CHECK_STR(m.superopts, "");
	/* no separator: not a mount */
	l = "37 26 0:32 / /x rw tmpfs tmpfs rw";
	CHECK(!mountinfo_parse(l, strlen(l), &m));
}

/* Files the kernel makes in one go end at a short read; a file of many records is read to the
 * read that returns 0, since its seq_file may stop short of the buffer before the end. */
static void one_go(void)
{
	CHECK(fileio_one_go("/sys/fs/cgroup/memory/lxc/a/memory.stat"));
	CHECK(fileio_one_go("/sys/fs/cgroup/lxc/a/cpu.pressure"));
	CHECK(fileio_one_go("/proc/meminfo"));
	CHECK(fileio_one_go("/proc/42/stat"));
	CHECK(!fileio_one_go("/proc/cpuinfo"));
	CHECK(!fileio_one_go("/proc/self/mountinfo"));
	CHECK(!fileio_one_go("/proc/swaps"));
	CHECK(!fileio_one_go("/sys/fs/cgroup/lxc/a/cgroup.procs"));
	CHECK(!fileio_one_go("/sys/fs/cgroup/lxc/a/cgroup.threads"));
	CHECK(!fileio_one_go("/sys/fs/cgroup/cpu/lxc/a/tasks"));
	/* bigger than a first buffer: a full read is not the end */
	char path[] = "/tmp/lxcfs-unit-oneg-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	unlink(path);
	static char text[20000];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + i % 26);
	CHECK(write(fd, text, sizeof(text)) == (ssize_t)sizeof(text));
	struct buf b = BUF_INIT;
	CHECK_INT(fd_read_one_go(fd, &b), 0);
	CHECK_INT((long long)b.len, (long long)sizeof(text));
	CHECK(b.len == sizeof(text) && memcmp(b.data, text, sizeof(text)) == 0);
	buf_free(&b);
	close(fd);
	/* the same text as a read to the end, from the kernel itself */
	struct buf x = BUF_INIT, y = BUF_INIT;
	fd = open("/proc/self/stat", O_RDONLY);
	CHECK(fd >= 0 && fd_read_one_go(fd, &x) == 0 && fd_read_all(fd, &y) == 0);
	CHECK(x.len > 0 && x.len == y.len);
	if (fd >= 0)
		close(fd);
	buf_free(&x);
	buf_free(&y);
}

int main(void)
{
	one_go();
	mountinfo_lines();
	numbers();
	keyed();
	starttime();
	cpusets();
	bufs();
	CHECK_DONE();
}
