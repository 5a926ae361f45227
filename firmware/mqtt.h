/*
 * The MQTT side: one thread that owns libmosquitto and never gives up.  It
 * drives the client through the external-loop API (loop_read/_write/_misc
 * around its own poll()), so nothing in the library can end the loop for
 * good, and it makes a fresh client for every connection: what is pending
 * lives in the durable store, not in the library's memory queue, and each
 * connection starts with a birth (presence, then every unit) from it.
 *
 * It speaks MQTT 5 so that a PUBACK can say "refused" (mosquitto answers
 * an ACL-denied publish with 0x87 to MQTT 5 clients and with a plain
 * PUBACK to 3.1.1 ones), and falls back to 3.1.1 only for a broker that
 * refuses the protocol.  Each connection has a presence session number,
 * the same in its birth and its will, and subscribes to the NOC's receipt
 * for the site.
 *
 * [broker] host may list several brokers: each connection goes to the
 * current one, and any failure (refused, lost, TLS) moves to the next,
 * round-robin, backing off only once every address has failed in a row
 * (vigie/broker.h).  The fresh client per connection makes that natural:
 * mosquitto_reconnect would go back to the same host.
 */
#ifndef AGENT_MQTT_H
#define AGENT_MQTT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "outbox.h"
#include "vigie/broker.h"
#include "vigie/log.h"
#include "vigie/msg.h"

#define AGENT_MQTT_WINDOW 32   /* unit messages in flight at once */

struct agent_mqtt_state {
	bool connected;
	int64_t since;             /* Unix seconds of the last change */
	unsigned connects;
	int inflight;
	char error[128];           /* why the last attempt or session ended */
	int protocol;              /* 5 or 4 (3.1.1): of the last attempt */
	int64_t session;           /* presence session of the last attempt */
	int broker;                /* cfg->brokers index of the last attempt */
	unsigned failovers;        /* moves to another broker address */
	int64_t refused;           /* publishes the broker refused */
	int refused_rc;            /* reason code of the last refusal */
	int64_t refused_at;        /* Unix seconds of the last refusal */
	bool receipt;              /* a receipt came from the NOC */
	int64_t receipt_seq;       /* highest seq the NOC confirmed */
	int64_t receipt_ts;        /* gateway time of that receipt */
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
	bool accepted;                  /* ...at some point this session */
	bool lost;
	bool retry_same;                /* fell back: same broker, 3.1.1 */
	struct vg_failover fo;          /* which broker, failures in a row */
	int presence_mid;               /* presence in flight, or -1 */
	int cursor;
	int backoff_ms;
	bool v311;                      /* fell back (or forced) to 3.1.1 */
	int64_t session;
	struct vg_health sent;          /* health of the last birth */
	int64_t birth_ms;               /* monotonic time of the last birth */
	int64_t health_ms;              /* of the last health check */
	int64_t retry_ms;               /* refused records retry, or 0 */
	int64_t receipt_retry_ms;       /* refused receipt subscription, or 0 */
	struct vg_ratelimit refuse_rl;
	struct vg_ratelimit publish_rl; /* records libmosquitto refused */
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
/*
 * Presence payload for this agent (also used by --once): session 0 and
 * health NULL leave them out.
 */
int agent_mqtt_presence(const struct agent_config *cfg, bool online,
			int64_t session, const struct vg_health *health,
			char *buf, size_t size);
/* A PUBACK/CONNACK reason code as text for a person ("not authorized"). */
void agent_mqtt_reason(int rc, char *buf, size_t size);

#endif
