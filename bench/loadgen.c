/*
 * bench/loadgen: publish N unit statuses at QoS 1 as fast as the broker
 * takes them, with up to WINDOW messages in flight, from one libmosquitto
 * client (mosquitto_pub -l is client-bound at QoS 1: one at a time).
 * Units cycle over UNITS ids across the 17 regions and both programs;
 * seq rises, so every message is a real update for the gateway.
 *
 * usage: loadgen HOST PORT N [UNITS [WINDOW [RETAIN]]]
 * Prints "published N in S s (R msg/s)" once every PUBACK is in.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "benchkit.h"
#include "vigie/msg.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

static atomic_long acked;

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	(void)m;
	(void)ud;
	(void)mid;
	atomic_fetch_add(&acked, 1);
}

int main(int argc, char **argv)
{
	char topic[VG_TOPIC_MAX], payload[512];
	struct mosquitto *m;
	long n, units, window;
	int retain, len;
	double t0;

	if (argc < 4) {
		fprintf(stderr, "usage: loadgen HOST PORT N [UNITS [WINDOW [RETAIN]]]\n");
		return 2;
	}
	n = atol(argv[3]);
	units = argc > 4 ? atol(argv[4]) : 10000;
	window = argc > 5 ? atol(argv[5]) : 1000;
	retain = argc > 6 ? atoi(argv[6]) : 0;
	if (units < 1 || window < 1 ||
	    mosquitto_lib_init() != MOSQ_ERR_SUCCESS)
		return 1;
	m = mosquitto_new(NULL, true, NULL);
	if (!m)
		return 1;
	mosquitto_publish_callback_set(m, on_publish);
	/* the window is the figure measured: without it the run is void */
	if (mosquitto_int_option(m, MOSQ_OPT_SEND_MAXIMUM, (int)window) !=
	    MOSQ_ERR_SUCCESS ||
	    mosquitto_connect(m, argv[1], atoi(argv[2]), 60) != MOSQ_ERR_SUCCESS ||
	    mosquitto_loop_start(m) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "loadgen: cannot connect to %s:%s\n", argv[1],
			argv[2]);
		return 1;
	}
	t0 = bench_now_s();
	for (long i = 0; i < n; i++) {
		struct timespec pause = { 0, 100000 };
		while (i - atomic_load(&acked) >= window)
			nanosleep(&pause, NULL);
		len = bench_unit_msg(i, units, 1795370400, topic, payload,
				     sizeof(payload));
		if (mosquitto_publish(m, NULL, topic, len, payload, 1,
				      retain != 0) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "loadgen: publish failed at %ld\n", i);
			return 1;
		}
	}
	while (atomic_load(&acked) < n) {
		struct timespec pause = { 0, 1000000 };
		nanosleep(&pause, NULL);
		if (bench_now_s() - t0 > 600) {
			fprintf(stderr, "loadgen: PUBACKs missing\n");
			return 1;
		}
	}
	printf("published %ld in %.3f s (%.0f msg/s)\n", n, bench_now_s() - t0,
	       (double)n / (bench_now_s() - t0));
	mosquitto_disconnect(m);
	mosquitto_loop_stop(m, false);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	return 0;
}
