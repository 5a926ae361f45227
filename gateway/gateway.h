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

#include "gw_backlog.h"
#include "gw_core.h"
#include "gw_store.h"
#include "vigie/broker.h"
#include "vigie/log.h"
#include "vigie/targets.h"
#include "vigie/topic.h"

#define GW_RESYNC_NATS_S 600 /* --resync-interval's default on NATS */

struct gw_opts {
	/* --broker, in the order tried: failover (vigie/broker.h) */
	struct vg_broker brokers[VG_BROKERS_MAX];
	int nbrokers;             /* at least 1 once parsed */
	/* --broker-kind nats: replay twice before synced (gw_mqtt.c) */
	bool nats;
	/* --resync-interval: s between re-reads of the retained state once
	 * synced; 0: never.  NATS 2.9 loses live QoS 1 deliveries under load
	 * while its retained copies stay whole (docs/scale-out.md). */
	int resync_s;
	char username[128];
	char password[256];
	const char *cafile;
	const char *certfile;
	const char *keyfile;
	char id[VG_IDENT_MAX + 1];
	char prefix[VG_PREFIX_MAX + 1];
	const char *data_dir;
	const char *targets_file;
	const char *sites_file;   /* --inventory (--sites): see gw_sites.c */
	int site_cap;             /* --site-cap: units of an unlisted site */
	int coalesce_ms;   /* at most one summary per region per this */
	int store_ms;      /* SQLite batch interval */
	int history_s;     /* history point interval */
	int sync_timeout_ms;
	int keepalive;
	bool has_today;    /* --today: fixed date for the fiscal logic */
	struct vg_date today;
	/* --http and friends (gw_http.c): off unless --http is given */
	bool http;
	char http_host[256];
	int http_port;
	const char *http_token_file;
	char http_token[256];      /* empty: no token required */
	const char *http_cert;
	const char *http_key;
	int http_max_clients;      /* connections in all */
	int http_max_per_ip;       /* connections per client address; 0: any */
	int http_max_streams;      /* event streams, < http_max_clients */
	int http_header_timeout;   /* s to send a request's headers */
	int http_idle_timeout;     /* s without any traffic */
	int projection_days;       /* least-squares window (gw_project.c) */
};

/*
 * Projected percentage at the current target's due date (gw_project.c).
 * ok is false when there is too little history or nothing to project to.
 */
struct gw_projection {
	bool ok;
	int fy;              /* fiscal year of the target projected to */
	int64_t due;         /* Unix time of the end of the due date (Quebec) */
	int64_t from;        /* first instant of the fitted window */
	uint32_t bp;         /* projected percent, basis points, 0..10000 */
	uint32_t target_bp;
	bool on_track;       /* bp >= target_bp */
	int samples;         /* points the line was fitted to */
	int window_days;
	double slope_bp_day; /* fitted trend, basis points per day */
	/*
	 * Once the plan has ended there is no due date to project to: the
	 * pace is what still means something (units migrated per day over
	 * the window, and when the last target is reached at that pace).
	 */
	bool pace_ok;
	double units_day;    /* fitted trend, migrated units per day */
	int64_t needed;      /* units still needed for the last target */
	int64_t reach_at;    /* when reached at this pace; 0: never, or met */
};

struct gw_http; /* gw_http.c */

/* The gateway's subscriptions, one bit each in masks. */
enum gw_sub { GW_SUB_UNIT, GW_SUB_AGENT, GW_SUB_SYNC, GW_SUB_BRIDGE,
	      GW_SUB_N };

/*
 * Where a connection's replay stands (gw_mqtt.c).  Touched by the MQTT
 * thread only, its libmosquitto callbacks included: no lock.
 */
struct gw_subs {
	int mid[GW_SUB_N];  /* of each filter's last SUBSCRIBE */
	unsigned refused;   /* filters refused since the last round */
	int round;          /* of SUBSCRIBEs, each ended by its marker */
	bool phase2;        /* NATS: the second replay is under way */
	bool resync;        /* a re-read of the synced state is under way */
	int64_t resync_at;  /* monotonic ms of the next re-read; 0: none */
	unsigned mended0;   /* gateway.mended when the re-read began */
	int retries;        /* rounds of refused filters on this connection */
	int delay_ms;       /* before the next one */
	int64_t retry_at;   /* monotonic ms; 0: none due */
};

struct gateway {
	struct gw_opts o;
	pthread_mutex_t lock;
	struct gw_core *core;     /* guarded by lock */
	struct gw_store *store;   /* main thread only */
	struct vg_targets targets;/* written by main under lock; main reads */
	struct gw_projection proj[VG_PROG_COUNT][VG_REGION_COUNT + 1]; /* lock */
	struct mosquitto *mosq;

