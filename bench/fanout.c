/*
 * bench/fanout: a thousand live dashboards on one gateway, or the same
 * summaries to a thousand MQTT subscribers of its broker (the peer), in
 * one process and one clock (issue #17, docs/BENCHMARKS.md, Fan-out).
 *
 *   fanout sse  HTTP_PORT MQTT_PORT VIEWERS CHANGES PERIOD_MS BASE RUN
 *   fanout mqtt HTTP_PORT MQTT_PORT VIEWERS CHANGES PERIOD_MS BASE RUN
 *
 * sse: VIEWERS connections to /api/v1/events from 127.0.0.1, read with
 * epoll, de-chunked, each event's RENIR region 06 "migrated" count read.
 * mqtt: VIEWERS libmosquitto clients subscribed to vigie/v1/summary/#
 * (QoS 0: like a stream, no acknowledgement), driven by one epoll loop.
 * Once every viewer has the current state (06's migrated == BASE) it
 * prints "ready", then a publisher thread makes CHANGES unit changes,
 * one every PERIOD_MS: change k is a new RENIR unit of region 06, site
 * "fanout", arriving migrated, so 06's migrated count becomes BASE + k.
 * Its time t0[k] is taken just before the MQTT publish of that unit; a
 * viewer has change k at the first event or summary whose count is at
 * least BASE + k (an event that coalesces several changes delivers them
 * all).  Meanwhile a thread asks /healthz and /api/v1/summary in turn,
 * every 100 ms, each on a new connection, and times the whole answer.
 * When every viewer has every change (or 10 s after the last change) it
 * prints "done" and waits for a line on stdin (the driver reads the
 * gateway's memory then) before it closes everything and prints one JSON
 * line of figures (ms): per change the time to its last viewer, p50/p99
 * over changes; per delivery, p50/p99; /healthz and API p50/p99/max.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "vigie/msg.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

#define MAX_VIEWERS 4096
#define MAX_CHANGES 100000
#define EVENT_MAX ((size_t)256 * 1024)
#define PROBE_MS 100
#define PROBES_MAX 100000
#define SETTLE_MS 10000
#define READY_TIMEOUT_MS 120000

static const char mark[] = "\"program\":\"renir\",\"region\":\"06\"";
static const char sum_topic[] = "vigie/v1/summary/renir/06";

struct viewer {
	int fd;                /* sse */
	struct mosquitto *m;   /* mqtt */
	int head;              /* sse: header bytes matched of \r\n\r\n */
	bool in_body;
	int chunk_state;       /* 0 size line, 1 data, 2 CRLF after data */
	size_t chunk_left;
	char *ev;              /* sse: the event text being assembled */
	size_t ev_len;
	long count;            /* 06's migrated in the last event, -1 none */
	int have;              /* changes delivered: 1..have */
};

static struct viewer *viewers;
static int nviewers, nchanges, period_ms, run;
static long base;
static int http_port, mqtt_port;
static bool sse_mode;
static _Atomic int64_t t0_us[MAX_CHANGES + 1];
static int64_t *lat_us;  /* [viewer * nchanges + k - 1]: delivery time */
static atomic_int published;
static atomic_bool probing;

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "fanout: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A viewer now shows count: every change up to it is delivered now. */
static void seen(int v, long count)
{
	struct viewer *w = &viewers[v];
	int64_t t = now_us();
	long upto = count - base;

	w->count = count;
	if (upto > nchanges)
		upto = nchanges;
	for (long k = w->have + 1; k <= upto; k++) {
		int64_t t0 = atomic_load_explicit(&t0_us[k],
						  memory_order_acquire);
		lat_us[(size_t)v * (size_t)nchanges + (size_t)k - 1] =
			t0 ? t - t0 : 0;
	}
	if (upto > w->have)
		w->have = (int)upto;
}

static long count_in(const char *p, size_t len)
{
	const char *m = memmem(p, len, mark, sizeof(mark) - 1);
	const char *c;

	if (!m)
		return -1;
	c = memmem(m, len - (size_t)(m - p), "\"migrated\":", 11);
	return c ? strtol(c + 11, NULL, 10) : -1;
}

/* Decoded event-stream text: complete events are read, the rest kept. */
static void sse_text(int v, const char *p, size_t n)
{
	struct viewer *w = &viewers[v];
	size_t from = w->ev_len > 0 ? w->ev_len - 1 : 0;
	char *end;

	if (w->ev_len + n > EVENT_MAX) {
		fprintf(stderr, "fanout: an event past %zu bytes\n", EVENT_MAX);
		exit(1);
	}
	memcpy(w->ev + w->ev_len, p, n);
	w->ev_len += n;
	while ((end = memmem(w->ev + from, w->ev_len - from, "\n\n", 2))) {
		size_t len = (size_t)(end - w->ev) + 2;
		long c = count_in(w->ev, len);

		if (c >= 0)
			seen(v, c);
		memmove(w->ev, w->ev + len, w->ev_len - len);
		w->ev_len -= len;
		from = 0;
	}
}

