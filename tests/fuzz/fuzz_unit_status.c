/*
 * Fuzz the unit-status decoder, the gateway's widest door: accepted input
 * must round-trip.
 */
#include "roundtrip.h"

#define DECODE(p, n, out) vg_unit_status_decode(p, n, NULL, out)
FUZZ_ROUND_TRIP(unit_status, struct vg_unit_status, DECODE,
		vg_unit_status_encode)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unit_status((const char *)data, size);
	return 0;
}
