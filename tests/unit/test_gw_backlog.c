/*
 * The replay applied off the MQTT thread: nothing is applied before the
 * store is loaded, then everything on the applier thread in the order it
 * came (empty payloads and flags included); a live message is handed
 * back only after everything held; a full backlog holds the MQTT thread
 * until the applier takes it, losing nothing; stopping applies the rest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_backlog.h"

#define SEEN_MAX 1024

/* What the callback was handed, in order. */
struct seen {
	int n;
	char topic[SEEN_MAX][64];
	int len[SEEN_MAX];
	char first[SEEN_MAX]; /* first payload byte, 0 when empty */
	bool retain[SEEN_MAX];
};

static struct seen seen;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t main_thread;
static atomic_int off_thread; /* records applied on another thread */

static int seen_n(void)
{
	int n;

	pthread_mutex_lock(&seen_mu);
	n = seen.n;
	pthread_mutex_unlock(&seen_mu);
	return n;
}

static void record(void *ud, const struct mosquitto_message *msg)
{
	(void)ud;
	pthread_mutex_lock(&seen_mu);
	if (!pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&off_thread, 1);
	assert_true(seen.n < SEEN_MAX);
	snprintf(seen.topic[seen.n], sizeof(seen.topic[0]), "%s", msg->topic);
	seen.len[seen.n] = msg->payloadlen;
	seen.first[seen.n] = msg->payloadlen ? ((char *)msg->payload)[0] : 0;
	seen.retain[seen.n] = msg->retain;
	seen.n++;
	pthread_mutex_unlock(&seen_mu);
}

static void reset(struct gw_backlog *b)
{
	memset(&seen, 0, sizeof(seen));
	atomic_store(&off_thread, 0);
	main_thread = pthread_self();
	gw_backlog_init(b, record, NULL, NULL);
	assert_int_equal(gw_backlog_start(b), 0);
}

static void wait_seen(int n)
{
	struct timespec ms = { 0, 1000000 };

	for (int i = 0; i < 20000 && seen_n() < n; i++)
		nanosleep(&ms, NULL);
}

static struct mosquitto_message message(const char *topic, const char *p,
					bool retain)
{
	struct mosquitto_message m;

	memset(&m, 0, sizeof(m));
	m.topic = (char *)topic;
	m.payload = (void *)p;
	m.payloadlen = p ? (int)strlen(p) : 0;
	m.qos = 1;
	m.retain = retain;
	return m;
}

static void held_messages_come_back_in_order(void **state)
{
	struct gw_backlog b;
	struct mosquitto_message a = message("t/a", "{\"seq\":1}", true);
	struct mosquitto_message e = message("t/empty", NULL, true);
	struct mosquitto_message c = message("t/c", "x", false);
	struct mosquitto_message d = message("t/d", "live", false);

	(void)state;
	reset(&b);
	assert_true(gw_backlog_hold(&b, &a, true));
	assert_true(gw_backlog_hold(&b, &e, true));
	assert_true(gw_backlog_hold(&b, &c, true));
	assert_int_equal(seen_n(), 0); /* still loading: nothing applied */

	gw_backlog_open(&b);
	/* live: handed back to the caller once the held ones are applied */
	assert_false(gw_backlog_hold(&b, &d, false));
	assert_int_equal(seen_n(), 3);
	assert_int_equal(atomic_load(&off_thread), 3);
	assert_string_equal(seen.topic[0], "t/a");
	assert_int_equal(seen.len[0], (int)strlen("{\"seq\":1}"));
	assert_int_equal(seen.first[0], '{');
	assert_true(seen.retain[0]);
	assert_string_equal(seen.topic[1], "t/empty");
	assert_int_equal(seen.len[1], 0);
	assert_string_equal(seen.topic[2], "t/c");
	assert_false(seen.retain[2]);
	/* applied once only */
	gw_backlog_flush(&b);
	assert_false(gw_backlog_hold(&b, &d, false));
	assert_int_equal(seen_n(), 3);
	gw_backlog_free(&b);
}

static void applied_without_a_further_message(void **state)
{
	struct gw_backlog b;
	struct mosquitto_message a = message("t/a", "1", true);

	(void)state;
	reset(&b);
	gw_backlog_open(&b);
	assert_true(gw_backlog_hold(&b, &a, true));
	wait_seen(1); /* a small batch goes within its few ms */
	assert_int_equal(seen_n(), 1);
	assert_string_equal(seen.topic[0], "t/a");
	gw_backlog_free(&b);
}