/* Bytes off a stream's socket: the head skipped, chunks decoded. */
static void sse_bytes(int v, const char *p, size_t n)
{
	static const char crlf2[] = "\r\n\r\n";
	struct viewer *w = &viewers[v];

	while (n > 0) {
		if (!w->in_body) {
			w->head = *p == crlf2[w->head] ? w->head + 1
						       : (*p == '\r');
			w->in_body = w->head == 4;
			p++, n--;
		} else if (w->chunk_state == 0) {
			char ch = *p++;

			n--;
			if (ch == '\n')
				w->chunk_state = w->chunk_left ? 1 : 2;
			else if (ch >= '0' && ch <= '9')
				w->chunk_left = w->chunk_left * 16 +
						(size_t)(ch - '0');
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				w->chunk_left = w->chunk_left * 16 +
						(size_t)((ch | 0x20) - 'a' + 10);
		} else if (w->chunk_state == 1) {
			size_t k = n < w->chunk_left ? n : w->chunk_left;

			sse_text(v, p, k);
			p += k, n -= k;
			w->chunk_left -= k;
			if (!w->chunk_left)
				w->chunk_state = 2;
		} else { /* the CRLF closing a chunk */
			if (*p == '\n')
				w->chunk_state = 0;
			p++, n--;
		}
	}
}

static int sse_open(void)
{
	static const char req[] = "GET /api/v1/events HTTP/1.1\r\n"
				  "Host: fanout\r\nAccept: text/event-stream"
				  "\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)http_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0)
		die("event stream");
	return fd;
}

static void on_message(struct mosquitto *m, void *ud,
		       const struct mosquitto_message *msg)
{
	int v = (int)((struct viewer *)ud - viewers);
	long c;

	(void)m;
	if (strcmp(msg->topic, sum_topic) != 0 || msg->payloadlen <= 0)
		return;
	c = count_in(msg->payload, (size_t)msg->payloadlen);
	if (c >= 0)
		seen(v, c);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	(void)ud;
	if (rc != 0 || mosquitto_subscribe(m, NULL, "vigie/v1/summary/#", 0) !=
	    MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "fanout: subscriber refused\n");
		exit(1);
	}
}

static void mqtt_open(int v)
{
	char id[64];
	struct mosquitto *m;

	snprintf(id, sizeof(id), "fanout-%d-%d", run, v);
	m = mosquitto_new(id, true, &viewers[v]);
	if (!m)
		die("mosquitto_new");
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_message_callback_set(m, on_message);
	if (mosquitto_connect(m, "127.0.0.1", mqtt_port, 60) !=
	    MOSQ_ERR_SUCCESS)
		die("subscriber connect");
	viewers[v].m = m;
	viewers[v].fd = mosquitto_socket(m);
}

/* One turn of a subscriber's network loop. */
static void mqtt_turn(struct viewer *w, bool readable)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (readable)
		rc = mosquitto_loop_read(w->m, 1);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(w->m))
		rc = mosquitto_loop_write(w->m, 1);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(w->m);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "fanout: subscriber lost: %s\n",
			mosquitto_strerror(rc));
		exit(1);
	}
}

static void serve(int ep, int timeout_ms)
{
	struct epoll_event evs[256];
	static char buf[1 << 16];
	int n = epoll_wait(ep, evs, 256, timeout_ms);

	if (n < 0 && errno != EINTR)
		die("epoll_wait");
	for (int i = 0; i < n; i++) {
		int v = (int)evs[i].data.u32;
		struct viewer *w = &viewers[v];

		if (!sse_mode) {
			mqtt_turn(w, true);
			continue;
		}
		for (;;) {
			ssize_t r = read(w->fd, buf, sizeof(buf));

			if (r > 0) {
				sse_bytes(v, buf, (size_t)r);
				continue;
			}
			if (r == 0) {
				fprintf(stderr, "fanout: stream %d closed\n", v);
				exit(1);
			}
			if (errno != EAGAIN)
				die("read");
			break;
		}
	}
	if (!sse_mode) /* writes (subscriptions, pings) and keepalives */
		for (int v = 0; v < nviewers; v++)
			if (mosquitto_want_write(viewers[v].m))
				mqtt_turn(&viewers[v], false);
}

