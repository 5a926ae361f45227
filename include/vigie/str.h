/*
 * Bounded string copy: the only way Vigie copies a C string into a fixed
 * buffer, so that no copy can overrun whatever its source.
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
