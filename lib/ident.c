/* Identifier charset check; see vigie/ident.h for why it is so narrow. */
#include "vigie/ident.h"

#include <stdint.h>

/* One lookup per byte: this runs several times on every message. */
static bool allowed(unsigned char c)
{
	static const uint64_t lo = (1ull << '-') | (1ull << '.') |
				   (0x3FFull << '0');
	static const uint64_t hi = (0x3FFFFFFull << ('A' - 64)) |
				   (1ull << ('_' - 64)) |
				   (0x3FFFFFFull << ('a' - 64));
	return c < 64 ? (lo >> c) & 1 : c < 128 ? (hi >> (c - 64)) & 1 : false;
}

bool vg_ident_valid(const char *s, size_t len)
{
	if (len == 0 || len > VG_IDENT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!allowed((unsigned char)s[i]))
			return false;
	}
	return true;
}
