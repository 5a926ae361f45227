/* Fuzz the agent presence decoder: accepted input must round-trip. */
#include "roundtrip.h"

#define DECODE(p, n, out) vg_presence_decode(p, n, NULL, out)
FUZZ_ROUND_TRIP(presence, struct vg_presence, DECODE, vg_presence_encode)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	presence((const char *)data, size);
	return 0;
}
