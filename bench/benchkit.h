/*
 * What the C benchmarks share: the clock they time runs with and the
 * synthetic unit statuses they feed the gateway, so that the in-process
 * core bench and the broker load generator measure the same messages.
 */
#ifndef VIGIE_BENCHKIT_H
#define VIGIE_BENCHKIT_H

#include <stddef.h>
#include <stdint.h>

/* Seconds on the monotonic clock (vg_mono_ms: ms is plenty for runs of
 * seconds). */
double bench_now_s(void);

/*
 * Message i of a stream cycling over `units` units (both programs, every
 * region, 64 units a site) with rising seq and varied states, stamped ts:
 * its topic (VG_TOPIC_MAX bytes) and payload.  Returns the payload's
 * length, or a negative VG_ERR_* when it does not fit.
 */
int bench_unit_msg(long i, long units, int64_t ts, char *topic,
		   char *payload, size_t size);

#endif
