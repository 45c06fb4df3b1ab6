/* Minimal assertions for the unit tests: every failure is printed, the exit code counts them. */
#ifndef LXCFS_CHECK_H
#define LXCFS_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failures++;                                                \
		}                                                                        \
	} while (0)

#define CHECK_INT(a, b)                                                                              \
	do {                                                                                         \
		long long _a = (long long)(a), _b = (long long)(b);                                  \
		if (_a != _b) {                                                                      \
			fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, _a, _b); \
			check_failures++;                                                            \
		}                                                                                    \
	} while (0)

#define CHECK_U64(a, b)                                                                                   \
	do {                                                                                              \
		uint64_t _a = (a), _b = (b);                                                              \
		if (_a != _b) {                                                                           \
			fprintf(stderr, "%s:%d: %s == %" PRIu64 ", want %" PRIu64 "\n", __FILE__, __LINE__, #a, \
				_a, _b);                                                                  \
			check_failures++;                                                                 \
		}                                                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                                                 \
	do {                                                                                            \
		const char *_a = (a), *_b = (b);                                                        \
		if (!_a || strcmp(_a, _b) != 0) {                                                       \
			fprintf(stderr, "%s:%d: %s ==\n[%s]\nwant\n[%s]\n", __FILE__, __LINE__, #a,       \
				_a ? _a : "(null)", _b);                                                \
			check_failures++;                                                               \
		}                                                                                       \
	} while (0)

#define CHECK_DONE()                                                                  \
	do {                                                                          \
		if (check_failures)                                                   \
			fprintf(stderr, "%d check(s) failed\n", check_failures);      \
		return check_failures ? 1 : 0;                                        \
	} while (0)

#endif
