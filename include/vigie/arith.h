/*
 * The indicator's arithmetic, in integers only (docs/protocol.md): percentages are
 * basis points (1 bp = 0.01 %), so "met" and "units needed" never depend on
 * floating-point rounding and every part of Vigie agrees to the unit.
 */
#ifndef VIGIE_ARITH_H
#define VIGIE_ARITH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_BP_MAX 10000u

/*
 * migrated / eligible as basis points, rounded half up.  Returns false (and
 * leaves *bp alone) when eligible is 0: the percentage is then undefined.
 */
bool vg_percent_bp(uint64_t migrated, uint64_t eligible, uint32_t *bp);
/* migrated × 10000 ≥ target_bp × eligible */
bool vg_target_met(uint64_t migrated, uint64_t eligible, uint32_t target_bp);
/* ⌈target_bp × eligible / 10000⌉: migrated units the target asks for */
uint64_t vg_target_units(uint64_t eligible, uint32_t target_bp);
/* max(0, vg_target_units(eligible, target_bp) − migrated) */
uint64_t vg_units_needed(uint64_t migrated, uint64_t eligible,
			 uint32_t target_bp);

/* "51.25" from 5125; fixed two decimals.  Returns bytes written or <0. */
int vg_bp_format(uint32_t bp, char *buf, size_t size);
/* "0.5125" from 5125: the same figure as a ratio (Prometheus's unit). */
int vg_bp_format_ratio(uint32_t bp, char *buf, size_t size);
/*
 * Parse a percentage "0".."100" with at most two decimals ("51", "51.5",
 * "51.25") into basis points.  The whole string must be consumed.
 */
int vg_bp_parse(const char *s, uint32_t *bp);

#endif
