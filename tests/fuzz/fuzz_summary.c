/*
 * Fuzz the summary decoder (what a rollup reads from other gateways).
 * Property: accepted summaries are internally consistent.
 */
#include <assert.h>
#include <stdint.h>

#include "vigie/arith.h"
#include "vigie/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_summary s;
	uint64_t known = 0;

	if (vg_summary_decode((const char *)data, size, NULL, &s) !=
	    VG_REJ_NONE)
		return 0;
	for (int i = 0; i < VG_STATE_COUNT; i++)
		known += s.counts.n[i];
	assert(s.eligible == known - s.counts.n[VG_STATE_RETIRED]);
	assert(s.migrated == s.counts.n[VG_STATE_MIGRATED]);
	assert(s.ntargets <= VG_TARGETS_MAX);
	assert(s.current < s.ntargets);
	return 0;
}