/* The publisher: change k, a new migrated unit, at start + k * period. */
static void *publish(void *arg)
{
	struct mosquitto *pub = arg;
	int64_t start = now_us();

	for (int k = 1; k <= nchanges; k++) {
		struct vg_unit_status st = { .program = VG_PROG_RENIR,
					     .region = 6,
					     .state = VG_STATE_MIGRATED,
					     .source = VG_SOURCE_MODBUS };
		char topic[VG_TOPIC_MAX], payload[512];
		int64_t at = start + (int64_t)k * period_ms * 1000, t;
		int len;

		while ((t = now_us()) < at) {
			struct timespec ts = { 0, (long)(at - t) * 1000 };

			nanosleep(&ts, NULL);
		}
		snprintf(st.site, sizeof(st.site), "fanout");
		snprintf(st.unit, sizeof(st.unit), "%s%d-%05d",
			 sse_mode ? "s" : "m", run, k);
		st.seq = vg_now_ms();
		st.ts = vg_now();
		len = vg_unit_status_encode(&st, payload, sizeof(payload));
		if (len < 0 || vg_topic_unit(topic, sizeof(topic), "",
					     st.program, st.region, st.site,
					     st.unit) < 0) {
			fprintf(stderr, "fanout: cannot encode a change\n");
			exit(1);
		}
		atomic_store_explicit(&t0_us[k], now_us(),
				      memory_order_release);
		if (mosquitto_publish(pub, NULL, topic, len, payload, 1, true) !=
		    MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "fanout: publish failed\n");
			exit(1);
		}
		atomic_store(&published, k);
	}
	return NULL;
}

struct probes {
	int64_t us[PROBES_MAX];
	int n;
};
static struct probes health, api;

/* One GET on a new connection, read to its end: the time, or -1. */
static int64_t get(const char *path)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)http_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[256], buf[1 << 16];
	int64_t t = now_us();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: "
			   "fanout\r\nConnection: close\r\n\r\n", path);
	bool ok = fd >= 0 &&
		  connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  write(fd, req, (size_t)len) == len;
	while (ok && read(fd, buf, sizeof(buf)) > 0)
		;
	if (fd >= 0)
		close(fd);
	return ok ? now_us() - t : -1;
}

static void *probe(void *arg)
{
	bool h = true;

	(void)arg;
	while (atomic_load(&probing)) {
		struct probes *p = h ? &health : &api;
		int64_t t = get(h ? "/healthz" : "/api/v1/summary");

		if (t >= 0 && p->n < PROBES_MAX)
			p->us[p->n++] = t;
		h = !h;
		usleep(PROBE_MS * 1000 / 2);
	}
	return NULL;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (nearest rank) of n sorted values, in ms. */
static double pct(const int64_t *s, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return -1;
	i = (size_t)(q * (double)n + 0.999999);
	i = i == 0 ? 0 : i - 1;
	return (double)s[i < n ? i : n - 1] / 1000.0;
}

static bool all_have(int k)
{
	for (int v = 0; v < nviewers; v++)
		if (viewers[v].have < k)
			return false;
	return true;
}

static bool all_ready(void)
{
	for (int v = 0; v < nviewers; v++)
		if (viewers[v].count != base)
			return false;
	return true;
}

static void report(void)
{
	size_t n = (size_t)nviewers * (size_t)nchanges;
	int64_t *last = calloc((size_t)nchanges, sizeof(*last));
	size_t missing = 0;

	if (!last)
		die("memory");
	for (int k = 0; k < nchanges; k++)
		for (int v = 0; v < nviewers; v++) {
			int64_t l = lat_us[(size_t)v * (size_t)nchanges +
					   (size_t)k];

			if (viewers[v].have <= k)
				missing++;
			else if (l > last[k])
				last[k] = l;
		}
	qsort(last, (size_t)nchanges, sizeof(*last), cmp64);
	qsort(lat_us, n, sizeof(*lat_us), cmp64);
	qsort(health.us, (size_t)health.n, sizeof(int64_t), cmp64);
	qsort(api.us, (size_t)api.n, sizeof(int64_t), cmp64);
	printf("{\"mode\":\"%s\",\"viewers\":%d,\"changes\":%d,"
	       "\"missing\":%zu,\"last_p50\":%.2f,\"last_p99\":%.2f,"
	       "\"last_max\":%.2f,\"all_p50\":%.2f,\"all_p99\":%.2f,"
	       "\"healthz_n\":%d,\"healthz_p50\":%.2f,\"healthz_p99\":%.2f,"
	       "\"healthz_max\":%.2f,\"api_n\":%d,\"api_p50\":%.2f,"
	       "\"api_p99\":%.2f,\"api_max\":%.2f}\n",
	       sse_mode ? "sse" : "mqtt", nviewers, nchanges, missing,
	       pct(last, (size_t)nchanges, 0.5),
	       pct(last, (size_t)nchanges, 0.99),
	       pct(last, (size_t)nchanges, 1.0), pct(lat_us, n, 0.5),
	       pct(lat_us, n, 0.99), health.n,
	       pct(health.us, (size_t)health.n, 0.5),
	       pct(health.us, (size_t)health.n, 0.99),
	       pct(health.us, (size_t)health.n, 1.0), api.n,
	       pct(api.us, (size_t)api.n, 0.5),
	       pct(api.us, (size_t)api.n, 0.99),
	       pct(api.us, (size_t)api.n, 1.0));
	free(last);
}

static void raise_nofile(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)need) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)need ? rl.rlim_max
							 : (rlim_t)need;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			die("setrlimit");
	}
}

