/*
 * Messages that arrive before the store is loaded (gw_backlog.c).  The
 * gateway connects while it loads its SQLite store, so that the broker's
 * retained replay and the load run at once; what the MQTT thread
 * receives meanwhile is kept, in order, and handed back to it once the
 * load is over.
 */
#ifndef GW_BACKLOG_H
#define GW_BACKLOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>

/* The most bytes (topics, payloads, lengths) held while the store loads:
 * ~1 s of a retained replay; past it the MQTT thread waits for the load. */
#define GW_BACKLOG_MAX (48u << 20)

typedef void (*gw_backlog_fn)(struct mosquitto *m, void *ud,
			      const struct mosquitto_message *msg);

struct gw_backlog {
	pthread_mutex_t mu;
	pthread_cond_t open_cv;
	atomic_bool open;     /* the store is loaded: messages go straight on */
	atomic_bool pending;  /* open, and held messages still to hand back */
	unsigned char *buf;   /* records: topic length, payload length, bytes */
	size_t len, cap;
	size_t held;          /* messages in buf */
};

/* An empty, closed backlog: messages are held until gw_backlog_open. */
void gw_backlog_init(struct gw_backlog *b);
void gw_backlog_free(struct gw_backlog *b);

/*
 * The MQTT thread, for each message, before anything else: true when
 * the message was kept for later (the store is still loading).  When
 * false, the caller handles msg now; messages held before it have been
 * handed to fn first (in order), so the order of arrival is kept.  A
 * full backlog waits here for the load to end.
 */
bool gw_backlog_hold(struct gw_backlog *b, struct mosquitto *m, void *ud,
		     const struct mosquitto_message *msg, gw_backlog_fn fn);

/* The MQTT thread, between network reads: hand back what is held once
 * the store is loaded, when no further message came to do it. */
void gw_backlog_drain(struct gw_backlog *b, struct mosquitto *m, void *ud,
		      gw_backlog_fn fn);

/* Any thread, once: the store is loaded (or will never be); wakes a
 * waiting MQTT thread. */
void gw_backlog_open(struct gw_backlog *b);

#endif
