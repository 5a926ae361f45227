/*
 * bench/stormgen: a birth storm (issue #14).  SITES agents reconnect at
 * once, each with UNITS units: every site is its own libmosquitto client
 * (client id = site id, storm-0001...), all of them in this one process,
 * driven by THREADS threads with poll() over their sockets (a thread per
 * client would measure the scheduler, not the broker).  Each client sets
 * its will (presence online false), connects, publishes its birth
 * (presence online true, same session, retained, QoS 1), then its UNITS
 * unit statuses (retained, QoS 1, nothing held back: the agent sets no
 * in-flight limit either), as fast as the broker takes them.
 *
 * The data is a pure function of (site, unit), so the bench computes the
 * ground truth on its own: site s (0-based) is storm-%04d of s + 1, region
 * s % 17 + 1; its unit j is "u-%02d" of j, program j % 2, state
 * (s * UNITS + j) % 4 (pending, migrating, migrated, retired).
 *
 * A connection lost or refused is taken up again after 200 ms with a new
 * session (a will may have marked the site offline), and the site sends
 * its birth and every unit again, as an agent does; the count is printed.
 *
 * usage: stormgen HOST:PORT[,HOST:PORT...] SITES UNITS [THREADS [HOLD_S]]
 * Sites go to the brokers of the list in turn.  Prints, as they happen:
 *   connected N in S s            every site's first CONNACK
 *   published M in S s (R msg/s)  every birth and unit acknowledged
 * then holds the connections (the broker keeps SITES clients) until
 * SIGTERM/SIGINT or HOLD_S seconds (default 600), disconnects cleanly (no
 * will) and prints "reconnects N".  Exit 1 if the storm did not complete
 * within HOLD_S.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mosquitto.h>

#include "vigie/msg.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

#define MAX_BROKERS 8
#define MAX_THREADS 16
#define RETRY_MS 200
#define KEEPALIVE 60

struct broker {
	char host[64];
	int port;
};

struct client {
	struct mosquitto *m;
	int idx;        /* site index, 0-based */
	int broker;     /* index in the broker list */
	int64_t session;
	int acked;      /* PUBACKs on this connection */
	bool up;        /* a socket is open or being opened */
	bool done;      /* every message acknowledged once */
	bool connacked; /* first CONNACK seen */
	int64_t connack_ms; /* ... that long after the start */
	int64_t retry_at;
};

static struct broker brokers[MAX_BROKERS];
static int nbrokers;
static int nsites, nunits, nthreads = 2;
static long hold_s = 600;
static int64_t base_ms;  /* seq and session base: the storm's start */
static int64_t t0_ms;    /* monotonic start */

static volatile sig_atomic_t stopping;
static atomic_int n_connacked, n_done, n_reconnects, n_failed;
static atomic_llong t_connacked_ms, t_done_ms;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void site_name(int s, char *buf, size_t size)
{
	snprintf(buf, size, "storm-%04d", s + 1);
}

static int site_region(int s)
{
	return s % VG_REGION_COUNT + 1;
}

/* The presence of this connection: the birth (online) or the will. */
static int presence(const struct client *c, bool online, char *topic,
		    char *buf, size_t size)
{
	struct vg_presence pr;

	memset(&pr, 0, sizeof(pr));
	vg_health_clear(&pr.health);
	site_name(c->idx, pr.site, sizeof(pr.site));
	pr.region = site_region(c->idx);
	pr.online = online;
	pr.session = c->session;
	snprintf(pr.version, sizeof(pr.version), "stormgen");
	snprintf(pr.board, sizeof(pr.board), "bench");
	pr.units = nunits;
	pr.ts = vg_now();
	if (vg_topic_agent(topic, VG_TOPIC_MAX, "", pr.site) < 0)
		return -1;
	return vg_presence_encode(&pr, buf, size);
}

