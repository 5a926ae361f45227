/* Identifier charset check; see vigie/ident.h for why it is so narrow. */
#include "vigie/ident.h"

bool vg_ident_valid(const char *s, size_t len)
{
	if (len == 0 || len > VG_IDENT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}
