/*
 * The replay's messages, applied off the MQTT thread (gw_backlog.c).
 *
 * While the gateway is not synced (the broker replays its retained
 * state), the MQTT thread only copies each message here, in order, and
 * goes back to the socket; a thread of its own ("vigie-apply") decodes
 * and applies them, on the other core.  Nothing is applied before the
 * SQLite store is loaded (gw_backlog_open), so the load overlaps the
 * replay and the state is exactly what a serial start gives.  Once
 * synced, the MQTT thread applies live messages itself, after everything
 * held (gw_backlog_flush at the marker keeps the order).
 */
#ifndef GW_BACKLOG_H
#define GW_BACKLOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>

/* The most bytes (topics, payloads, lengths) held at once: ~1 s of a
 * retained replay; past it the MQTT thread waits for the applier. */
#define GW_BACKLOG_MAX (48u << 20)

/* Applies one message; called on the applier thread only. */
typedef void (*gw_backlog_fn)(void *ud, const struct mosquitto_message *msg);
/* After each batch the applier applied. */
typedef void (*gw_backlog_done_fn)(void *ud);

struct gw_backlog {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* the applier: something to apply, or stop */
	pthread_cond_t done_cv;  /* the MQTT thread: room, or all applied */
	gw_backlog_fn fn;        /* not owned: the handlers and their data */
	gw_backlog_done_fn done;
	void *ud;
	bool open;               /* the store is loaded: apply */
	bool stop;
	bool flush;              /* the MQTT thread waits for all applied */
	bool busy;               /* the applier holds a taken batch */
	bool waiting;            /* the applier sleeps on work_cv */
	unsigned char *buf;      /* owned: records the MQTT thread appends */
	size_t len, cap;
	unsigned char *spare;    /* owned: the applier's emptied batch */
	size_t spare_cap;
	bool started;
	pthread_t thread;
};

/* A closed backlog with no thread yet; fn(ud, msg) applies a message,
 * done(ud) follows each batch (done may be NULL). */
void gw_backlog_init(struct gw_backlog *b, gw_backlog_fn fn,
		     gw_backlog_done_fn done, void *ud);
/* Starts the applier thread; VG_OK or VG_ERR_IO. */
int gw_backlog_start(struct gw_backlog *b);
/* Applies what is held, stops and joins the applier (after the MQTT
 * thread is gone), and frees the buffers. */
void gw_backlog_free(struct gw_backlog *b);

/*
 * The MQTT thread, for each message: with queue (unsynced), keep msg for
 * the applier and return true (a full backlog waits for room); without,
 * return false once everything held before it is applied, and the
 * caller applies msg itself.
 */
bool gw_backlog_hold(struct gw_backlog *b, const struct mosquitto_message *msg,
		     bool queue);

/* The MQTT thread: wait until everything held is applied (the store's
 * load included), and give the buffers back. */
void gw_backlog_flush(struct gw_backlog *b);

/* Any thread, once: the store is loaded (or will never be): apply. */
void gw_backlog_open(struct gw_backlog *b);

#endif
