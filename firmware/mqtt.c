/*
 * Supervised MQTT session loop.  Flow control is ours: at most
 * AGENT_MQTT_WINDOW unit messages are handed to libmosquitto before their
 * PUBACKs, so a birth of thousands of units never piles up in the library
 * and an acknowledgement maps straight back to the record it clears.
 */
#include "mqtt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "health.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/msg.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

#ifndef VG_VERSION
#define VG_VERSION "0.0.0"
#endif
#ifndef VG_BOARD
#define VG_BOARD "host"
#endif

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 15000
/*
 * A refused record is tried again after this long (and on every new
 * connection): an ACL fixed on the broker is picked up without a restart,
 * and a refusal never turns into a publish loop.
 */
#define REFUSED_RETRY_MS 60000
/* How long before a refused receipt subscription is tried again. */
#define RECEIPT_RETRY_MS 10000
/* the MQTT thread's stack (agent_mqtt_start) */
#define AGENT_MQTT_STACK ((size_t)256 * 1024)

int agent_mqtt_presence(const struct agent_config *cfg, bool online,
			int64_t session, const struct vg_health *health,
			char *buf, size_t size)
{
	struct vg_presence pr;

	memset(&pr, 0, sizeof(pr));
	vg_health_clear(&pr.health);
	if (health)
		pr.health = *health;
	pr.session = session;
	vg_strlcpy(pr.site, cfg->site, sizeof(pr.site));
	pr.region = cfg->region;
	pr.online = online;
	vg_strlcpy(pr.version, VG_VERSION, sizeof(pr.version));
	vg_strlcpy(pr.board, VG_BOARD, sizeof(pr.board));
	pr.units = cfg->nunits;
	pr.ts = vg_now();
	return vg_presence_encode(&pr, buf, size);
}

