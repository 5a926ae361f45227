/*
 * The backlog of messages received while the store loads: nothing is
 * handed on before the load ends, then everything in the order it came
 * (empty payloads included), before the message that found it open; a
 * full backlog holds the MQTT thread until the load ends, losing nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
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

static void record(struct mosquitto *m, void *ud,
		   const struct mosquitto_message *msg)
{
	(void)m;
	(void)ud;
	assert_true(seen.n < SEEN_MAX);
	snprintf(seen.topic[seen.n], sizeof(seen.topic[0]), "%s", msg->topic);
	seen.len[seen.n] = msg->payloadlen;
	seen.first[seen.n] = msg->payloadlen ? ((char *)msg->payload)[0] : 0;
	seen.retain[seen.n] = msg->retain;
	seen.n++;
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
	memset(&seen, 0, sizeof(seen));
	gw_backlog_init(&b);
	assert_true(gw_backlog_hold(&b, NULL, NULL, &a, record));
	assert_true(gw_backlog_hold(&b, NULL, NULL, &e, record));
	assert_true(gw_backlog_hold(&b, NULL, NULL, &c, record));
	gw_backlog_drain(&b, NULL, NULL, record);
	assert_int_equal(seen.n, 0); /* still loading: nothing handed on */

	gw_backlog_open(&b);
	/* the next message finds it open: the held ones go first */
	assert_false(gw_backlog_hold(&b, NULL, NULL, &d, record));
	assert_int_equal(seen.n, 3);
	assert_string_equal(seen.topic[0], "t/a");
	assert_int_equal(seen.len[0], (int)strlen("{\"seq\":1}"));
	assert_int_equal(seen.first[0], '{');
	assert_true(seen.retain[0]);
	assert_string_equal(seen.topic[1], "t/empty");
	assert_int_equal(seen.len[1], 0);
	assert_string_equal(seen.topic[2], "t/c");
	assert_false(seen.retain[2]);
	/* handed back once only */
	gw_backlog_drain(&b, NULL, NULL, record);
	assert_false(gw_backlog_hold(&b, NULL, NULL, &d, record));
	assert_int_equal(seen.n, 3);
	gw_backlog_free(&b);
}

static void drain_hands_back_without_a_further_message(void **state)
{
	struct gw_backlog b;
	struct mosquitto_message a = message("t/a", "1", true);

	(void)state;
	memset(&seen, 0, sizeof(seen));
	gw_backlog_init(&b);
	assert_true(gw_backlog_hold(&b, NULL, NULL, &a, record));
	gw_backlog_open(&b);
	gw_backlog_drain(&b, NULL, NULL, record);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.topic[0], "t/a");
	gw_backlog_free(&b);
}

/* The MQTT thread's side of the full-backlog test. */
struct filler {
	struct gw_backlog *b;
	char *payload;
	atomic_int held;   /* messages kept so far */
	int first_passed;  /* index of the first message not kept */
	int seen_then;     /* messages handed back before that one returned */
};

static void *fill(void *arg)
{
	struct filler *f = arg;
	char topic[32];

	for (int i = 0; i < SEEN_MAX; i++) {
		struct mosquitto_message m;

		snprintf(topic, sizeof(topic), "t/%04d", i);
		m = message(topic, f->payload, true);
		if (!gw_backlog_hold(f->b, NULL, NULL, &m, record)) {
			f->first_passed = i;
			f->seen_then = seen.n;
			record(NULL, NULL, &m); /* the caller handles it now */
			break;
		}
		atomic_fetch_add(&f->held, 1);
	}
	return NULL;
}

static void full_backlog_waits_for_the_load(void **state)
{
	struct gw_backlog b;
	struct filler f = { .b = &b, .first_passed = -1 };
	size_t plen = 256 * 1024, rec;
	int fit;
	pthread_t th;
	struct timespec ms = { 0, 1000000 };

	(void)state;
	memset(&seen, 0, sizeof(seen));
	gw_backlog_init(&b);
	f.payload = malloc(plen + 1);
	assert_non_null(f.payload);
	memset(f.payload, 'p', plen);
	f.payload[plen] = 0;
	/* a record: lengths and flags, topic and NUL, payload and NUL */
	rec = 12 + strlen("t/0000") + 1 + plen + 1;
	fit = (int)(GW_BACKLOG_MAX / rec);
	assert_true(fit > 1 && fit < SEEN_MAX);
	assert_int_equal(pthread_create(&th, NULL, fill, &f), 0);
	/* wait (bounded) until the backlog is full and the filler blocked */
	for (int i = 0; i < 20000 && atomic_load(&f.held) < fit; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&f.held), fit);
	assert_int_equal(seen.n, 0);
	gw_backlog_open(&b);
	assert_int_equal(pthread_join(th, NULL), 0);
	/* nothing lost, nothing reordered: the held ones, then the one
	 * that waited */
	assert_int_equal(f.first_passed, fit);
	assert_int_equal(f.seen_then, fit);
	assert_int_equal(seen.n, fit + 1);
	for (int i = 0; i <= fit; i++) {
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
		cmocka_unit_test(drain_hands_back_without_a_further_message),
		cmocka_unit_test(full_backlog_waits_for_the_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