static int unit_status(const struct client *c, int j, char *topic,
		       char *buf, size_t size)
{
	struct vg_unit_status st;

	memset(&st, 0, sizeof(st));
	site_name(c->idx, st.site, sizeof(st.site));
	snprintf(st.unit, sizeof(st.unit), "u-%02d", j);
	st.program = (enum vg_program)(j % 2);
	st.region = site_region(c->idx);
	st.state = (enum vg_state)(((long)c->idx * nunits + j) % 4);
	/* one counter per site, as an agent's; a resend repeats a seq, which
	 * the gateway takes as a harmless duplicate */
	st.seq = base_ms + 1 + j;
	st.ts = vg_now();
	st.source = VG_SOURCE_MODBUS;
	if (vg_topic_unit(topic, VG_TOPIC_MAX, "", st.program, st.region,
			  st.site, st.unit) < 0)
		return -1;
	return vg_unit_status_encode(&st, buf, size);
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	struct client *c = ud;
	char topic[VG_TOPIC_MAX], payload[1024];
	int len, prc = MOSQ_ERR_SUCCESS;

	if (rc != 0) {
		/* refused: the loop sees the socket closed and retries */
		fprintf(stderr, "stormgen: site %d refused: %s\n", c->idx + 1,
			mosquitto_connack_string(rc));
		return;
	}
	if (!c->connacked) {
		c->connacked = true;
		c->connack_ms = vg_mono_ms() - t0_ms;
		if (atomic_fetch_add(&n_connacked, 1) + 1 == nsites)
			atomic_store(&t_connacked_ms, vg_mono_ms() - t0_ms);
	}
	c->acked = 0;
	len = presence(c, true, topic, payload, sizeof(payload));
	if (len < 0) {
		fprintf(stderr, "stormgen: cannot encode a birth\n");
		exit(1);
	}
	prc = mosquitto_publish(m, NULL, topic, len, payload, 1, true);
	for (int j = 0; j < nunits && prc == MOSQ_ERR_SUCCESS; j++) {
		len = unit_status(c, j, topic, payload, sizeof(payload));
		if (len < 0) {
			fprintf(stderr, "stormgen: cannot encode a status\n");
			exit(1);
		}
		prc = mosquitto_publish(m, NULL, topic, len, payload, 1, true);
	}
	/* a publish refused here means the connection is going: the loop
	 * sees it and the next connection sends everything again */
	if (prc != MOSQ_ERR_SUCCESS)
		fprintf(stderr, "stormgen: site %d: publish: %s\n", c->idx + 1,
			mosquitto_strerror(prc));
}

static void on_publish(struct mosquitto *m, void *ud, int mid)
{
	struct client *c = ud;

	(void)m;
	(void)mid;
	if (++c->acked == nunits + 1 && !c->done) {
		c->done = true;
		if (atomic_fetch_add(&n_done, 1) + 1 == nsites)
			atomic_store(&t_done_ms, vg_mono_ms() - t0_ms);
	}
}

/* A new session and its will, then a connection started, not awaited. */
static int start_connect(struct client *c, bool first)
{
	char topic[VG_TOPIC_MAX], payload[1024];
	const struct broker *b = &brokers[c->broker];
	int len, rc;

	/* a reconnection is a new session, above the last: the will of the
	 * lost one may have gone out, and a birth of a session after its
	 * will changes nothing */
	if (first)
		c->session = base_ms;
	else
		c->session = vg_now_ms() > c->session ? vg_now_ms()
						       : c->session + 1;
	len = presence(c, false, topic, payload, sizeof(payload));
	if (len < 0)
		return MOSQ_ERR_INVAL;
	rc = mosquitto_will_set(c->m, topic, len, payload, 1, true);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = first ? mosquitto_connect_async(c->m, b->host, b->port,
						     KEEPALIVE)
			   : mosquitto_reconnect_async(c->m);
	c->up = rc == MOSQ_ERR_SUCCESS;
	if (!c->up)
		c->retry_at = vg_mono_ms() + RETRY_MS;
	return rc;
}

struct worker {
	pthread_t tid;
	int first, step; /* clients first, first + step, ... */
	struct pollfd *fds;
	int *who;
};

static void lost(struct client *c, int rc)
{
	c->up = false;
	c->retry_at = vg_mono_ms() + RETRY_MS;
	atomic_fetch_add(&n_reconnects, 1);
	if (atomic_load(&n_reconnects) <= 20)
		fprintf(stderr, "stormgen: site %d lost: %s\n", c->idx + 1,
			mosquitto_strerror(rc));
}

