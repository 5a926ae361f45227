/* Fuzz the receipt decoder: accepted input must round-trip. */
#include "roundtrip.h"

#define DECODE(p, n, out) vg_receipt_decode(p, n, NULL, out)
FUZZ_ROUND_TRIP(receipt, struct vg_receipt, DECODE, vg_receipt_encode)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	receipt((const char *)data, size);
	return 0;
}
