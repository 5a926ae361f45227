/*
 * The property every codec harness checks: no crash or sanitizer report
 * on any input, and whatever the decoder accepts encodes back to a
 * payload that decodes to the same value.
 *
 * FUZZ_ROUND_TRIP(name, type, decode, encode) defines
 * static void name(const char *p, size_t size) for one codec: decode(p,
 * n, &out) returns enum vg_reject (wrap a decoder that also checks a
 * topic in a macro that passes NULL), encode(&in, buf, size) returns the
 * length or a negative VG_ERR_*.
 */
#ifndef FUZZ_ROUNDTRIP_H
#define FUZZ_ROUNDTRIP_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vigie/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An encoder may refuse what decodes (e.g. a fault text that escapes
 * past 4 KiB): the property is only about what it writes. */
#define FUZZ_ROUND_TRIP(name, type, decode, encode)                      \
	static void name(const char *p, size_t size)                      \
	{                                                                 \
		type a, b;                                                \
		char buf[VG_PAYLOAD_MAX + 1];                             \
		int n;                                                    \
                                                                          \
		if (decode(p, size, &a) != VG_REJ_NONE)                   \
			return;                                           \
		n = encode(&a, buf, sizeof(buf));                         \
		if (n < 0)                                                \
			return;                                           \
		assert(decode(buf, (size_t)n, &b) == VG_REJ_NONE);        \
		assert(memcmp(&a, &b, sizeof(a)) == 0);                   \
	}

#endif
