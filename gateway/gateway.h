/*
 * The running gateway: options, shared state and the pieces that work on
 * it.  Two threads: the MQTT thread (gw_mqtt.c) decodes and applies every
 * message; the main thread (main.c) publishes coalesced summaries and
 * events (gw_publish.c), writes batches to SQLite and records history.
 * `lock` guards `core`; everything else is owned by one thread or atomic.
 */
#ifndef VIGIE_GATEWAY_H
#define VIGIE_GATEWAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mosquitto.h>

#include "gw_core.h"
#include "gw_store.h"
#include "vigie/log.h"
#include "vigie/targets.h"
#include "vigie/topic.h"

struct gw_opts {
	char host[256];
	int port;
	char username[128];
	char password[256];
	const char *cafile;
	const char *certfile;
	const char *keyfile;
	char id[VG_IDENT_MAX + 1];
	char prefix[VG_PREFIX_MAX + 1];
	const char *data_dir;
	const char *targets_file;
	int coalesce_ms;   /* at most one summary per region per this */
	int store_ms;      /* SQLite batch interval */
	int history_s;     /* history point interval */
	int sync_timeout_ms;
	int keepalive;
	bool has_today;    /* --today: fixed date for the fiscal logic */
	struct vg_date today;
};

struct gateway {
	struct gw_opts o;
	pthread_mutex_t lock;
	struct gw_core *core;     /* guarded by lock */
	struct gw_store *store;   /* main thread only */
	struct vg_targets targets;/* main thread only */
	struct mosquitto *mosq;

	atomic_bool stop;
	atomic_bool disconnecting; /* clean shutdown under way */
	atomic_bool connected;
	atomic_bool synced;        /* retained replay finished */
	atomic_bool republish;     /* (re)connected: publish every summary */
	atomic_llong connected_at; /* monotonic ms */

	char sync_topic[VG_TOPIC_MAX];
	int8_t last_met[VG_PROG_COUNT][VG_REGION_COUNT + 1];
	struct vg_ratelimit reject_log[VG_REJ_COUNT]; /* MQTT thread */
	pthread_t mqtt_thread;
};

/* gw_opts.c: parse argv; exits with a message on --help/--version/errors. */
int gw_opts_parse(struct gw_opts *o, int argc, char **argv);

/* gw_mqtt.c */
int gw_mqtt_init(struct gateway *gw);
int gw_mqtt_start(struct gateway *gw);
void gw_mqtt_stop(struct gateway *gw);

/* gw_publish.c: publish what changed (or everything, when all is set). */
void gw_publish_summaries(struct gateway *gw, bool all);
void gw_publish_presence(struct gateway *gw, bool online);
/* Fiscal year the gateway holds targets for today. */
int gw_today_fy(const struct gateway *gw);

#endif
