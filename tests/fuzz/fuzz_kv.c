/* Key-value files and single values: memory.stat, cpu.stat (kv_get_u64), /proc/meminfo
 * (meminfo_get_kb), limit files such as memory.max, cpu.cfs_quota_us, cpuacct.usage (parse_u64). */
#include <stdbool.h>

#include "fuzz.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "usage_usec", "user_usec", "system_usec", "file", "anon", "Rbytes",
					    "total_cache", "MemTotal", "SwapTotal", "" };
	uint64_t v;
	char *s = fz_cstr(data, size);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		kv_get_u64((const char *)data, size, keys[i], &v);
		meminfo_get_kb((const char *)data, size, keys[i], &v);
	}
	/* the first line as a key of its own, so the fuzzer can match any */
	const char *nl = memchr(data, '\n', size);
	if (nl) {
		char *key = fz_cstr(data, (size_t)((const uint8_t *)nl - data));
		kv_get_u64(nl + 1, size - (size_t)((const uint8_t *)nl + 1 - data), key, &v);
		meminfo_get_kb(nl + 1, size - (size_t)((const uint8_t *)nl + 1 - data), key, &v);
		free(key);
	}
	if (parse_u64(s, true, &v) == 0 && v != UINT64_MAX) {
		uint64_t w;
		if (parse_u64(s, false, &w) != 0 || w != v)
			abort(); /* "max" is the only difference allow_max makes */
	} else {
		parse_u64(s, false, &v);
	}
	free(s);
	return 0;
}
