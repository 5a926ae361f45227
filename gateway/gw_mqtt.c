/*
 * The gateway's MQTT side: one connection, supervised by our own loop so
 * that no error ends it (libmosquitto's loop_forever returns for good on
 * some errors).  On every (re)connect it subscribes again, which makes the
 * broker replay every retained unit and presence message: that replay,
 * applied with the seq rules, rebuilds the state.  A marker published to
 * our own sync topic right after subscribing comes back after the replay,
 * telling us when the state is whole again; a refused subscription is
 * asked for again on the same connection, with its own marker, before we
 * give the connection up.  With --broker-kind nats we
 * then subscribe once more and wait for a second marker (docs/scale-out.md):
 * NATS answers a QoS 1 subscription with its retained messages before the
 * JetStream consumer that delivers what comes next exists, and a unit
 * published in between came in neither.  Once the first marker is back the
 * consumers exist, so a subscription made then misses nothing.  Mosquitto
 * replays and goes live atomically: there the second replay would only
 * double every restart's work, so it is not asked for.
 *
 * Once synced, the gateway subscribes again every --resync-interval
 * seconds (marker "resync:N"): NATS 2.9 loses a few live QoS 1 deliveries
 * under load while its retained copies stay whole, and the replay that a
 * new SUBSCRIBE brings puts them back (the JetStream consumer is kept, so
 * nothing live is missed meanwhile).  What such a replay changes is
 * counted: after the first sync only our own SUBSCRIBEs bring messages
 * flagged retained, so a retained message that changed a unit is a
 * delivery the broker had lost.
 *
 * With several --broker addresses, any failure (refused, lost, TLS) moves
 * to the next one, round-robin, and the backoff applies once every address
 * has failed in a row (vigie/broker.h).  The client stays the same (the
 * main thread publishes through it): mosquitto_connect with the next
 * address, since mosquitto_reconnect goes back to the last one given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"
#include "vigie/err.h"
#include "vigie/timeutil.h"
#include "vigie/str.h"

/* The address of the current connection or attempt, as text. */
static void current_addr(struct gateway *gw, char *buf, size_t size)
{
	vg_broker_format(&gw->o.brokers[atomic_load(&gw->broker)], buf, size);
}

