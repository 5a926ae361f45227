/*
 * Bounded string copy into a fixed buffer (it cannot overrun whatever its
 * source; snprintf does the same where a format is needed), and the UTF-8
 * check every text field of the wire contract goes through.
 */
#ifndef VIGIE_STR_H
#define VIGIE_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy at most size-1 bytes and NUL-terminate; returns strlen(src). */
size_t vg_strlcpy(char *dst, const char *src, size_t size);
/* len bytes of s are well-formed UTF-8 (no overlong form, no surrogate). */
bool vg_utf8_valid(const char *s, size_t len);

#endif
