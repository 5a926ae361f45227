/*
 * The MQTT side: one thread that owns libmosquitto and never gives up.  It
 * drives the client through the external-loop API (loop_read/_write/_misc
 * around its own poll()), so nothing in the library can end the loop for
 * good, and it makes a fresh client for every connection: what is pending
 * lives in the durable store, not in the library's memory queue, and each
 * connection starts with a birth (presence, then every unit) from it.
 */
#ifndef AGENT_MQTT_H
#define AGENT_MQTT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "outbox.h"

#define AGENT_MQTT_WINDOW 32   /* unit messages in flight at once */

struct agent_mqtt_state {
	bool connected;
	int64_t since;             /* Unix seconds of the last change */
	unsigned connects;
	int inflight;
	char error[128];           /* why the last attempt or session ended */
};

struct agent_mqtt {
	const struct agent_config *cfg; /* not owned */
	struct agent_outbox *ob;        /* not owned */
	int wake[2];                    /* pipe: store changed / stop */
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;           /* guards stop and st */
	bool stop;
	struct agent_mqtt_state st;
	/* thread-private */
	struct mosquitto *mosq;
	bool ready;                     /* CONNACK accepted */
	bool lost;
	int presence_mid;
	int cursor;
	int backoff_ms;
};

int agent_mqtt_init(struct agent_mqtt *mq, const struct agent_config *cfg,
		    struct agent_outbox *ob);
int agent_mqtt_start(struct agent_mqtt *mq);
/* Publish presence offline (best effort), disconnect and join. */
void agent_mqtt_stop(struct agent_mqtt *mq);
void agent_mqtt_free(struct agent_mqtt *mq);
/* agent_outbox_notify_fn: the store has something new to publish. */
void agent_mqtt_wake(void *mq);
void agent_mqtt_state(struct agent_mqtt *mq, struct agent_mqtt_state *out);
/* Presence payload for this agent (also used by --once). */
int agent_mqtt_presence(const struct agent_config *cfg, bool online,
			char *buf, size_t size);

#endif