	atomic_bool stop;
	atomic_bool disconnecting; /* clean shutdown under way */
	atomic_bool connected;
	atomic_int broker;         /* o.brokers index of the current attempt */
	atomic_uint failovers;     /* moves to another broker address */
	atomic_uint resyncs;       /* re-reads of the retained state done */
	atomic_uint mended;        /* units and agents those re-reads changed */
	atomic_bool synced;        /* retained replay finished */
	struct gw_subs subs;       /* the MQTT thread's alone (gw_mqtt.c) */
	atomic_bool republish;     /* (re)connected: publish every summary */
	atomic_llong connected_at; /* monotonic ms */
	atomic_bool db_ok;         /* last store write or ping succeeded */
	atomic_uint gen;           /* bumped when summaries were published */
	int wake_fd;               /* eventfd: wakes the main thread */
	atomic_bool wake_pending;  /* a wake-up is written and not yet read */
	struct gw_http *http;      /* NULL without --http */
	struct gw_backlog backlog; /* the replay, applied off the MQTT thread */

	char sync_topic[VG_TOPIC_MAX];
	int8_t last_met[VG_PROG_COUNT][VG_REGION_COUNT + 1];
	int pub_fy;                /* fiscal year of the last summaries; main */
	uint32_t rcpt_next;        /* site the next receipt walk starts at; main */
	bool rcpt_more;            /* the last walk stopped at its cap; main */
	/* the thread that applies: the applier while unsynced, the MQTT
	 * thread once synced (gw_backlog orders the two) */
	struct vg_ratelimit reject_log[VG_REJ_COUNT];
	pthread_t mqtt_thread;
};

/*
 * main.c: wake the main thread (a message was applied, the replay ended):
 * it publishes and writes within its coalescing delays, and otherwise
 * sleeps.  Safe from any thread.
 */
void gw_wake(struct gateway *gw);

/* gw_opts.c: parse argv; exits with a message on --help/--version/errors. */
int gw_opts_parse(struct gw_opts *o, int argc, char **argv);
/* The --broker list as "a:1883, b:1883" (truncated to size). */
void gw_opts_brokers(const struct gw_opts *o, char *buf, size_t size);

/* gw_mqtt.c */
int gw_mqtt_init(struct gateway *gw);
int gw_mqtt_start(struct gateway *gw);
void gw_mqtt_stop(struct gateway *gw);
/* Decode and apply one message (ud: the gateway), waking nobody; and
 * the wake-up after a batch of them: the backlog's handlers. */
void gw_mqtt_apply(void *ud, const struct mosquitto_message *msg);
void gw_mqtt_applied(void *ud);

/*
 * gw_publish.c: publish what changed (or everything, when all is set).
 * Returns how many summaries were published.
 */
int gw_publish_summaries(struct gateway *gw, bool all);
void gw_publish_presence(struct gateway *gw, bool online);
/* The gateway's presence payload (its will too); length or <0. */
int gw_presence_json(const struct gateway *gw, bool online, char *buf,
		     size_t size);
/*
 * Retained receipts (vigie/v1/receipt/{site}) for the sites whose highest
 * processed seq moved, or for every site when all is set (reconnect): at
 * most max of them, the walk going on from where the last call stopped
 * (rcpt_more: some may be left).  Main thread.
 */
int gw_publish_receipts(struct gateway *gw, bool all, size_t max);
/*
 * The fiscal year targets are held for: --today's, else that of the date
 * (local time) of data_ts, the newest unit ts (gw_core_data_time), so
 * that it is the data's, not this gateway's clock.  gw_today_fy reads the
 * data time itself, under the lock (which the caller must not hold).
 */
int gw_fy_of(const struct gateway *gw, int64_t data_ts);
int gw_today_fy(struct gateway *gw);
/*
 * The HTTP API's summary: the retained payload with the projection (or
 * the pace) spliced in when there is one; returns the length or <0.
 */
int gw_summary_json(const struct vg_summary *s, const struct gw_projection *pj,
		    char *buf, size_t size);

/* gw_http.c: start the HTTP server (--http; VG_OK without it, or a
 * VG_ERR_*, logged) and stop it. */
int gw_http_start(struct gateway *gw);
void gw_http_stop(struct gateway *gw);
/* The summaries' generation moved: wake the event streams. */
void gw_http_notify(struct gateway *gw);

/* gw_project.c: recompute every projection from the history (main thread). */
void gw_project_refresh(struct gateway *gw);


#endif
