/*
 * Fuzz the unit-status decoder (the gateway's widest door).  Property: no
 * crash or sanitizer report on any input, and whatever it accepts encodes
 * back to a payload that decodes to the same status.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vigie/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_unit_status a, b;
	char buf[VG_PAYLOAD_MAX + 1];
	int n;

	if (vg_unit_status_decode((const char *)data, size, NULL, &a) !=
	    VG_REJ_NONE)
		return 0;
	n = vg_unit_status_encode(&a, buf, sizeof(buf));
	if (n < 0)
		return 0; /* e.g. a fault text that escapes past 4 KiB */
	assert(vg_unit_status_decode(buf, (size_t)n, NULL, &b) == VG_REJ_NONE);
	assert(memcmp(&a, &b, sizeof(a)) == 0);
	return 0;
}
