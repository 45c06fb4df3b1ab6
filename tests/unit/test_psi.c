#include "check.h"
#include "fs/psi.h"

static const char *parse(const char *text, size_t size)
{
	static char line[64];
	return psi_parse_trigger(text, size, line, sizeof(line)) == 0 ? line : "EINVAL";
}

#define P(s) parse(s, sizeof(s)) /* with the terminating NUL, as writers send it */

int main(void)
{
	CHECK_STR(P("some 150000 2000000"), "some 150000 2000000");
	CHECK_STR(P("full 1 10000000"), "full 1 10000000");
	/* a window that is not whole 2 s periods becomes 2 s (upstream's rule for containers) */
	CHECK_STR(P("some 150000 1000000"), "some 150000 2000000");
	CHECK_STR(P("some 500000 3000000"), "some 500000 2000000");
	/* the last byte is dropped, as the kernel does: without the NUL the window loses a digit */
	CHECK_STR(parse("some 150000 4000000", 19), "some 150000 2000000");
	CHECK_STR(P("some 0 2000000"), "EINVAL");       /* no threshold */
	CHECK_STR(P("some 3000000 2000000"), "EINVAL"); /* threshold beyond the window */
	CHECK_STR(P("some 1 0"), "EINVAL");
	CHECK_STR(P("some 1 10000001"), "EINVAL");      /* window beyond 10 s */
	CHECK_STR(P("avg 1 2000000"), "EINVAL");
	CHECK_STR(P("some"), "EINVAL");
	CHECK_STR(parse("", 0), "EINVAL");
	CHECK_STR(P("some 150000 2000000 and a very long tail past thirty-two bytes"), "some 150000 2000000");
	CHECK_DONE();
}
