/* Bounded string copy (see vigie/str.h). */
#include "vigie/str.h"

#include <string.h>

size_t vg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t k = n < size - 1 ? n : size - 1;
		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return n;
}