/* errno for ERRNO; words for KEEPALIVE, "Unknown error" in 2.0.11. */
static const char *mqtt_why(int rc)
{
	return rc == MOSQ_ERR_ERRNO ? strerror(errno) :
	       rc == MOSQ_ERR_KEEPALIVE ?
	       "no answer from the broker within the keepalive" :
	       mosquitto_strerror(rc);
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

#define MARKER_1 "sync"    /* the first replay is over */
#define MARKER_2 "sync2"   /* the second one too (NATS): the state is whole */
#define MARKER_R "resync"  /* a re-read of the synced state is over */

/* Which replay a round's marker ends. */
enum marker { MK_NONE, MK_SYNC, MK_SYNC2, MK_RESYNC };

/* Refused filters are asked for again on the same connection, 1 s, 2 s,
 * 4 s and 8 s later, then the connection is dropped (the next broker). */
#define SUB_RETRIES 4
#define SUB_RETRY_MS 1000

/* The marker of round `round`: "sync:N", "sync2:N" or "resync:N". */
static int marker_text(char *buf, size_t size, enum marker k, int round)
{
	return snprintf(buf, size, "%s:%d",
			k == MK_RESYNC ? MARKER_R :
			k == MK_SYNC2 ? MARKER_2 : MARKER_1, round);
}

/* The kind of replay the current round is. */
static enum marker round_kind(const struct gw_subs *u)
{
	return u->resync ? MK_RESYNC : u->phase2 ? MK_SYNC2 : MK_SYNC;
}

static void sub_filter(const struct gateway *gw, int i, char *buf,
		       size_t size)
{
	static const char *const kinds[] = { "unit", "agent", NULL,
					      "bridge" };

	if (i == GW_SUB_SYNC)
		vg_strlcpy(buf, gw->sync_topic, size);
	else
		vg_topic_filter(buf, size, gw->o.prefix, kinds[i]);
}

/*
 * One round: SUBSCRIBE to each filter of mask, then publish the round's
 * marker (round_kind), which the broker queues after what those
 * subscriptions replay.
 */
static void subscribe_round(struct gateway *gw, unsigned mask)
{
	struct gw_subs *u = &gw->subs;
	char filter[VG_TOPIC_MAX], marker[32];
	int rc = MOSQ_ERR_SUCCESS;

	u->refused = 0;
	u->round++;
	for (int i = 0; i < GW_SUB_N && rc == MOSQ_ERR_SUCCESS; i++) {
		if (!(mask & (1u << i)))
			continue;
		sub_filter(gw, i, filter, sizeof(filter));
		rc = mosquitto_subscribe(gw->mosq, &u->mid[i], filter, 1);
	}
	marker_text(marker, sizeof(marker), round_kind(u), u->round);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_publish(gw->mosq, NULL, gw->sync_topic,
				       (int)strlen(marker), marker, 1, false);
	/* the connection is gone (NO_CONN): the next connect subscribes
	 * again; anything else leaves us unsynced, which /healthz shows */
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(rc == MOSQ_ERR_NO_CONN ? VG_LOG_WARN : VG_LOG_ERR,
		       "subscribe and replay marker: %s",
		       mosquitto_strerror(rc));
}

/* Every filter, as on a new connection.  Regional bridges' notifications
 * on mosquitto only: NATS has no bridges, and every subscription there is
 * a JetStream consumer. */
static unsigned all_filters(const struct gateway *gw)
{
	unsigned m = 1u << GW_SUB_UNIT | 1u << GW_SUB_AGENT |
		     1u << GW_SUB_SYNC;

	return gw->o.nats ? m : m | 1u << GW_SUB_BRIDGE;
}

static void on_connect(struct mosquitto *m, void *ud, int rc)
{
	struct gateway *gw = ud;
	char addr[VG_BROKER_ADDR_MAX];

	(void)m;
	current_addr(gw, addr, sizeof(addr));
	if (rc != 0) {
		/* the loop returns an error next: the next broker */
		vg_log(VG_LOG_ERR, "broker %s refused the connection: %s",
		       addr, mosquitto_connack_string(rc));
		return;
	}
	vg_log(VG_LOG_INFO, "connected to %s (broker %d of %d); replaying "
	       "retained state", addr, atomic_load(&gw->broker) + 1,
	       gw->o.nbrokers);
	atomic_store(&gw->synced, false);
	gw->subs = (struct gw_subs){ .round = gw->subs.round,
				     .delay_ms = SUB_RETRY_MS };
	atomic_store(&gw->connected_at, (long long)vg_mono_ms());
	atomic_store(&gw->connected, true);
	gw_publish_presence(gw, true);
	subscribe_round(gw, all_filters(gw));
}

/*
 * A refused subscription (0x80: an ACL, or a NATS cluster electing
 * leaders after a node died) would leave the gateway blind to units or
 * presences while looking synced: the round's marker is not taken, and
 * the refused filters are asked for again on this connection, later
 * (dropping it made NATS delete and create the session's consumers each
 * time, more work for nodes already too slow to create them).  After
 * SUB_RETRIES rounds, the connection is dropped: the next broker.
 */
static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n,
			 const int *granted)
{
	struct gateway *gw = ud;
	struct gw_subs *u = &gw->subs;
	char addr[VG_BROKER_ADDR_MAX], filter[VG_TOPIC_MAX];
	int i = 0, rc;

	while (i < GW_SUB_N && u->mid[i] != mid)
		i++;
	if (i == GW_SUB_N || n < 1 || granted[0] < 0x80)
		return;
	sub_filter(gw, i, filter, sizeof(filter));
	current_addr(gw, addr, sizeof(addr));
	if (i == GW_SUB_BRIDGE) {
		/* an ACL of before bridges: nothing else is missed */
		vg_log(VG_LOG_WARN, "broker %s refused %s (ACL?): a region cut "
		       "off behind a bridge will not show as stale", addr,
		       filter);
		return;
	}
	if (!u->refused && u->retries < SUB_RETRIES) {
		u->retries++;
		u->retry_at = vg_mono_ms() + u->delay_ms;
		vg_log(VG_LOG_ERR, "broker %s refused %s (reason 0x%02x): "
		       "asking again in %d ms", addr, filter,
		       (unsigned)granted[0], u->delay_ms);
		u->delay_ms *= 2;
	} else if (!u->refused) {
		vg_log(VG_LOG_ERR, "broker %s refused %s (reason 0x%02x) %d "
		       "times: reconnecting rather than missing messages",
		       addr, filter, (unsigned)granted[0], u->retries + 1);
		rc = mosquitto_disconnect(m);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
			vg_log(VG_LOG_WARN, "disconnect: %s",
			       mosquitto_strerror(rc));
	}
	u->refused |= 1u << i;
}

