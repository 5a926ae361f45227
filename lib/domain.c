/* Wire spellings of programs, states and sources, and their parsers. */
#include <string.h>

#include "vigie/domain.h"
#include "vigie/err.h"

static const char *const program_names[VG_PROG_COUNT] = { "renir", "rgt" };
static const char *const state_names[VG_STATE_COUNT] = {
	"pending", "migrating", "migrated", "retired", "unknown"
};
static const char *const source_names[] = { NULL, "modbus", "manual" };

/* Exact match of a length-delimited string against a table. */
static int lookup(const char *const *table, int n, const char *s, size_t len)
{
	for (int i = 0; i < n; i++) {
		if (table[i] && strlen(table[i]) == len &&
		    memcmp(table[i], s, len) == 0)
			return i;
	}
	return VG_ERR_INVAL;
}

const char *vg_program_name(enum vg_program p)
{
	return ((unsigned)p < VG_PROG_COUNT) ? program_names[p] : NULL;
}

int vg_program_parse(const char *s, size_t len)
{
	return lookup(program_names, VG_PROG_COUNT, s, len);
}

const char *vg_state_name(enum vg_state s)
{
	return ((unsigned)s < VG_STATE_COUNT) ? state_names[s] : NULL;
}

int vg_state_parse(const char *s, size_t len)
{
	return lookup(state_names, VG_STATE_COUNT, s, len);
}

const char *vg_source_name(enum vg_source s)
{
	return ((unsigned)s <= VG_SOURCE_MANUAL) ? source_names[s] : NULL;
}

int vg_source_parse(const char *s, size_t len)
{
	return lookup(source_names, VG_SOURCE_MANUAL + 1, s, len);
}
