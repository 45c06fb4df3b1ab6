/* /proc/cgroups: the subsystem index and hierarchy of a v1 mount's controllers.  The first line
 * of the input is the mount's options, the rest the file. */
#include "fuzz.h"
#include "lib/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t olen = nl ? (size_t)(nl - data) : size;
	char *opts = fz_cstr(data, olen);
	const char *text = nl ? (const char *)nl + 1 : (const char *)data + size;
	size_t len = nl ? size - olen - 1 : 0;
	unsigned hid, ssid;
	proc_cgroups_find(text, len, opts, &hid, &ssid);
	proc_cgroups_find(text, len, "cpu,cpuacct", &hid, &ssid);
	free(opts);
	return 0;
}
