/* The command line (options_parse, -o mount options included): the input's NUL-separated parts
 * are the arguments after argv[0]. */
#include <limits.h>

#include "fuzz.h"
#include "lib/options.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* usage and version text: not what is tested, and they would flood the log */
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	int argc = 1;
	for (size_t i = 0; i < size; i++)
		argc += copy[i] == '\0';
	argc += 1;
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	argv[0] = "lxcfs";
	int n = 1;
	for (char *p = copy; p <= copy + size; p += strlen(p) + 1)
		argv[n++] = p;
	argc = n;
	struct options o;
	int r = options_parse(&o, argc, argv);
	if (r == 0) {
		char path[PATH_MAX + 16];
		options_pidfile(&o, path, sizeof(path));
		options_statusfile(&o, path, sizeof(path));
		if (!o.status && !o.reinit && !o.mountpoint)
			abort(); /* accepted without the mountpoint it needs */
		if (o.threads < 0 || o.threads > 64)
			abort();
	}
	options_free(&o);
	/* a parse leaves nothing to the next: a plain command line gives the defaults */
	char *plain[] = { "lxcfs", "/mnt", NULL };
	if (options_parse(&o, 2, plain) != 0 || o.swap_off || o.loadavg || o.debug || o.cfs || o.fuse_opts ||
	    o.restart_on_crash || o.status || o.rebind || o.reinit || o.zswap_off || o.psi_poll)
		abort();
	options_free(&o);
	free(argv);
	free(copy);
	return 0;
}