/* The refused filters, again, once their time has come. */
static void retry_refused(struct gateway *gw)
{
	struct gw_subs *u = &gw->subs;

	if (!u->retry_at || vg_mono_ms() < u->retry_at ||
	    !atomic_load(&gw->connected))
		return;
	u->retry_at = 0;
	subscribe_round(gw, u->refused);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc)
{
	struct gateway *gw = ud;
	char addr[VG_BROKER_ADDR_MAX];

	(void)m;
	atomic_store(&gw->connected, false);
	atomic_store(&gw->synced, false);
	current_addr(gw, addr, sizeof(addr));
	if (rc != 0 && !atomic_load(&gw->stop))
		vg_log(VG_LOG_WARN, "connection to %s ended: %s", addr,
		       mqtt_why(rc));
}

/* Log a rejected message with its topic and reason, rate-limited. */
static void log_reject(struct gateway *gw, const char *topic,
		       enum vg_reject r)
{
	uint32_t suppressed = 0;

	if (!vg_ratelimit_allow(&gw->reject_log[r], vg_mono_ms(), &suppressed))
		return;
	if (suppressed)
		vg_log(VG_LOG_WARN, "%u more '%s' rejections were not logged",
		       suppressed, vg_reject_name(r));
	vg_log(VG_LOG_WARN, "rejected %s: %s", topic, vg_reject_name(r));
}

/* Which marker msg is; MK_NONE when not the current round's. */
static enum marker marker_of(const struct gw_subs *u,
			     const struct mosquitto_message *msg)
{
	char want[32];
	int n = marker_text(want, sizeof(want), round_kind(u), u->round);

	return msg->payloadlen == n &&
	       memcmp(msg->payload, want, (size_t)n) == 0 ? round_kind(u)
							  : MK_NONE;
}

/* The next re-read of the synced state, from now. */
static void schedule_resync(struct gateway *gw)
{
	gw->subs.resync_at = gw->o.resync_s
		? vg_mono_ms() + (int64_t)gw->o.resync_s * 1000 : 0;
}

/* A re-read's marker back: say what it mended, and plan the next. */
static void end_resync(struct gateway *gw)
{
	struct gw_subs *u = &gw->subs;
	unsigned n = atomic_load(&gw->mended) - u->mended0;

	u->resync = false;
	atomic_fetch_add(&gw->resyncs, 1);
	if (n)
		vg_log(VG_LOG_WARN, "re-read of the retained state mended %u "
		       "units or agents whose live delivery the broker lost",
		       n);
	else
		vg_log(VG_LOG_DEBUG, "re-read of the retained state: nothing "
		       "to mend");
	schedule_resync(gw);
}

