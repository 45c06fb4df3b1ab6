/* Growable byte buffer: every renderer writes into one, every reader fills one. */
#ifndef LXCFS_BUF_H
#define LXCFS_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool oom; /* sticky: once an append failed, the content is incomplete */
};

#define BUF_INIT { NULL, 0, 0, false }

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
bool buf_reserve(struct buf *b, size_t extra);
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_puts(struct buf *b, const char *s);
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Decimal v, right-aligned in width columns (0: no padding).  printf costs ten times more and
 * every number of every render goes through here. */
bool buf_put_u64(struct buf *b, uint64_t v, unsigned width);
bool buf_put_pad(struct buf *b, const char *s, size_t len, unsigned width);

/* NUL-terminated view of the content (the terminator is not counted in len). */
const char *buf_cstr(struct buf *b);

#endif
