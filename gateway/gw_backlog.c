/*
 * The replay's messages, applied off the MQTT thread (gw_backlog.h).
 *
 * A restart is one retained replay: a million messages, each costing
 * the MQTT thread libmosquitto's reads and PUBACK (what `mosquitto_sub`
 * pays) and then our JSON decode and unit lookups, one after the other
 * on one core.  Here the MQTT thread only appends each message to a
 * byte buffer of records; the applier swaps that buffer for an empty one
 * and applies it while the next fills, so the two costs run on two
 * cores.  The MQTT thread wakes the applier once per batch (64 KiB, or
 * 5 ms after the first record), not per message.  The applier runs at
 * nice 10: on two cores shared with the broker, the replay's pace is set
 * by the MQTT thread and the broker taking turns, and an applier at equal
 * priority took their turns (a million units: 1.13 x mosquitto_sub's
 * time, against 1.03 at nice 10, docs/BENCHMARKS.md).  The same buffer
 * held the replay while the SQLite store loaded: the applier does not
 * start before gw_backlog_open.  Past GW_BACKLOG_MAX the MQTT thread
 * waits.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vigie/err.h"
#include "vigie/timeutil.h"
#include "gw_backlog.h"

#define BATCH (64u << 10)   /* bytes that wake the applier */
#define LATE_MS 5           /* what a smaller batch waits for more */
#define APPLY_NICE 10       /* the applier's priority, below the rest */

/* A record: this header, the topic and its NUL, the payload and a NUL. */
struct rec {
	uint32_t topiclen, payloadlen;
	uint8_t qos, retain;
};

void gw_backlog_init(struct gw_backlog *b, gw_backlog_fn fn,
		     gw_backlog_done_fn done, void *ud)
{
	pthread_condattr_t ca;

	memset(b, 0, sizeof(*b));
	b->fn = fn;
	b->done = done;
	b->ud = ud;
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->work_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&b->done_cv, NULL);
}

/* Under mu: keep msg; false when it does not fit (full, or no memory). */
static bool push(struct gw_backlog *b, const struct mosquitto_message *msg)
{
	struct rec r = { 0 };
	size_t tl = strlen(msg->topic);
	size_t pl = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	size_t need = sizeof(r) + tl + 1 + pl + 1;
	unsigned char *p;

	if (b->len + need > GW_BACKLOG_MAX)
		return false;
	if (b->len + need > b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : (size_t)1 << 20;

		while (ncap < b->len + need)
			ncap *= 2;
		if (ncap > GW_BACKLOG_MAX)
			ncap = GW_BACKLOG_MAX;
		p = realloc(b->buf, ncap);
		if (!p)
			return false;
		b->buf = p;
		b->cap = ncap;
	}
	r.topiclen = (uint32_t)tl;
	r.payloadlen = (uint32_t)pl;
	r.qos = (uint8_t)msg->qos;
	r.retain = msg->retain;
	p = b->buf + b->len;
	memcpy(p, &r, sizeof(r));
	p += sizeof(r);
	memcpy(p, msg->topic, tl + 1);
	p += tl + 1;
	if (pl)
		memcpy(p, msg->payload, pl);
	p[pl] = 0;
	b->len += need;
	return true;
}

/* Outside mu: hand every record of buf[0, len) to fn, in order. */
static void apply_all(struct gw_backlog *b, unsigned char *buf, size_t len)
{
	unsigned char *p = buf, *end = buf + len;
	struct mosquitto_message msg;
	struct rec r;

	while (p < end) {
		memcpy(&r, p, sizeof(r));
		p += sizeof(r);
		memset(&msg, 0, sizeof(msg));
		msg.topic = (char *)p;
		p += r.topiclen + 1;
		msg.payload = r.payloadlen ? p : NULL;
		msg.payloadlen = (int)r.payloadlen;
		msg.qos = r.qos;
		msg.retain = r.retain;
		p += r.payloadlen + 1;
		b->fn(b->ud, &msg);
	}
}

