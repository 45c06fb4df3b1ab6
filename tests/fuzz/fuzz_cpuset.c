/* CPU lists (cpuset.cpus.effective, cpuset.effective_cpus, /sys/devices/system/cpu/online):
 * parsed, then formatted and parsed again, which must give the same set. */
#include "cgroup/cpuset.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cpuset a, b;
	char *s = fz_cstr(data, size);
	if (cpuset_parse(s, &a) == 0) {
		struct buf out = BUF_INIT;
		if (!cpuset_format(&a, &out) || cpuset_parse(buf_cstr(&out), &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
			abort();
		cpuset_keep_first(&b, cpuset_count(&a) / 2);
		if (cpuset_count(&b) != cpuset_count(&a) / 2)
			abort();
		buf_free(&out);
	} else if (!cpuset_empty(&a)) {
		abort(); /* refused input leaves the set empty */
	}
	free(s);
	return 0;
}
