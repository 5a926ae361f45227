/*
 * Fuzz the event and gateway-presence decoders: accepted input must
 * round-trip through the encoders the gateway publishes with.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vigie/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void event(const char *p, size_t size)
{
	struct vg_event a, b;
	char buf[VG_PAYLOAD_MAX + 1];
	int n;

	if (vg_event_decode(p, size, &a) != VG_REJ_NONE)
		return;
	n = vg_event_encode(&a, buf, sizeof(buf));
	if (n < 0)
		return;
	assert(vg_event_decode(buf, (size_t)n, &b) == VG_REJ_NONE);
	assert(memcmp(&a, &b, sizeof(a)) == 0);
}

static void presence(const char *p, size_t size)
{
	struct vg_gw_presence a, b;
	char buf[VG_PAYLOAD_MAX + 1];
	int n;

	if (vg_gw_presence_decode(p, size, &a) != VG_REJ_NONE)
		return;
	n = vg_gw_presence_encode(&a, buf, sizeof(buf));
	if (n < 0)
		return;
	assert(vg_gw_presence_decode(buf, (size_t)n, &b) == VG_REJ_NONE);
	assert(memcmp(&a, &b, sizeof(a)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	event((const char *)data, size);
	presence((const char *)data, size);
	return 0;
}
