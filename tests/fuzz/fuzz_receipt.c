/* Fuzz the receipt decoder; accepted input must round-trip. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vigie/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_receipt a, b;
	char buf[VG_PAYLOAD_MAX + 1];
	int n;

	if (vg_receipt_decode((const char *)data, size, NULL, &a) !=
	    VG_REJ_NONE)
		return 0;
	n = vg_receipt_encode(&a, buf, sizeof(buf));
	if (n < 0)
		return 0;
	assert(vg_receipt_decode(buf, (size_t)n, NULL, &b) == VG_REJ_NONE);
	assert(memcmp(&a, &b, sizeof(a)) == 0);
	return 0;
}