/* Time for a re-read: subscribe to units and agents again. */
static void resync_due(struct gateway *gw)
{
	struct gw_subs *u = &gw->subs;

	if (!u->resync_at || u->retry_at || vg_mono_ms() < u->resync_at ||
	    !atomic_load(&gw->synced))
		return;
	u->resync_at = 0;
	u->resync = true;
	u->mended0 = atomic_load(&gw->mended);
	subscribe_round(gw, 1u << GW_SUB_UNIT | 1u << GW_SUB_AGENT);
}

/* A marker back: its round's replay is over. */
static void on_marker(struct gateway *gw, enum marker k)
{
	struct gw_subs *u = &gw->subs;

	if (u->refused || k == MK_NONE)
		return; /* not whole: a retry or a reconnection follows */
	if (k == MK_RESYNC) {
		end_resync(gw);
		return;
	}
	if (gw->o.nats && !u->phase2) {
		/* every subscription granted: replay once more */
		u->phase2 = true;
		subscribe_round(gw, 1u << GW_SUB_UNIT | 1u << GW_SUB_AGENT);
		return;
	}
	if (!atomic_exchange(&gw->synced, true)) {
		vg_log(VG_LOG_INFO, "retained state replayed in %lld ms",
		       (long long)(vg_mono_ms() -
				   atomic_load(&gw->connected_at)));
		atomic_store(&gw->republish, true);
		schedule_resync(gw);
		gw_wake(gw);
	}
}

/*
 * Under the lock: apply gm.  A retained copy that changes a unit or an
 * agent once synced is a delivery the broker lost (see the top of this
 * file): what is not a duplicate is counted as mended.
 */
static enum vg_reject apply(struct gateway *gw, const struct gw_msg *gm,
			    bool retained)
{
	const struct gw_stats *st = gw_core_stats(gw->core);
	bool watch = retained && atomic_load(&gw->synced);
	uint64_t dups = st->duplicates;
	enum vg_reject r = gw_core_apply(gw->core, gm);

	if (watch && r == VG_REJ_NONE && st->duplicates == dups)
		atomic_fetch_add(&gw->mended, 1);
	return r;
}

/* The applier's end of a batch: one wake-up for all of it. */
void gw_mqtt_applied(void *ud)
{
	gw_wake(ud);
}

void gw_mqtt_apply(void *ud, const struct mosquitto_message *msg)
{
	struct gateway *gw = ud;
	struct gw_msg gm;
	enum vg_reject r;

	r = gw_core_decode(gw->o.prefix, msg->topic, msg->payload,
			   (size_t)msg->payloadlen, &gm);
	pthread_mutex_lock(&gw->lock);
	if (r == VG_REJ_NONE)
		r = apply(gw, &gm, msg->retain);
	else
		gw_core_count_reject(gw->core, r);
	pthread_mutex_unlock(&gw->lock);
	if (r != VG_REJ_NONE)
		log_reject(gw, msg->topic, r);
}

static void on_message(struct mosquitto *m, void *ud,
		       const struct mosquitto_message *msg)
{
	struct gateway *gw = ud;

	(void)m;
	if (strcmp(msg->topic, gw->sync_topic) == 0) {
		/* a round's replay is over once all it brought is applied */
		gw_backlog_flush(&gw->backlog);
		on_marker(gw, marker_of(&gw->subs, msg));
		return;
	}
	/* unsynced (a replay, or the store still loading): the applier
	 * thread decodes and applies, in this order */
	if (!gw_backlog_hold(&gw->backlog, msg, !atomic_load(&gw->synced))) {
		gw_mqtt_apply(gw, msg);
		gw_wake(gw);
	}
}

