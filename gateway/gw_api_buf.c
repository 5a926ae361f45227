/*
 * A growable buffer for HTTP bodies: history and unit pages have no useful
 * upper bound, unlike MQTT payloads, so they are built on the heap and
 * handed to libmicrohttpd, which frees them after sending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api.h"

static bool grow(struct gw_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 1024;
	char *p;

	if (b->err)
		return false;
	if (need <= b->cap)
		return true;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void gw_buf_raw(struct gw_buf *b, const char *s, size_t n)
{
	if (!grow(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void gw_buf_str(struct gw_buf *b, const char *s)
{
	gw_buf_raw(b, s, strlen(s));
}

void gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		gw_buf_fail(b);
		return;
	}
	if (!grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	if (vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap) == n)
		b->len += (size_t)n;
	else
		gw_buf_fail(b);
	va_end(ap);
}

void gw_buf_json(struct gw_buf *b, const char *s)
{
	if (!s) {
		gw_buf_str(b, "null");
		return;
	}
	gw_buf_raw(b, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			gw_buf_printf(b, "\\%c", *c);
		else if (*c < 0x20)
			gw_buf_printf(b, "\\u%04x", *c);
		else
			gw_buf_raw(b, (const char *)c, 1);
	}
	gw_buf_raw(b, "\"", 1);
}

int gw_buf_fail(struct gw_buf *b)
{
	b->err = true;
	return VG_ERR_RANGE;
}

void gw_buf_free(struct gw_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
