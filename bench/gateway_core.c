/*
 * bench/gateway-core: the gateway's core rate in process, on one core:
 * decode + validate + apply + aggregate of unit statuses, as
 * gw_core_decode/gw_core_apply run them for every MQTT message.  The peer,
 * measured in the same run on the same payloads, is a bare cJSON parse
 * (cJSON_ParseWithLength + cJSON_Delete): the ratio shows what Vigie's
 * validation and bookkeeping cost on top of merely reading the JSON.
 *
 * usage: gateway-core [UNITS [MESSAGES [RUNS]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "benchkit.h"
#include "gw_core.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

struct msg {
	char topic[VG_TOPIC_MAX];
	char payload[320];
	size_t len;
};

/* Messages cycling over `units` units, the stamp rising every 1,000. */
static struct msg *make_msgs(long units, long n)
{
	struct msg *m = malloc((size_t)n * sizeof(*m));

	if (!m)
		return NULL;
	for (long i = 0; i < n; i++) {
		int len = bench_unit_msg(i, units, 1795370400 + i / 1000,
					 m[i].topic, m[i].payload,
					 sizeof(m[i].payload));
		m[i].len = len < 0 ? 0 : (size_t)len;
	}
	return m;
}

static double run_core(const struct msg *m, long n, struct gw_core **keep)
{
	struct gw_core *c = gw_core_new();
	struct gw_batch b = { 0 };
	struct gw_msg gm;
	struct vg_counts counts;
	double t0 = bench_now_s(), dt;

	for (long i = 0; i < n; i++) {
		if (gw_core_decode("", m[i].topic, m[i].payload, m[i].len,
				   &gm) != VG_REJ_NONE ||
		    gw_core_apply(c, &gm) != VG_REJ_NONE) {
			fprintf(stderr, "message %ld rejected\n", i);
			exit(1);
		}
		if (i % 50000 == 49999) { /* what the main thread does */
			for (int p = 0; p < VG_PROG_COUNT; p++)
				for (int r = 0; r <= VG_REGION_COUNT; r++)
					gw_core_counts(c, p, r, &counts);
			gw_core_take(c, &b);
			gw_batch_clear(&b);
		}
	}
	dt = bench_now_s() - t0;
	gw_batch_free(&b);
	if (keep)
		*keep = c;
	else
		gw_core_free(c);
	return (double)n / dt;
}

static double run_cjson(const struct msg *m, long n)
{
	double t0 = bench_now_s();

	for (long i = 0; i < n; i++) {
		cJSON *j = cJSON_ParseWithLength(m[i].payload, m[i].len);
		if (!j)
			exit(1);
		cJSON_Delete(j);
	}
	return (double)n / (bench_now_s() - t0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	long units = argc > 1 ? atol(argv[1]) : 100000;
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	int runs = argc > 3 ? atoi(argv[3]) : 5;
	double core[32], peer[32];
	struct msg *m;

	if (units < 1 || n < units || runs < 1 || runs > 32) {
		fprintf(stderr, "usage: gateway-core [UNITS [MESSAGES [RUNS]]]\n");
		return 2;
	}
	m = make_msgs(units, n);
	if (!m)
		return 1;
	for (int r = 0; r < runs; r++) {
		core[r] = run_core(m, n, NULL);
		peer[r] = run_cjson(m, n);
	}
	qsort(core, (size_t)runs, sizeof(double), cmp);
	qsort(peer, (size_t)runs, sizeof(double), cmp);
	printf("gateway-core: %ld units, %ld messages, %d runs\n", units, n,
	       runs);
	printf("  core (decode+validate+apply+aggregate): median %.0f updates/s\n",
	       core[runs / 2]);
	printf("  peer (bare cJSON parse):                median %.0f msgs/s\n",
	       peer[runs / 2]);
	printf("  ratio core/peer: %.2f\n", core[runs / 2] / peer[runs / 2]);
	free(m);
	return 0;
}