static int set_will_and_auth(struct gateway *gw)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int n = gw_presence_json(gw, false, payload, sizeof(payload));
	int rc = MOSQ_ERR_INVAL;

	/* the will is the presence itself, online false: one encoder */
	if (n >= 0 && vg_topic_gateway(topic, sizeof(topic), gw->o.prefix,
				       gw->o.id) >= 0)
		rc = mosquitto_will_set(gw->mosq, topic, n, payload, 1, true);
	if (rc == MOSQ_ERR_SUCCESS && gw->o.username[0])
		rc = mosquitto_username_pw_set(gw->mosq, gw->o.username,
					       gw->o.password[0] ? gw->o.password
								 : NULL);
	if (rc == MOSQ_ERR_SUCCESS && gw->o.cafile)
		rc = mosquitto_tls_set(gw->mosq, gw->o.cafile, NULL,
				       gw->o.certfile, gw->o.keyfile, NULL);
	if (rc == MOSQ_ERR_SUCCESS && gw->o.cafile)
		rc = mosquitto_tls_opts_set(gw->mosq, 1, "tlsv1.2", NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_ERR, "mqtt setup: %s", mosquitto_strerror(rc));
	return rc == MOSQ_ERR_SUCCESS ? VG_OK : VG_ERR_INVAL;
}