/* Under mu: sleep until a batch is worth taking; false: stop, all done. */
static bool wait_batch(struct gw_backlog *b)
{
	bool late = false;
	struct timespec until;

	for (;;) {
		if (b->open && b->len &&
		    (late || b->flush || b->stop || b->len >= BATCH))
			return true;
		if (b->stop && (!b->open || !b->len))
			return false;
		b->waiting = true;
		if (b->open && b->len) {
			vg_deadline(CLOCK_MONOTONIC, LATE_MS, &until);
			late = pthread_cond_timedwait(&b->work_cv, &b->mu,
						      &until) == ETIMEDOUT;
		} else {
			pthread_cond_wait(&b->work_cv, &b->mu);
		}
		b->waiting = false;
	}
}

static void *applier(void *arg)
{
	struct gw_backlog *b = arg;
	unsigned char *buf;
	size_t len, cap;

	prctl(PR_SET_NAME, "vigie-apply", 0, 0, 0); /* top -H */
	/* behind the MQTT thread and the broker, which set the replay's
	 * pace; it catches up in their gaps (failure leaves it at 0) */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), APPLY_NICE);
	pthread_mutex_lock(&b->mu);
	while (wait_batch(b)) {
		/* take the batch, leave the emptied one to append to */
		buf = b->buf;
		len = b->len;
		cap = b->cap;
		b->buf = b->spare;
		b->cap = b->spare_cap;
		b->len = 0;
		b->spare = NULL;
		b->spare_cap = 0;
		b->busy = true;
		pthread_cond_broadcast(&b->done_cv); /* room again */
		pthread_mutex_unlock(&b->mu);
		apply_all(b, buf, len);
		if (b->done)
			b->done(b->ud);
		pthread_mutex_lock(&b->mu);
		b->busy = false;
		b->spare = buf; /* NULL since the swap */
		b->spare_cap = cap;
		pthread_cond_broadcast(&b->done_cv); /* maybe all applied */
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int gw_backlog_start(struct gw_backlog *b)
{
	if (pthread_create(&b->thread, NULL, applier, b) != 0)
		return VG_ERR_IO;
	b->started = true;
	return VG_OK;
}

void gw_backlog_free(struct gw_backlog *b)
{
	if (b->started) {
		pthread_mutex_lock(&b->mu);
		b->stop = true;
		pthread_cond_signal(&b->work_cv);
		pthread_mutex_unlock(&b->mu);
		pthread_join(b->thread, NULL);
		b->started = false;
	}
	free(b->buf);
	free(b->spare);
	b->buf = b->spare = NULL;
	b->len = b->cap = b->spare_cap = 0;
	pthread_cond_destroy(&b->work_cv);
	pthread_cond_destroy(&b->done_cv);
	pthread_mutex_destroy(&b->mu);
}

/*
 * Under mu, urgently: until the applier has taken the batch (room), or
 * until the store is loaded and every record applied.
 */
static void wait_applied(struct gw_backlog *b, bool room)
{
	b->flush = true;
	if (b->waiting && b->len)
		pthread_cond_signal(&b->work_cv);
	while (b->len || (!room && (!b->open || b->busy)))
		pthread_cond_wait(&b->done_cv, &b->mu);
	b->flush = false;
}

bool gw_backlog_hold(struct gw_backlog *b, const struct mosquitto_message *msg,
		     bool queue)
{
	bool kept = false, was_empty;

	pthread_mutex_lock(&b->mu);
	was_empty = b->len == 0;
	while (queue && !(kept = push(b, msg)) && b->len) {
		wait_applied(b, true);
		was_empty = true;
	}
	if (!kept) {
		/* live, or no memory for even one record: the caller applies
		 * it, after whatever is held */
		wait_applied(b, false);
	} else if (b->waiting && (was_empty || b->len >= BATCH)) {
		/* one wake-up per batch: the first record starts its clock */
		pthread_cond_signal(&b->work_cv);
	}
	pthread_mutex_unlock(&b->mu);
	return kept;
}

void gw_backlog_flush(struct gw_backlog *b)
{
	pthread_mutex_lock(&b->mu);
	wait_applied(b, false);
	/* the replay is over: its buffers back to the system */
	free(b->spare);
	b->spare = NULL;
	b->spare_cap = 0;
	free(b->buf);
	b->buf = NULL;
	b->cap = 0;
	pthread_mutex_unlock(&b->mu);
}

void gw_backlog_open(struct gw_backlog *b)
{
	pthread_mutex_lock(&b->mu);
	b->open = true;
	pthread_cond_signal(&b->work_cv);
	pthread_cond_broadcast(&b->done_cv);
	pthread_mutex_unlock(&b->mu);
}