void agent_mqtt_reason(int rc, char *buf, size_t size)
{
	const char *s = mosquitto_reason_string(rc);

	vg_strlcpy(buf, s ? s : "unknown reason", size);
	/* mosquitto capitalises; the status line reads as one sentence */
	if (buf[0] >= 'A' && buf[0] <= 'Z' && (buf[1] < 'A' || buf[1] > 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
}

/*
 * Why a libmosquitto call failed, for a person: errno for ERRNO, and words
 * for KEEPALIVE, which libmosquitto 2.0.11 calls "Unknown error".
 */
static const char *mqtt_why(int rc)
{
	return rc == MOSQ_ERR_ERRNO ? strerror(errno) :
	       rc == MOSQ_ERR_KEEPALIVE ?
	       "no answer from the broker within the keepalive" :
	       mosquitto_strerror(rc);
}

/* The broker address the failover cursor points at, as text. */
static void broker_addr(const struct agent_mqtt *mq, char *buf, size_t size)
{
	vg_broker_format(&mq->cfg->brokers[mq->fo.cur], buf, size);
}

/* The health the birth carries: the store's view, refusals, config. */
static void health_now(struct agent_mqtt *mq, struct vg_health *h)
{
	vg_health_clear(h);
	agent_outbox_health(mq->ob, vg_now(), h);
	pthread_mutex_lock(&mq->lock);
	h->refused = mq->st.refused;
	pthread_mutex_unlock(&mq->lock);
	vg_strlcpy(h->config_hash, mq->cfg->hash, sizeof(h->config_hash));
}

/* Retained presence of the current session; online carries health. */
static int publish_presence(struct agent_mqtt *mq, bool online)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	struct vg_health h;
	int len, mid = -1, rc;

	if (online)
		health_now(mq, &h);
	vg_topic_agent(topic, sizeof(topic), mq->cfg->prefix, mq->cfg->site);
	len = agent_mqtt_presence(mq->cfg, online, mq->session,
				  online ? &h : NULL, payload,
				  sizeof(payload));
	if (len < 0)
		return MOSQ_ERR_INVAL;
	rc = mosquitto_publish(mq->mosq, &mid, topic, len, payload, 1, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		vg_log(VG_LOG_WARN, "mqtt: cannot publish presence: %s",
		       mosquitto_strerror(rc));
		return rc;
	}
	mq->presence_mid = mid;
	if (online) {
		mq->sent = h;
		mq->birth_ms = vg_mono_ms();
	}
	return MOSQ_ERR_SUCCESS;
}

static void set_state(struct agent_mqtt *mq, bool connected, const char *err)
{
	pthread_mutex_lock(&mq->lock);
	if (mq->st.connected != connected)
		mq->st.since = vg_now();
	mq->st.connected = connected;
	if (connected)
		mq->st.connects++;
	if (err)
		vg_strlcpy(mq->st.error, err, sizeof(mq->st.error));
	pthread_mutex_unlock(&mq->lock);
}

/* The broker does not speak MQTT 5: say so once, use 3.1.1 from now on. */
static bool fall_back(struct agent_mqtt *mq, int rc)
{
	if (mq->v311 || (rc != MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION &&
			 rc != CONNACK_REFUSED_PROTOCOL_VERSION))
		return false;
	vg_log(VG_LOG_WARN, "mqtt: the broker refuses MQTT 5; falling back to "
	       "MQTT 3.1.1, on which a refused publish looks delivered");
	mq->v311 = true;
	mq->backoff_ms = BACKOFF_MIN_MS;
	mq->retry_same = true; /* this broker works, in 3.1.1 */
	return true;
}

/* The NOC's receipts for this site (retained: the last one comes now). */
static void subscribe_receipts(struct agent_mqtt *mq)
{
	char topic[VG_TOPIC_MAX];
	int rc;

	if (vg_topic_receipt(topic, sizeof(topic), mq->cfg->prefix,
			     mq->cfg->site) < 0)
		return;
	rc = mosquitto_subscribe(mq->mosq, NULL, topic, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_WARN, "mqtt: cannot subscribe to %s: %s", topic,
		       mosquitto_strerror(rc));
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct agent_mqtt *mq = obj;
	char why[64], addr[VG_BROKER_ADDR_MAX];

	(void)mosq;
	if (rc != 0) {
		if (mq->v311)
			vg_strlcpy(why, mosquitto_connack_string(rc),
				   sizeof(why));
		else
			agent_mqtt_reason(rc, why, sizeof(why));
		broker_addr(mq, addr, sizeof(addr));
		if (!fall_back(mq, rc))
			vg_log(VG_LOG_ERR, "mqtt: broker %s refused the "
			       "connection: %s", addr, why);
		set_state(mq, false, why);
		mq->lost = true;
		return;
	}
	broker_addr(mq, addr, sizeof(addr));
	vg_log(VG_LOG_INFO, "mqtt: connected to %s (broker %d of %d, MQTT %s, "
	       "session %lld); publishing birth", addr, mq->fo.cur + 1,
	       mq->cfg->nbrokers, mq->v311 ? "3.1.1" : "5",
	       (long long)mq->session);
	mq->ready = true;
	mq->accepted = true;
	vg_failover_ok(&mq->fo);
	mq->backoff_ms = BACKOFF_MIN_MS;
	mq->retry_ms = 0;
	mq->receipt_retry_ms = 0;
	set_state(mq, true, "");
	publish_presence(mq, true);
	subscribe_receipts(mq);
	agent_outbox_birth(mq->ob);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct agent_mqtt *mq = obj;
	char addr[VG_BROKER_ADDR_MAX];

	(void)mosq;
	mq->ready = false;
	mq->lost = true;
	broker_addr(mq, addr, sizeof(addr));
	if (rc != 0)
		vg_log(VG_LOG_WARN, "mqtt: connection to %s ended: %s", addr,
		       mqtt_why(rc));
}

/* index: as agent_outbox_next returns; -1 the presence, -2 unknown. */
static void log_refusal(struct agent_mqtt *mq, int index, int rc)
{
	char why[64], what[VG_IDENT_MAX + 32];
	uint32_t dropped = 0;

	if (!vg_ratelimit_allow(&mq->refuse_rl, vg_mono_ms(), &dropped))
		return;
	agent_mqtt_reason(rc, why, sizeof(why));
	if (index < 0)
		vg_strlcpy(what, index == -1 ? "the presence" : "a record",
			   sizeof(what));
	else if (index < mq->cfg->nunits)
		snprintf(what, sizeof(what), "unit %s",
			 mq->cfg->units[index].id);
	else
		vg_strlcpy(what, "a removed unit", sizeof(what));
	vg_log(VG_LOG_ERR, "mqtt: the broker refused %s: %s (%u more "
	       "refusal(s) not logged); it stays in the outbox and is tried "
	       "again later; check [broker] username: the broker lets a site "
	       "write only its own topics", what, why, dropped);
}

/* PUBACK >= 0x80: not delivered; count it, keep it, retry it later. */
static void refused(struct agent_mqtt *mq, int mid, int rc)
{
	int index = -1;

	pthread_mutex_lock(&mq->lock);
	mq->st.refused++;
	mq->st.refused_rc = rc;
	mq->st.refused_at = vg_now();
	pthread_mutex_unlock(&mq->lock);
	if (mid != mq->presence_mid) {
		index = agent_outbox_refused(mq->ob, mid, rc);
		index = index < 0 ? -2 : index;
	}
	log_refusal(mq, index, rc);
	if (!mq->retry_ms)
		mq->retry_ms = vg_mono_ms() + REFUSED_RETRY_MS;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int rc,
		       const mosquitto_property *props)
{
	struct agent_mqtt *mq = obj;
	bool presence = mid == mq->presence_mid;

	(void)mosq;
	(void)props;
	if (!presence) {
		pthread_mutex_lock(&mq->lock);
		if (mq->st.inflight > 0)
			mq->st.inflight--;
		pthread_mutex_unlock(&mq->lock);
	}
	if (rc >= 0x80)
		refused(mq, mid, rc);
	else if (!presence)
		agent_outbox_acked(mq->ob, mid);
	if (presence)
		mq->presence_mid = -1;
}

/*
 * A refused receipt subscription (an ACL, or a NATS cluster electing
 * leaders) is tried again later on the same connection: publishing goes
 * on meanwhile, it does not need receipts.
 */
static void on_subscribe(struct mosquitto *mosq, void *obj, int mid,
			 int count, const int *granted)
{
	struct agent_mqtt *mq = obj;
	char why[64];

	(void)mosq;
	(void)mid;
	if (count < 1 || granted[0] < 0x80)
		return;
	agent_mqtt_reason(granted[0], why, sizeof(why));
	vg_log(VG_LOG_WARN, "mqtt: the broker refused the receipt "
	       "subscription (%s): status cannot tell whether the NOC has "
	       "the records; trying again in %d s", why,
	       RECEIPT_RETRY_MS / 1000);
	mq->receipt_retry_ms = vg_mono_ms() + RECEIPT_RETRY_MS;
}

static void retry_receipts(struct agent_mqtt *mq)
{
	if (!mq->receipt_retry_ms || vg_mono_ms() < mq->receipt_retry_ms)
		return;
	mq->receipt_retry_ms = 0;
	subscribe_receipts(mq);
}

/* A receipt for this site: remember the highest seq confirmed. */
static void on_message(struct mosquitto *mosq, void *obj,
		       const struct mosquitto_message *m)
{
	struct agent_mqtt *mq = obj;
	struct vg_receipt r;
	struct vg_topic t;
	enum vg_reject rej;

	(void)mosq;
	if (vg_topic_parse(mq->cfg->prefix, m->topic, strlen(m->topic),
			   &t) != 0 || t.kind != VG_TOPIC_RECEIPT ||
	    strcmp(t.site, mq->cfg->site) != 0 || m->payloadlen <= 0)
		return;
	rej = vg_receipt_decode(m->payload, (size_t)m->payloadlen, &t, &r);
	if (rej != VG_REJ_NONE) {
		vg_log(VG_LOG_WARN, "mqtt: ignoring a receipt on %s: %s",
		       m->topic, vg_reject_name(rej));
		return;
	}
	pthread_mutex_lock(&mq->lock);
	if (!mq->st.receipt || r.seq > mq->st.receipt_seq) {
		mq->st.receipt = true;
		mq->st.receipt_seq = r.seq;
		mq->st.receipt_ts = r.ts;
	}
	pthread_mutex_unlock(&mq->lock);
	vg_log(VG_LOG_DEBUG, "mqtt: receipt: the NOC has seq <= %lld",
	       (long long)r.seq);
}

static int setup_tls(struct agent_mqtt *mq, struct mosquitto *mosq)
{
	const struct agent_config *c = mq->cfg;
	int rc;

	if (!c->tls)
		return MOSQ_ERR_SUCCESS;
	rc = mosquitto_tls_set(mosq, c->ca_file[0] ? c->ca_file : NULL,
			       c->ca_path[0] ? c->ca_path : NULL,
			       c->cert_file[0] ? c->cert_file : NULL,
			       c->key_file[0] ? c->key_file : NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(mosq, 1, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(mosq, false);
	return rc;
}

/*
 * The will of this connection: offline, with its session.  libmosquitto
 * keeps a will in the client and sends it again on mosquitto_reconnect, so
 * a new session needs a new client (which the loop makes for every
 * connection anyway).
 */
static int set_will(struct agent_mqtt *mq, struct mosquitto *mosq)
{
	char topic[VG_TOPIC_MAX], will[VG_PAYLOAD_MAX];
	int len;

	vg_topic_agent(topic, sizeof(topic), mq->cfg->prefix, mq->cfg->site);
	len = agent_mqtt_presence(mq->cfg, false, mq->session, NULL, will,
				  sizeof(will));
	if (len < 0)
		return MOSQ_ERR_INVAL;
	return mosquitto_will_set(mosq, topic, len, will, 1, true);
}

static void set_callbacks(struct mosquitto *mosq)
{
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_disconnect_callback_set(mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(mosq, on_publish);
	mosquitto_subscribe_callback_set(mosq, on_subscribe);
	mosquitto_message_callback_set(mosq, on_message);
}

/*
 * A fresh client: protocol, will, credentials, TLS; NULL on failure.  No
 * persistent session (clean start, no session expiry): what is pending
 * lives in the store, and every connection starts with a birth.
 */
static struct mosquitto *new_client(struct agent_mqtt *mq, char *err,
				    size_t errlen)
{
	const struct agent_config *c = mq->cfg;
	struct mosquitto *mosq = mosquitto_new(c->client_id, true, mq);
	int rc;

	if (!mosq) {
		snprintf(err, errlen, "mosquitto_new: %s", strerror(errno));
		return NULL;
	}
	rc = mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, mq->v311 ?
				  MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5);
	if (!rc)
		rc = set_will(mq, mosq);
	if (!rc && c->username[0])
		rc = mosquitto_username_pw_set(mosq, c->username,
					       c->password[0] ? c->password :
					       NULL);
	if (!rc)
		rc = mosquitto_max_inflight_messages_set(mosq, 0);
	if (!rc && (rc = setup_tls(mq, mosq)) != 0)
		vg_log(VG_LOG_ERR, "mqtt: TLS setup failed (no fallback to "
		       "plain text): %s", mosquitto_strerror(rc));
	if (rc) {
		snprintf(err, errlen, "setup: %s", mosquitto_strerror(rc));
		mosquitto_destroy(mosq);
		return NULL;
	}
	set_callbacks(mosq);
	return mosq;
}

static bool stopping(struct agent_mqtt *mq)
{
	bool s;

	pthread_mutex_lock(&mq->lock);
	s = mq->stop;
	pthread_mutex_unlock(&mq->lock);
	return s;
}

/*
 * libmosquitto did not take a record: it stays in the outbox for the next
 * round or connection.  NO_CONN is the connection ending under us (the
 * loop sees it next); anything else would come back every round, so it is
 * said, rate-limited.
 */
static void publish_failed(struct agent_mqtt *mq, int unit, int rc)
{
	uint32_t dropped = 0;

	agent_outbox_requeue(mq->ob, unit);
	if (rc == MOSQ_ERR_NO_CONN)
		vg_log(VG_LOG_DEBUG, "mqtt: publish: not connected");
	else if (vg_ratelimit_allow(&mq->publish_rl, vg_mono_ms(), &dropped))
		vg_log(VG_LOG_WARN, "mqtt: cannot hand unit %s to libmosquitto:"
		       " %s (%u more not logged); it stays in the outbox",
		       unit < mq->cfg->nunits ? mq->cfg->units[unit].id : "?",
		       mosquitto_strerror(rc), dropped);
}

/* Hand queued records to libmosquitto while the window has room. */
static void pump(struct agent_mqtt *mq)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int64_t seq;
	int unit, mid, rc;

	for (;;) {
		pthread_mutex_lock(&mq->lock);
		rc = mq->st.inflight >= AGENT_MQTT_WINDOW;
		pthread_mutex_unlock(&mq->lock);
		if (rc)
			return;
		unit = agent_outbox_next(mq->ob, &mq->cursor, topic,
					 sizeof(topic), payload,
					 sizeof(payload), &seq);
		if (unit < 0)
			return;
		rc = mosquitto_publish(mq->mosq, &mid, topic,
				       (int)strlen(payload), payload, 1, true);
		if (rc != MOSQ_ERR_SUCCESS) {
			publish_failed(mq, unit, rc);
			return;
		}
		agent_outbox_sent(mq->ob, unit, mid, seq);
		pthread_mutex_lock(&mq->lock);
		mq->st.inflight++;
		pthread_mutex_unlock(&mq->lock);
	}
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* The slow retry of refused records (see REFUSED_RETRY_MS). */
static void retry_refused(struct agent_mqtt *mq)
{
	int n;

	if (!mq->retry_ms || vg_mono_ms() < mq->retry_ms)
		return;
	mq->retry_ms = 0;
	n = agent_outbox_retry_refused(mq->ob);
	if (n > 0)
		vg_log(VG_LOG_INFO, "mqtt: trying %d refused record(s) again",
		       n);
}

/*
 * Republish the birth (same session) when health changed materially, at
 * most once per AGENT_HEALTH_MIN_MS and never over a presence in flight.
 */
static void health_check(struct agent_mqtt *mq)
{
	struct vg_health h;
	int64_t now = vg_mono_ms();

	if (mq->presence_mid != -1 || now - mq->health_ms < 1000 ||
	    now - mq->birth_ms < AGENT_HEALTH_MIN_MS)
		return;
	mq->health_ms = now;
	health_now(mq, &h);
	if (!agent_health_material(&mq->sent, &h))
		return;
	vg_log(VG_LOG_DEBUG, "mqtt: health changed; republishing presence");
	publish_presence(mq, true);
}

/* One round of the external loop; false when the session is over. */
static bool step(struct agent_mqtt *mq)
{
	struct pollfd p[2];
	int rc = MOSQ_ERR_SUCCESS;

	memset(p, 0, sizeof(p)); /* no revents after an interrupted poll */
	p[0].fd = mosquitto_socket(mq->mosq);
	p[0].events = POLLIN | (mosquitto_want_write(mq->mosq) ? POLLOUT : 0);
	p[1].fd = mq->wake[0];
	p[1].events = POLLIN;
	if (p[0].fd < 0) {
		/* libmosquitto closed the socket without saying why */
		set_state(mq, false, "connection closed");
		return false;
	}
	if (poll(p, 2, 1000) < 0 && errno != EINTR) {
		set_state(mq, false, strerror(errno));
		return false;
	}
	if (p[1].revents & POLLIN)
		drain(mq->wake[0]);
	if (p[0].revents & (POLLIN | POLLERR | POLLHUP))
		rc = mosquitto_loop_read(mq->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && mosquitto_want_write(mq->mosq))
		rc = mosquitto_loop_write(mq->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_misc(mq->mosq);
	if (rc != MOSQ_ERR_SUCCESS || mq->lost) {
		if (rc != MOSQ_ERR_SUCCESS)
			set_state(mq, false, mqtt_why(rc));
		return false;
	}
	if (mq->ready) {
		retry_refused(mq);
		retry_receipts(mq);
		health_check(mq);
		pump(mq);
	}
	return true;
}

/* Tell the broker we leave (a clean disconnect sends no will). */
static void say_goodbye(struct agent_mqtt *mq)
{
	int64_t deadline = vg_mono_ms() + 1000;
	int rc = MOSQ_ERR_SUCCESS;

	if (!mq->ready || publish_presence(mq, false) != MOSQ_ERR_SUCCESS)
		return;
	while (rc == MOSQ_ERR_SUCCESS && vg_mono_ms() < deadline &&
	       mosquitto_want_write(mq->mosq))
		rc = mosquitto_loop_write(mq->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_disconnect(mq->mosq);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_write(mq->mosq, 1);
	/* best effort: the socket is closed right after either way, and
	 * without our DISCONNECT the broker publishes the will, which says
	 * offline too */
	if (rc != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_DEBUG, "mqtt: goodbye not sent whole: %s",
		       mosquitto_strerror(rc));
}

static void session(struct agent_mqtt *mq)
{
	char err[128] = "";
	int rc;

	mq->ready = mq->lost = mq->accepted = false;
	mq->presence_mid = -1;
	mq->v311 = mq->v311 || mq->cfg->mqtt_v311;
	/* persisted before use: a will of this session is never outranked
	 * by an older one, even across a re-flash */
	mq->session = agent_outbox_new_session(mq->ob);
	pthread_mutex_lock(&mq->lock);
	mq->st.protocol = mq->v311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
	mq->st.session = mq->session;
	mq->st.broker = mq->fo.cur;
	pthread_mutex_unlock(&mq->lock);
	mq->mosq = new_client(mq, err, sizeof(err));
	if (!mq->mosq) {
		set_state(mq, false, err);
		return;
	}
	/*
	 * Not blocking: a broker that never answers (a host gone without a
	 * reset) is left after keepalive seconds, which libmosquitto's
	 * keepalive check applies to a pending connect and CONNECT too,
	 * rather than after the kernel's connect timeout of minutes.  A
	 * refusal still comes back at once.
	 */
	rc = mosquitto_connect_async(mq->mosq,
				     mq->cfg->brokers[mq->fo.cur].host,
				     mq->cfg->brokers[mq->fo.cur].port,
				     mq->cfg->keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		set_state(mq, false, mqtt_why(rc));
	} else {
		while (!stopping(mq) && step(mq))
			;
		if (stopping(mq))
			say_goodbye(mq);
		set_state(mq, false, NULL);
	}
	mosquitto_destroy(mq->mosq);
	mq->mosq = NULL;
	agent_outbox_lost(mq->ob);
	pthread_mutex_lock(&mq->lock);
	mq->st.inflight = 0;
	pthread_mutex_unlock(&mq->lock);
}

/* Sleep for the backoff, or less if asked to stop. */
static void backoff(struct agent_mqtt *mq)
{
	struct pollfd p = { .fd = mq->wake[0], .events = POLLIN };
	int64_t end = vg_mono_ms() + mq->backoff_ms;

	while (!stopping(mq)) {
		int64_t left = end - vg_mono_ms();

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) > 0)
			drain(mq->wake[0]);
	}
	mq->backoff_ms *= 2;
	if (mq->backoff_ms > BACKOFF_MAX_MS)
		mq->backoff_ms = BACKOFF_MAX_MS;
}

/*
 * A session ended (never connected, refused, lost): the next broker, now,
 * or after the backoff once every address has failed in a row; with one
 * address that is every time, as before lists.  A broker that only
 * refused MQTT 5 is tried again in 3.1.1 instead.  Leaving a broker that
 * had accepted us is always logged; the failures that follow are
 * rate-limited.
 */
static void next_broker(struct agent_mqtt *mq, struct vg_ratelimit *rl)
{
	char was[VG_BROKER_ADDR_MAX], next[VG_BROKER_ADDR_MAX];
	struct agent_mqtt_state st;
	uint32_t dropped = 0;
	bool wait = true;

	broker_addr(mq, was, sizeof(was));
	if (!mq->retry_same)
		wait = vg_failover_failed(&mq->fo);
	mq->retry_same = false;
	broker_addr(mq, next, sizeof(next));
	pthread_mutex_lock(&mq->lock);
	if (strcmp(was, next) != 0)
		mq->st.failovers++;
	st = mq->st;
	pthread_mutex_unlock(&mq->lock);
	if (mq->accepted || vg_ratelimit_allow(rl, vg_mono_ms(), &dropped)) {
		if (wait)
			vg_log(VG_LOG_WARN, "mqtt: broker %s failed (%s); "
			       "retrying %s in %d ms", was, st.error, next,
			       mq->backoff_ms);
		else
			vg_log(VG_LOG_WARN, "mqtt: broker %s failed (%s); "
			       "failing over to %s", was, st.error, next);
	}
	if (wait)
		backoff(mq);
}

static void *mqtt_thread(void *arg)
{
	struct agent_mqtt *mq = arg;
	struct vg_ratelimit rl;

	/* named for top -H and /proc/PID/task/TID/comm */
	prctl(PR_SET_NAME, "vigie-mqtt", 0, 0, 0);
	vg_ratelimit_init(&rl, 60000, 3);
	mq->backoff_ms = BACKOFF_MIN_MS;
	while (!stopping(mq)) {
		session(mq);
		if (!stopping(mq))
			next_broker(mq, &rl);
	}
	return NULL;
}

int agent_mqtt_init(struct agent_mqtt *mq, const struct agent_config *cfg,
		    struct agent_outbox *ob)
{
	memset(mq, 0, sizeof(*mq));
	mq->cfg = cfg;
	mq->ob = ob;
	if (pipe(mq->wake) != 0)
		return VG_ERR_IO;
	for (int i = 0; i < 2; i++) {
		fcntl(mq->wake[i], F_SETFL, O_NONBLOCK);
		fcntl(mq->wake[i], F_SETFD, FD_CLOEXEC);
	}
	pthread_mutex_init(&mq->lock, NULL);
	vg_ratelimit_init(&mq->refuse_rl, 60000, 3);
	vg_ratelimit_init(&mq->publish_rl, 60000, 3);
	vg_failover_init(&mq->fo, cfg->nbrokers);
	mq->presence_mid = -1;
	snprintf(mq->st.error, sizeof(mq->st.error), "not connected yet");
	return VG_OK;
}

int agent_mqtt_start(struct agent_mqtt *mq)
{
	pthread_attr_t attr;
	int rc = VG_OK;

	/* a fixed stack rather than glibc's default (RLIMIT_STACK, 8 MiB on
	 * Debian): the session, libmosquitto's packet code and an OpenSSL
	 * handshake use tens of KiB; 256 KiB leaves room for TLS */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, AGENT_MQTT_STACK);
	mq->stop = false;
	if (pthread_create(&mq->thread, &attr, mqtt_thread, mq) != 0)
		rc = VG_ERR_NOMEM;
	else
		mq->started = true;
	pthread_attr_destroy(&attr);
	return rc;
}

void agent_mqtt_wake(void *arg)
{
	struct agent_mqtt *mq = arg;
	char c = 1;

	if (write(mq->wake[1], &c, 1) < 0 && errno != EAGAIN)
		vg_log(VG_LOG_DEBUG, "mqtt: wake: %s", strerror(errno));
}

void agent_mqtt_stop(struct agent_mqtt *mq)
{
	if (!mq->started)
		return;
	pthread_mutex_lock(&mq->lock);
	mq->stop = true;
	pthread_mutex_unlock(&mq->lock);
	agent_mqtt_wake(mq);
	pthread_join(mq->thread, NULL);
	mq->started = false;
}

void agent_mqtt_free(struct agent_mqtt *mq)
{
	agent_mqtt_stop(mq);
	close(mq->wake[0]);
	close(mq->wake[1]);
	pthread_mutex_destroy(&mq->lock);
}

void agent_mqtt_state(struct agent_mqtt *mq, struct agent_mqtt_state *out)
{
	pthread_mutex_lock(&mq->lock);
	*out = mq->st;
	pthread_mutex_unlock(&mq->lock);
}
