/* PSI triggers as containers write them to the proc/pressure files (--enable-psi-poll): whatever is
 * written goes through psi_parse_trigger, which must refuse everything but a trigger the kernel
 * takes, and rebuild that one within bounds. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "fs/psi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[64];
	int r = psi_parse_trigger((const char *)data, size, line, sizeof(line));
	if (r != 0 && r != -EINVAL)
		abort();
	if (r == 0) {
		char kind[8];
		unsigned t, w;
		char tail;
		if (sscanf(line, "%7s %u %u%c", kind, &t, &w, &tail) != 3 ||
		    (strcmp(kind, "some") != 0 && strcmp(kind, "full") != 0) || t == 0 || t > w ||
		    w == 0 || w > 10000000 || w % 2000000 != 0)
			abort();
	}
	return 0;
}
