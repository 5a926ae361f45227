/*
 * Shared pieces of the C benchmarks (bench/benchkit.h): the clock and the
 * synthetic unit statuses.
 */
#include "benchkit.h"

#include <stdio.h>
#include <string.h>

#include "vigie/msg.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

double bench_now_s(void)
{
	return (double)vg_mono_ms() / 1e3;
}

int bench_unit_msg(long i, long units, int64_t ts, char *topic,
		   char *payload, size_t size)
{
	struct vg_unit_status st;
	long u = i % units;

	memset(&st, 0, sizeof(st));
	st.program = (enum vg_program)(u % 2);
	st.region = (int)(u % VG_REGION_COUNT) + 1;
	snprintf(st.site, sizeof(st.site), "site-%02d-%04ld", st.region,
		 (u / 64) % 10000);
	snprintf(st.unit, sizeof(st.unit), "unit-%07ld", u);
	st.state = (enum vg_state)((i / units + u) % 4);
	st.seq = 1700000000000LL + i;
	st.ts = ts;
	st.source = VG_SOURCE_MODBUS;
	vg_topic_unit(topic, VG_TOPIC_MAX, "", st.program, st.region, st.site,
		      st.unit);
	return vg_unit_status_encode(&st, payload, size);
}
