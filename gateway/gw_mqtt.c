/*
 * The gateway's MQTT side: one connection, supervised by our own loop so
 * that no error ends it (libmosquitto's loop_forever returns for good on
 * some errors).  On every (re)connect it subscribes again, which makes the
 * broker replay every retained unit and presence message: that replay,
 * applied with the seq rules, rebuilds the state.  A marker published to
 * our own sync topic right after subscribing comes back after the replay,
 * telling us when the state is whole again.
 *
 * With several --broker addresses, any failure (refused, lost, TLS) moves
 * to the next one, round-robin, and the backoff applies once every address
 * has failed in a row (vigie/broker.h).  The client stays the same (the
 * main thread publishes through it): mosquitto_connect with the next
 * address, since mosquitto_reconnect goes back to the last one given.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static void subscribe_all(struct gateway *gw)
{
	static const char *const kinds[] = { "unit", "agent" };
	char filter[VG_TOPIC_MAX];
	int rc = MOSQ_ERR_SUCCESS;

	for (size_t i = 0; i < 2 && rc == MOSQ_ERR_SUCCESS; i++) {
		vg_topic_filter(filter, sizeof(filter), gw->o.prefix, kinds[i]);
		rc = mosquitto_subscribe(gw->mosq, NULL, filter, 1);
	}
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_subscribe(gw->mosq, NULL, gw->sync_topic, 1);
	/* Queued after SUBSCRIBE: delivered back after the retained replay. */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_publish(gw->mosq, NULL, gw->sync_topic, 4,
				       "sync", 1, false);
	/* the connection is gone (NO_CONN): the next connect subscribes
	 * again; anything else leaves us unsynced, which /healthz shows */
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(rc == MOSQ_ERR_NO_CONN ? VG_LOG_WARN : VG_LOG_ERR,
		       "subscribe and replay marker: %s",
		       mosquitto_strerror(rc));
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
	atomic_store(&gw->sub_refused, false);
	atomic_store(&gw->connected_at, (long long)vg_mono_ms());
	atomic_store(&gw->connected, true);
	gw_publish_presence(gw, true);
	subscribe_all(gw);
}

/*
 * A refused subscription (0x80: an ACL, or a NATS cluster electing
 * leaders after a node died) would leave the gateway blind to units or
 * presences while looking synced: drop the connection, and the
 * supervisor connects again (to the next broker, with backoff).
 */
static void on_subscribe(struct mosquitto *m, void *ud, int mid, int n,
			 const int *granted)
{
	struct gateway *gw = ud;
	char addr[VG_BROKER_ADDR_MAX];
	int rc;

	(void)mid;
	for (int i = 0; i < n; i++) {
		if (granted[i] < 0x80)
			continue;
		atomic_store(&gw->sub_refused, true);
		current_addr(gw, addr, sizeof(addr));
		vg_log(VG_LOG_ERR, "broker %s refused a subscription (reason "
		       "0x%02x): reconnecting rather than missing messages",
		       addr, (unsigned)granted[i]);
		rc = mosquitto_disconnect(m);
		if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
			vg_log(VG_LOG_WARN, "disconnect: %s",
			       mosquitto_strerror(rc));
		return;
	}
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

static void on_message(struct mosquitto *m, void *ud,
		       const struct mosquitto_message *msg)
{
	struct gateway *gw = ud;
	struct gw_msg gm;
	enum vg_reject r;

	/* the store is still loading: applied after it, in this order */
	if (gw_backlog_hold(&gw->backlog, m, ud, msg, on_message))
		return;
	if (strcmp(msg->topic, gw->sync_topic) == 0) {
		if (atomic_load(&gw->sub_refused))
			return; /* not whole: the connection is being dropped */
		if (!atomic_exchange(&gw->synced, true)) {
			vg_log(VG_LOG_INFO, "retained state replayed in %lld ms",
			       (long long)(vg_mono_ms() -
					   atomic_load(&gw->connected_at)));
			atomic_store(&gw->republish, true);
			gw_wake(gw);
		}
		return;
	}
	r = gw_core_decode(gw->o.prefix, msg->topic, msg->payload,
			   (size_t)msg->payloadlen, &gm);
	pthread_mutex_lock(&gw->lock);
	if (r == VG_REJ_NONE)
		r = gw_core_apply(gw->core, &gm);
	else
		gw_core_count_reject(gw->core, r);
	pthread_mutex_unlock(&gw->lock);
	gw_wake(gw);
	if (r != VG_REJ_NONE)
		log_reject(gw, msg->topic, r);
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
static int connect_current(struct gateway *gw)
{
	const struct vg_broker *b = &gw->o.brokers[atomic_load(&gw->broker)];

	return mosquitto_connect_async(gw->mosq, b->host, b->port,
				       gw->o.keepalive);
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
		gw_backlog_drain(&gw->backlog, gw->mosq, gw, on_message);
		if (rc == MOSQ_ERR_SUCCESS) {
			if (atomic_load(&gw->connected)) {
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
	mosquitto_destroy(gw->mosq);
	rc = mosquitto_lib_cleanup();
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_WARN, "mosquitto_lib_cleanup: %s",
		       mosquitto_strerror(rc));
}