int main(int argc, char **argv)
{
	struct mosquitto *pub;
	pthread_t pub_t, probe_t;
	int ep;
	int64_t deadline;
	char line[16];

	if (argc != 9 || (strcmp(argv[1], "sse") != 0 &&
			  strcmp(argv[1], "mqtt") != 0)) {
		fprintf(stderr, "usage: fanout sse|mqtt HTTP_PORT MQTT_PORT "
			"VIEWERS CHANGES PERIOD_MS BASE RUN\n");
		return 2;
	}
	sse_mode = strcmp(argv[1], "sse") == 0;
	http_port = atoi(argv[2]);
	mqtt_port = atoi(argv[3]);
	nviewers = atoi(argv[4]);
	nchanges = atoi(argv[5]);
	period_ms = atoi(argv[6]);
	base = atol(argv[7]);
	run = atoi(argv[8]);
	if (nviewers < 1 || nviewers > MAX_VIEWERS || nchanges < 1 ||
	    nchanges > MAX_CHANGES || period_ms < 1) {
		fprintf(stderr, "fanout: VIEWERS 1..%d, CHANGES 1..%d\n",
			MAX_VIEWERS, MAX_CHANGES);
		return 2;
	}
	raise_nofile(3 * nviewers + 64);
	mosquitto_lib_init();
	/* first, so that its socket is numbered below FD_SETSIZE: its
	 * thread runs mosquitto_loop(), which uses select() */
	pub = mosquitto_new(NULL, true, NULL);
	if (!pub || mosquitto_connect(pub, "127.0.0.1", mqtt_port, 60) !=
	    MOSQ_ERR_SUCCESS || mosquitto_loop_start(pub) != MOSQ_ERR_SUCCESS)
		die("publisher");
	viewers = calloc((size_t)nviewers, sizeof(*viewers));
	lat_us = calloc((size_t)nviewers * (size_t)nchanges, sizeof(*lat_us));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!viewers || !lat_us || ep < 0)
		die("setup");
	for (int v = 0; v < nviewers; v++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 =
					  (uint32_t)v };

		viewers[v].count = -1;
		if (sse_mode) {
			viewers[v].ev = malloc(EVENT_MAX);
			if (!viewers[v].ev)
				die("memory");
			viewers[v].fd = sse_open();
		} else {
			mqtt_open(v);
		}
		if (epoll_ctl(ep, EPOLL_CTL_ADD, viewers[v].fd, &ev) != 0)
			die("epoll_ctl");
	}
	deadline = vg_mono_ms() + READY_TIMEOUT_MS;
	while (!all_ready()) {
		if (vg_mono_ms() > deadline) {
			fprintf(stderr, "fanout: viewers not ready\n");
			return 1;
		}
		serve(ep, 100);
	}
	printf("ready\n");
	fflush(stdout);
	atomic_store(&probing, true);
	if (pthread_create(&probe_t, NULL, probe, NULL) != 0 ||
	    pthread_create(&pub_t, NULL, publish, pub) != 0)
		die("threads");
	deadline = INT64_MAX;
	while (!(atomic_load(&published) == nchanges && all_have(nchanges)) &&
	       vg_mono_ms() < deadline) {
		serve(ep, 50);
		if (deadline == INT64_MAX && atomic_load(&published) == nchanges)
			deadline = vg_mono_ms() + SETTLE_MS;
	}
	atomic_store(&probing, false);
	pthread_join(pub_t, NULL);
	pthread_join(probe_t, NULL);
	printf("done\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = '\0';
	for (int v = 0; v < nviewers; v++) {
		if (sse_mode) {
			close(viewers[v].fd);
		} else {
			mosquitto_disconnect(viewers[v].m);
			mosquitto_loop_write(viewers[v].m, 1);
			mosquitto_destroy(viewers[v].m);
		}
	}
	mosquitto_disconnect(pub);
	mosquitto_loop_stop(pub, false);
	mosquitto_destroy(pub);
	report();
	mosquitto_lib_cleanup();
	return 0;
}
