/* /proc/<pid>/stat (state, ppid, start time) and /proc/<pid>/status (PPid, NSpid). */
#include "fuzz.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fz_cstr(data, size);
	for (int f = 0; f < 60; f++) {
		const char *p = stat_field(s, f);
		if (p && (p < s || p >= s + size))
			abort(); /* a field must lie in the text */
	}
	uint64_t start;
	stat_starttime(s, &start);
	long v;
	status_nspid(s, &v);
	status_ppid(s, &v);
	free(s);
	return 0;
}