/* Leave cleanly: DISCONNECT, so the broker drops the will. */
static void goodbye(struct client *c)
{
	int rc;

	if (!c->up || mosquitto_socket(c->m) < 0)
		return;
	rc = mosquitto_disconnect(c->m);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->m))
		rc = mosquitto_loop_write(c->m, 1);
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		fprintf(stderr, "stormgen: site %d: disconnect: %s\n",
			c->idx + 1, mosquitto_strerror(rc));
}

static struct client *clients;

static int cmp_ll(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* When the first CONNACKs came: a listen backlog shorter than the storm
 * shows as a step at the kernel's SYN retry (1 s, then 3 s...). */
static void connack_spread(void)
{
	int64_t *t = calloc((size_t)nsites, sizeof(*t));

	if (!t)
		return;
	for (int i = 0; i < nsites; i++)
		t[i] = clients[i].connack_ms;
	qsort(t, (size_t)nsites, sizeof(*t), cmp_ll);
	printf("connack ms: first %lld, p50 %lld, p90 %lld, last %lld\n",
	       (long long)t[0], (long long)t[nsites / 2],
	       (long long)t[nsites * 9 / 10], (long long)t[nsites - 1]);
	free(t);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	int64_t end = t0_ms + hold_s * 1000;

	for (int i = w->first; i < nsites; i += w->step) {
		int rc = start_connect(&clients[i], true);

		if (rc != MOSQ_ERR_SUCCESS)
			lost(&clients[i], rc);
	}
	while (!stopping && vg_mono_ms() < end) {
		int n = 0;
		int64_t now = vg_mono_ms();

		for (int i = w->first; i < nsites; i += w->step) {
			struct client *c = &clients[i];
			int fd;

			if (!c->up) {
				if (now >= c->retry_at &&
				    start_connect(c, false) != MOSQ_ERR_SUCCESS)
					atomic_fetch_add(&n_failed, 1);
				continue;
			}
			fd = mosquitto_socket(c->m);
			if (fd < 0) {
				lost(c, MOSQ_ERR_CONN_LOST);
				continue;
			}
			w->fds[n].fd = fd;
			w->fds[n].events = POLLIN |
				(mosquitto_want_write(c->m) ? POLLOUT : 0);
			w->fds[n].revents = 0;
			w->who[n++] = i;
		}
		if (poll(w->fds, (nfds_t)n, 50) < 0 && errno != EINTR) {
			perror("stormgen: poll");
			exit(1);
		}
		for (int k = 0; k < n; k++) {
			struct client *c = &clients[w->who[k]];
			int rc = MOSQ_ERR_SUCCESS;

			if (w->fds[k].revents & (POLLIN | POLLERR | POLLHUP))
				rc = mosquitto_loop_read(c->m, 1);
			if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(c->m))
				rc = mosquitto_loop_write(c->m, 1);
			if (rc == MOSQ_ERR_SUCCESS)
				rc = mosquitto_loop_misc(c->m);
			if (rc != MOSQ_ERR_SUCCESS)
				lost(c, rc);
		}
	}
	for (int i = w->first; i < nsites; i += w->step)
		goodbye(&clients[i]);
	return NULL;
}

static int parse_brokers(char *list)
{
	char *save = NULL;

	for (char *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		long port;

		if (!colon || nbrokers == MAX_BROKERS ||
		    (size_t)(colon - tok) >= sizeof(brokers[0].host))
			return -1;
		port = strtol(colon + 1, NULL, 10);
		if (port < 1 || port > 65535)
			return -1;
		memcpy(brokers[nbrokers].host, tok, (size_t)(colon - tok));
		brokers[nbrokers].host[colon - tok] = '\0';
		brokers[nbrokers++].port = (int)port;
	}
	return nbrokers > 0 ? 0 : -1;
}

/* One descriptor per client and a few for the process: raise the soft
 * limit to what is needed (the hard limit allowing). */
