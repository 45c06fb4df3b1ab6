/* Helpers shared by the libFuzzer targets: NUL-terminated copies of an input, its parts, and a
 * private copy of the fixture tree whose files an input replaces. */
#ifndef LXCFS_FUZZ_H
#define LXCFS_FUZZ_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The input as a C string (parsers of kernel text get it that way: file_read's buffers end in
 * a NUL); an embedded NUL just ends it early, as it would in the daemon. */
static inline char *fz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Part i of the input split at NUL bytes (multi-file targets); empty if there are fewer. */
static inline void fz_part(const uint8_t *data, size_t size, int i, const uint8_t **p, size_t *n)
{
	const uint8_t *s = data, *end = data + size;
	for (; i > 0 && s < end; i--) {
		const uint8_t *z = memchr(s, '\0', (size_t)(end - s));
		s = z ? z + 1 : end;
	}
	const uint8_t *z = memchr(s, '\0', (size_t)(end - s));
	*p = s;
	*n = (size_t)((z ? z : end) - s);
}

/* Replaces the content of path (same inode: an fd the daemon's cache keeps sees the new text). */
static inline void fz_write(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
		perror(path);
		abort();
	}
	close(fd);
}

/* A private copy of tests/fixtures (FUZZ_FIXTURES, set by meson) in a new temporary directory;
 * removed at exit.  Returns its path. */
static char fz_tmp[256];

static inline void fz_cleanup(void)
{
	if (fz_tmp[0]) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fz_tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "fuzz: cannot remove %s\n", fz_tmp);
	}
}

static inline const char *fz_fixture_copy(void)
{
	snprintf(fz_tmp, sizeof(fz_tmp), "%s/lxcfs-fuzz.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fz_tmp)) {
		perror("mkdtemp");
		abort();
	}
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp -a '%s/.' '%s/'", FUZZ_FIXTURES, fz_tmp);
	if (system(cmd) != 0) {
		fprintf(stderr, "fuzz: cannot copy the fixtures\n");
		abort();
	}
	atexit(fz_cleanup);
	return fz_tmp;
}

#endif
