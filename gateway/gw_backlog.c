/*
 * Messages held while the store loads (gw_backlog.h).  The SQLite load
 * and the broker's retained replay used to run one after the other; now
 * the MQTT thread connects and receives (and acknowledges, as
 * libmosquitto does before our callback) while the main thread loads,
 * and nothing touches the core until the load is over: the held
 * messages are then applied first, in the order they came, exactly as
 * if they had arrived after the load.  The backlog is one growing byte
 * buffer of records, freed once handed back; past GW_BACKLOG_MAX the
 * MQTT thread simply waits for the load, as it did before.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_backlog.h"

/* A record: this header, the topic and its NUL, the payload and a NUL. */
struct rec {
	uint32_t topiclen, payloadlen;
	uint8_t qos, retain;
};

void gw_backlog_init(struct gw_backlog *b)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->open_cv, NULL);
	atomic_init(&b->open, false);
	atomic_init(&b->pending, false);
}

void gw_backlog_free(struct gw_backlog *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = b->held = 0;
	pthread_cond_destroy(&b->open_cv);
	pthread_mutex_destroy(&b->mu);
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
	b->held++;
	return true;
}

void gw_backlog_drain(struct gw_backlog *b, struct mosquitto *m, void *ud,
		      gw_backlog_fn fn)
{
	unsigned char *buf, *p, *end;
	struct mosquitto_message msg;
	struct rec r;

	if (!atomic_load(&b->open) || !atomic_load(&b->pending))
		return;
	/* open: nothing pushes any more, and only this thread drains */
	atomic_store(&b->pending, false);
	buf = b->buf;
	end = buf + b->len;
	b->buf = NULL;
	b->len = b->cap = b->held = 0;
	for (p = buf; p && p < end;) {
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
		fn(m, ud, &msg);
	}
	free(buf);
}

bool gw_backlog_hold(struct gw_backlog *b, struct mosquitto *m, void *ud,
		     const struct mosquitto_message *msg, gw_backlog_fn fn)
{
	bool kept = false;

	if (!atomic_load(&b->open)) {
		pthread_mutex_lock(&b->mu);
		if (!atomic_load(&b->open))
			kept = push(b, msg);
		while (!kept && !atomic_load(&b->open))
			pthread_cond_wait(&b->open_cv, &b->mu);
		pthread_mutex_unlock(&b->mu);
	}
	if (!kept)
		gw_backlog_drain(b, m, ud, fn);
	return kept;
}

void gw_backlog_open(struct gw_backlog *b)
{
	pthread_mutex_lock(&b->mu);
	atomic_store(&b->pending, b->held > 0);
	atomic_store(&b->open, true);
	pthread_cond_broadcast(&b->open_cv);
	pthread_mutex_unlock(&b->mu);
}
