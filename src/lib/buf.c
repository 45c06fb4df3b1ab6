#include "lib/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf)BUF_INIT;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->oom = false;
}

bool buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return false;
	/* +1 keeps room for the terminator buf_cstr() adds. */
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1) {
		if (cap > ((size_t)1 << 40)) {
			b->oom = true;
			return false;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	if (n) /* (an empty buffer may have no data yet: no memcpy to NULL) */
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return true;
}

bool buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	if (!buf_reserve(b, 128)) {
		va_end(ap2);
		return false;
	}
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		b->oom = true;
		return false;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!buf_reserve(b, (size_t)n)) {
			va_end(ap2);
			return false;
		}
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	}
	va_end(ap2);
	b->len += (size_t)n;
	return true;
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool ok = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return ok;
}

const char *buf_cstr(struct buf *b)
{
	if (!buf_reserve(b, 0))
		return "";
	b->data[b->len] = '\0';
	return b->data;
}

bool buf_put_u64(struct buf *b, uint64_t v, unsigned width)
{
	char tmp[24];
	int i = (int)sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	size_t n = sizeof(tmp) - (size_t)i;
	size_t pad = width > n ? width - n : 0;
	if (!buf_reserve(b, pad + n))
		return false;
	memset(b->data + b->len, ' ', pad);
	memcpy(b->data + b->len + pad, tmp + i, n);
	b->len += pad + n;
	return true;
}

bool buf_put_pad(struct buf *b, const char *s, size_t len, unsigned width)
{
	size_t pad = width > len ? width - len : 0;
	if (!buf_reserve(b, len + pad))
		return false;
	if (len + pad == 0)
		return true; /* (an empty buffer may have no data yet) */
	memcpy(b->data + b->len, s, len);
	memset(b->data + b->len + len, ' ', pad);
	b->len += len + pad;
	return true;
}
