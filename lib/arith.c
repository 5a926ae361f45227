/*
 * Integer arithmetic of the indicator.  Counts are at most a few million,
 * so count × 10000 × 2 stays far below 2^64.
 */
#include "vigie/arith.h"

#include <stdio.h>

#include "vigie/err.h"

bool vg_percent_bp(uint64_t migrated, uint64_t eligible, uint32_t *bp)
{
	if (eligible == 0)
		return false;
	/* half up: floor(m*10000/e + 1/2) = floor((2*m*10000 + e) / (2*e)) */
	*bp = (uint32_t)((2 * migrated * VG_BP_MAX + eligible) / (2 * eligible));
	return true;
}

bool vg_target_met(uint64_t migrated, uint64_t eligible, uint32_t target_bp)
{
	return migrated * VG_BP_MAX >= (uint64_t)target_bp * eligible;
}

uint64_t vg_target_units(uint64_t eligible, uint32_t target_bp)
{
	return ((uint64_t)target_bp * eligible + VG_BP_MAX - 1) / VG_BP_MAX;
}

uint64_t vg_units_needed(uint64_t migrated, uint64_t eligible,
			 uint32_t target_bp)
{
	uint64_t need = vg_target_units(eligible, target_bp);

	return need > migrated ? need - migrated : 0;
}

int vg_bp_format(uint32_t bp, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%u.%02u", bp / 100, bp % 100);
	if (n < 0 || (size_t)n >= size)
		return VG_ERR_RANGE;
	return n;
}

int vg_bp_format_ratio(uint32_t bp, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%u.%04u", bp / VG_BP_MAX, bp % VG_BP_MAX);
	if (n < 0 || (size_t)n >= size)
		return VG_ERR_RANGE;
	return n;
}

int vg_bp_parse(const char *s, uint32_t *bp)
{
	uint32_t whole = 0, frac = 0;
	int nd = 0, nf = 0;

	while (*s >= '0' && *s <= '9' && nd < 4) {
		whole = whole * 10 + (uint32_t)(*s++ - '0');
		nd++;
	}
	if (nd == 0)
		return VG_ERR_PARSE;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9' && nf < 2) {
			frac = frac * 10 + (uint32_t)(*s++ - '0');
			nf++;
		}
		if (nf == 0)
			return VG_ERR_PARSE;
		if (nf == 1)
			frac *= 10;
	}
	if (*s != '\0')
		return VG_ERR_PARSE;
	if (whole > 100 || (whole == 100 && frac > 0))
		return VG_ERR_RANGE;
	*bp = whole * 100 + frac;
	return VG_OK;
}
