/* /proc/<pid>/mountinfo: each line as the rebind tier and the start-up check read it, and the
 * whole file as the cgroup layout discovery reads it. */
#include <limits.h>

#include "cgroup/cgroup.h"
#include "fuzz.h"
#include "lib/mountinfo.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mntent_info m;
	size_t pos = 0, ll;
	const char *line;
	while (next_line((const char *)data, size, &pos, &line, &ll))
		if (mountinfo_parse(line, ll, &m)) {
			if (strnlen(m.root, sizeof(m.root)) == sizeof(m.root) || m.root[0] != '/' ||
			    strnlen(m.mountpoint, sizeof(m.mountpoint)) == sizeof(m.mountpoint) ||
			    strnlen(m.fstype, sizeof(m.fstype)) == sizeof(m.fstype) ||
			    strnlen(m.superopts, sizeof(m.superopts)) == sizeof(m.superopts))
				abort();
			mountinfo_is_lxcfs(&m);
		}
	struct cg_layout l;
	cg_layout_parse(&l, (const char *)data, size);
	cg_layout_free(&l);
	return 0;
}
