/*
 * Fuzz the event and gateway-presence decoders: accepted input must
 * round-trip through the encoders the gateway publishes with.
 */
#include "roundtrip.h"
#include "vigie/event.h"

FUZZ_ROUND_TRIP(event, struct vg_event, vg_event_decode, vg_event_encode)
FUZZ_ROUND_TRIP(gw_presence, struct vg_gw_presence, vg_gw_presence_decode,
		vg_gw_presence_encode)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	event((const char *)data, size);
	gw_presence((const char *)data, size);
	return 0;
}