static int raise_nofile(int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= (rlim_t)need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)need) {
		fprintf(stderr, "stormgen: %d descriptors needed, hard limit "
			"%llu\n", need, (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = (rlim_t)need;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static long arg_long(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi) {
		fprintf(stderr, "stormgen: %s: expected %ld..%ld\n", s, lo, hi);
		exit(2);
	}
	return v;
}

static int setup_client(struct client *c, int i)
{
	char id[32];
	int rc;

	c->idx = i;
	c->broker = i % nbrokers;
	site_name(i, id, sizeof(id));
	c->m = mosquitto_new(id, true, c);
	if (!c->m)
		return MOSQ_ERR_NOMEM;
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_publish_callback_set(c->m, on_publish);
	/* as the agent: no in-flight cap, the broker's pace is measured */
	rc = mosquitto_max_inflight_messages_set(c->m, 0);
	return rc;
}

int main(int argc, char **argv)
{
	struct worker workers[MAX_THREADS];
	struct sigaction sa;
	int rc = 0, mrc, started = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: stormgen HOST:PORT[,HOST:PORT...] SITES "
			"UNITS [THREADS [HOLD_S]]\n");
		return 2;
	}
	if (parse_brokers(argv[1]) != 0) {
		fprintf(stderr, "stormgen: bad broker list\n");
		return 2;
	}
	nsites = (int)arg_long(argv[2], 1, 9999);
	nunits = (int)arg_long(argv[3], 1, 99);
	if (argc > 4)
		nthreads = (int)arg_long(argv[4], 1, MAX_THREADS);
	if (argc > 5)
		hold_s = arg_long(argv[5], 1, 86400);
	if (raise_nofile(nsites + 64) != 0) {
		perror("stormgen: RLIMIT_NOFILE");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0)
		return 1;
	mrc = mosquitto_lib_init();
	if (mrc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "stormgen: %s\n", mosquitto_strerror(mrc));
		return 1;
	}
	clients = calloc((size_t)nsites, sizeof(*clients));
	if (!clients)
		return 1;
	for (int i = 0; i < nsites; i++) {
		mrc = setup_client(&clients[i], i);
		if (mrc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "stormgen: client %d: %s\n", i + 1,
				mosquitto_strerror(mrc));
			return 1;
		}
	}
	base_ms = vg_now_ms();
	t0_ms = vg_mono_ms();
	for (int t = 0; t < nthreads; t++) {
		int per = nsites / nthreads + 1;

		workers[t].first = t;
		workers[t].step = nthreads;
		workers[t].fds = calloc((size_t)per, sizeof(struct pollfd));
		workers[t].who = calloc((size_t)per, sizeof(int));
		if (!workers[t].fds || !workers[t].who ||
		    pthread_create(&workers[t].tid, NULL, run, &workers[t])) {
			fprintf(stderr, "stormgen: cannot start thread %d\n", t);
			free(workers[t].fds);
			free(workers[t].who);
			/* the started ones stop at once */
			stopping = 1;
			break;
		}
		started++;
	}
	/* report as it happens; the threads hold the connections meanwhile */
	{
		bool said_conn = false, said_done = false;
		struct timespec pause = { 0, 10000000L };

		while (!stopping && vg_mono_ms() - t0_ms < hold_s * 1000) {
			if (!said_conn && atomic_load(&n_connacked) == nsites) {
				said_conn = true;
				printf("connected %d in %.3f s\n", nsites,
				       (double)atomic_load(&t_connacked_ms) / 1e3);
				connack_spread();
				fflush(stdout);
			}
			if (!said_done && atomic_load(&n_done) == nsites) {
				double s = (double)atomic_load(&t_done_ms) / 1e3;
				long n = (long)nsites * (nunits + 1);

				said_done = true;
				printf("published %ld in %.3f s (%.0f msg/s)\n",
				       n, s, s > 0 ? (double)n / s : 0.0);
				fflush(stdout);
			}
			nanosleep(&pause, NULL);
		}
		stopping = 1;
		if (atomic_load(&n_done) < nsites) {
			fprintf(stderr, "stormgen: %d of %d sites acknowledged\n",
				atomic_load(&n_done), nsites);
			rc = 1;
		}
	}
	if (started < nthreads)
		rc = 1;
	for (int t = 0; t < started; t++) {
		if (pthread_join(workers[t].tid, NULL) != 0)
			rc = 1;
		free(workers[t].fds);
		free(workers[t].who);
	}
	printf("reconnects %d (failed attempts %d)\n",
	       atomic_load(&n_reconnects), atomic_load(&n_failed));
	for (int i = 0; i < nsites; i++)
		mosquitto_destroy(clients[i].m);
	free(clients);
	mrc = mosquitto_lib_cleanup();
	if (mrc != MOSQ_ERR_SUCCESS)
		rc = 1;
	return rc;
}