int gw_mqtt_init(struct gateway *gw)
{
	char cid[128];
	int rc;

	rc = mosquitto_lib_init();
	if (rc != MOSQ_ERR_SUCCESS) {
		vg_log(VG_LOG_ERR, "mosquitto_lib_init: %s",
		       mosquitto_strerror(rc));
		return VG_ERR_IO;
	}
	/* brokers bind identity to the user name (use_username_as_clientid):
	 * say the same client id they will use */
	if (gw->o.username[0])
		vg_strlcpy(cid, gw->o.username, sizeof(cid));
	else
		snprintf(cid, sizeof(cid), "vigie-gateway-%s", gw->o.id);
	gw->mosq = mosquitto_new(cid, true, gw);
	if (!gw->mosq) {
		vg_log(VG_LOG_ERR, "mosquitto_new: %s", strerror(errno));
		return VG_ERR_NOMEM;
	}
	rc = mosquitto_threaded_set(gw->mosq, true);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(gw->mosq, MOSQ_OPT_PROTOCOL_VERSION,
					  MQTT_PROTOCOL_V311);
	if (rc != MOSQ_ERR_SUCCESS) {
		vg_log(VG_LOG_ERR, "mqtt setup: %s", mosquitto_strerror(rc));
		return VG_ERR_INVAL;
	}
	mosquitto_connect_callback_set(gw->mosq, on_connect);
	mosquitto_disconnect_callback_set(gw->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(gw->mosq, on_subscribe);
	mosquitto_message_callback_set(gw->mosq, on_message);
	snprintf(gw->sync_topic, sizeof(gw->sync_topic), "%s%svigie/v1/gateway/%s/sync",
		 gw->o.prefix, gw->o.prefix[0] ? "/" : "", gw->o.id);
	for (int i = 0; i < VG_REJ_COUNT; i++)
		vg_ratelimit_init(&gw->reject_log[i], 10000, 5);
	return set_will_and_auth(gw);
}

/*
 * Connect to the current address.  On a client that was connected
 * before, libmosquitto 2.0's mosquitto_connect_async only replaces host,
 * port and keepalive, then reconnects as mosquitto_reconnect_async would:
 * the same client, callbacks, will and TLS settings, on another broker.
 * Not blocking: a broker that never answers (a host gone without a reset)
 * is left after --keepalive seconds, which libmosquitto's keepalive check
 * applies to a pending connect too, not after the kernel's connect
 * timeout of minutes.
 */
/*
 * mosquitto_loop() waits in select() and refuses a socket numbered
 * FD_SETSIZE (1024) or more (MOSQ_ERR_INVAL): once a thousand dashboards
 * hold the lower numbers (gw_http.c), a reconnection's new socket would
 * be one, and the gateway would never reach the broker again while they
 * stay.  A descriptor held from the start keeps a low number for it:
 * released just before the connection's socket is made (the kernel gives
 * the lowest free number), held again after.  Should another thread take
 * it in between, the loop fails with MOSQ_ERR_INVAL and the next attempt
 * does this again.  Only the MQTT thread touches it.
 */
static int low_fd = -1;

static int connect_current(struct gateway *gw)
{
	const struct vg_broker *b = &gw->o.brokers[atomic_load(&gw->broker)];
	int rc;

	if (low_fd >= 0)
		close(low_fd);
	rc = mosquitto_connect_async(gw->mosq, b->host, b->port,
				     gw->o.keepalive);
	low_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return rc;
}


/*
 * The attempt or connection at the current address failed with rc: on to
 * the next address, at once, or after backoff ms once the whole list has
 * failed in a row.  Returns the backoff for the next time.
 */
static int next_broker(struct gateway *gw, struct vg_failover *fo, int rc,
		       int backoff)
{
	char was[VG_BROKER_ADDR_MAX], next[VG_BROKER_ADDR_MAX];
	const char *why = mqtt_why(rc);
	bool wait;

	current_addr(gw, was, sizeof(was));
	wait = vg_failover_failed(fo);
	atomic_store(&gw->broker, fo->cur);
	current_addr(gw, next, sizeof(next));
	if (fo->n > 1)
		atomic_fetch_add(&gw->failovers, 1);
	if (wait)
		vg_log(VG_LOG_WARN, "broker %s failed (%s); retrying %s in %d "
		       "ms", was, why, next, backoff);
	else
		vg_log(VG_LOG_WARN, "broker %s failed (%s); failing over to %s",
		       was, why, next);
	for (int slept = 0; wait && slept < backoff &&
	     !atomic_load(&gw->stop); slept += 100)
		sleep_ms(100);
	if (wait)
		backoff = backoff * 2 > 30000 ? 30000 : backoff * 2;
	return backoff;
}

/* Supervised network loop: failover, and capped exponential backoff. */
static void *mqtt_main(void *arg)
{
	struct gateway *gw = arg;
	struct vg_failover fo;
	int backoff = 500, rc;

	vg_failover_init(&fo, gw->o.nbrokers);
	rc = connect_current(gw);
	while (!atomic_load(&gw->stop)) {
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_loop(gw->mosq, 100, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			retry_refused(gw);
			resync_due(gw);
			/* a connection counts as working once synced: one
			 * whose subscription is refused (0x80) is a failure,
			 * and a list of them ends in the backoff */
			if (atomic_load(&gw->synced)) {
				backoff = 500;
				vg_failover_ok(&fo);
			}
			continue;
		}
		if (atomic_load(&gw->stop) || atomic_load(&gw->disconnecting))
			break;
		atomic_store(&gw->connected, false);
		backoff = next_broker(gw, &fo, rc, backoff);
		rc = connect_current(gw);
	}
	return NULL;
}

int gw_mqtt_start(struct gateway *gw)
{
	return pthread_create(&gw->mqtt_thread, NULL, mqtt_main, gw) == 0
		       ? VG_OK : VG_ERR_IO;
}

void gw_mqtt_stop(struct gateway *gw)
{
	int rc;

	atomic_store(&gw->disconnecting, true);
	if (atomic_load(&gw->connected)) {
		gw_publish_presence(gw, false);
		/* give the loop a moment to flush the offline presence */
		for (int i = 0; i < 10 && mosquitto_want_write(gw->mosq); i++)
			sleep_ms(50);
		rc = mosquitto_disconnect(gw->mosq);
		if (rc != MOSQ_ERR_SUCCESS)
			vg_log(VG_LOG_WARN, "disconnect: %s (the broker "
			       "publishes our will)", mosquitto_strerror(rc));
	}
	atomic_store(&gw->stop, true);
	pthread_join(gw->mqtt_thread, NULL);
	if (low_fd >= 0)
		close(low_fd);
	low_fd = -1;
	mosquitto_destroy(gw->mosq);
	rc = mosquitto_lib_cleanup();
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_WARN, "mosquitto_lib_cleanup: %s",
		       mosquitto_strerror(rc));
}