/* Many batches while the applier runs: all of them, in order. */
static void a_long_replay_keeps_its_order(void **state)
{
	struct gw_backlog b;
	char topic[32], payload[8];
	int n = SEEN_MAX - 1;

	(void)state;
	reset(&b);
	gw_backlog_open(&b);
	for (int i = 0; i < n; i++) {
		struct mosquitto_message m;

		snprintf(topic, sizeof(topic), "t/%04d", i);
		snprintf(payload, sizeof(payload), "%c", 'a' + i % 26);
		m = message(topic, payload, true);
		assert_true(gw_backlog_hold(&b, &m, true));
	}
	gw_backlog_flush(&b);
	assert_int_equal(seen_n(), n);
	for (int i = 0; i < n; i++) {
		char want[32];

		snprintf(want, sizeof(want), "t/%04d", i);
		assert_string_equal(seen.topic[i], want);
		assert_int_equal(seen.first[i], 'a' + i % 26);
	}
	gw_backlog_free(&b);
}

static void stopping_applies_what_is_held(void **state)
{
	struct gw_backlog b;
	struct mosquitto_message a = message("t/a", "1", true);
	struct mosquitto_message c = message("t/c", "2", true);

	(void)state;
	reset(&b);
	assert_true(gw_backlog_hold(&b, &a, true));
	assert_true(gw_backlog_hold(&b, &c, true));
	gw_backlog_open(&b);
	gw_backlog_free(&b);
	assert_int_equal(seen_n(), 2);
	assert_string_equal(seen.topic[1], "t/c");
}

/* The MQTT thread's side of the full-backlog test. */
struct filler {
	struct gw_backlog *b;
	char *payload;
	int n;
	atomic_int held;   /* messages kept so far */
};

static void *fill(void *arg)
{
	struct filler *f = arg;
	char topic[32];

	for (int i = 0; i < f->n; i++) {
		struct mosquitto_message m;

		snprintf(topic, sizeof(topic), "t/%04d", i);
		m = message(topic, f->payload, true);
		assert_true(gw_backlog_hold(f->b, &m, true));
		atomic_fetch_add(&f->held, 1);
	}
	return NULL;
}

static void full_backlog_waits_for_the_load(void **state)
{
	struct gw_backlog b;
	struct filler f = { .b = &b };
	size_t plen = 256 * 1024, rec;
	int fit;
	pthread_t th;
	struct timespec ms = { 0, 1000000 };

	(void)state;
	reset(&b);
	f.payload = malloc(plen + 1);
	assert_non_null(f.payload);
	memset(f.payload, 'p', plen);
	f.payload[plen] = 0;
	/* a record: lengths and flags, topic and NUL, payload and NUL */
	rec = 12 + strlen("t/0000") + 1 + plen + 1;
	fit = (int)(GW_BACKLOG_MAX / rec);
	assert_true(fit > 1 && 2 * fit < SEEN_MAX);
	f.n = 2 * fit;
	assert_int_equal(pthread_create(&th, NULL, fill, &f), 0);
	/* wait (bounded) until the backlog is full and the filler blocked */
	for (int i = 0; i < 20000 && atomic_load(&f.held) < fit; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&f.held), fit);
	assert_int_equal(seen_n(), 0);
	gw_backlog_open(&b);
	assert_int_equal(pthread_join(th, NULL), 0);
	gw_backlog_flush(&b);
	/* nothing lost, nothing reordered */
	assert_int_equal(seen_n(), 2 * fit);
	for (int i = 0; i < 2 * fit; i++) {
		char want[32];

		snprintf(want, sizeof(want), "t/%04d", i);
		assert_string_equal(seen.topic[i], want);
		assert_int_equal(seen.len[i], (int)plen);
	}
	free(f.payload);
	gw_backlog_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(held_messages_come_back_in_order),
		cmocka_unit_test(applied_without_a_further_message),
		cmocka_unit_test(a_long_replay_keeps_its_order),
		cmocka_unit_test(stopping_applies_what_is_held),
		cmocka_unit_test(full_backlog_waits_for_the_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
