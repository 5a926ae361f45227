/*
 * Text helpers both programs share: the bounded copies every string put
 * into a fixed buffer goes through (vg_strlcpy for a C string, vg_strslice
 * for a slice of known length; snprintf where a format is needed), the
 * UTF-8 check every text field of the wire contract goes through, and the
 * one parser of decimal integers for options, files and query strings.
 */
#ifndef VIGIE_STR_H
#define VIGIE_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Copy at most size-1 bytes and NUL-terminate; returns strlen(src). */
size_t vg_strlcpy(char *dst, const char *src, size_t size);
/*
 * Copy the n bytes at src and a NUL into dst (size bytes): false, with dst
 * untouched, when they do not fit.
 */
bool vg_strslice(char *dst, size_t size, const char *src, size_t n);
/* len bytes of s are well-formed UTF-8 (no overlong form, no surrogate). */
bool vg_utf8_valid(const char *s, size_t len);
/*
 * The whole of s as a decimal integer (strtoll's syntax) in [min, max]:
 * VG_OK, VG_ERR_PARSE when s is empty or not a number, VG_ERR_RANGE when
 * outside the bounds (*out untouched on error).
 */
int vg_int_parse(const char *s, long long min, long long max,
		 long long *out);

#endif
