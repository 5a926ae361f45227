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
#include <unistd.h>

#include <mosquitto.h>

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

int agent_mqtt_presence(const struct agent_config *cfg, bool online,
			char *buf, size_t size)
{
	struct vg_presence pr;

	memset(&pr, 0, sizeof(pr));
	vg_health_clear(&pr.health);
	vg_strlcpy(pr.site, cfg->site, sizeof(pr.site));
	pr.region = cfg->region;
	pr.online = online;
	snprintf(pr.version, sizeof(pr.version), "%s", VG_VERSION);
	snprintf(pr.board, sizeof(pr.board), "%s", VG_BOARD);
	pr.units = cfg->nunits;
	pr.ts = vg_now();
	return vg_presence_encode(&pr, buf, size);
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
		snprintf(mq->st.error, sizeof(mq->st.error), "%s", err);
	pthread_mutex_unlock(&mq->lock);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct agent_mqtt *mq = obj;
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int len;

	if (rc != 0) {
		vg_log(VG_LOG_ERR, "mqtt: broker refused the connection: %s",
		       mosquitto_connack_string(rc));
		set_state(mq, false, mosquitto_connack_string(rc));
		mq->lost = true;
		return;
	}
	vg_log(VG_LOG_INFO, "mqtt: connected to %s:%d; publishing birth",
	       mq->cfg->host, mq->cfg->port);
	mq->ready = true;
	mq->backoff_ms = BACKOFF_MIN_MS;
	set_state(mq, true, "");
	vg_topic_agent(topic, sizeof(topic), mq->cfg->prefix, mq->cfg->site);
	len = agent_mqtt_presence(mq->cfg, true, payload, sizeof(payload));
	if (len > 0)
		mosquitto_publish(mosq, &mq->presence_mid, topic, len, payload,
				  1, true);
	agent_outbox_birth(mq->ob);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct agent_mqtt *mq = obj;

	(void)mosq;
	mq->ready = false;
	mq->lost = true;
	if (rc != 0)
		vg_log(VG_LOG_WARN, "mqtt: connection lost: %s",
		       mosquitto_strerror(rc));
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct agent_mqtt *mq = obj;

	(void)mosq;
	if (mid == mq->presence_mid)
		return;
	pthread_mutex_lock(&mq->lock);
	if (mq->st.inflight > 0)
		mq->st.inflight--;
	pthread_mutex_unlock(&mq->lock);
	agent_outbox_acked(mq->ob, mid);
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

/* A fresh client with will, credentials and TLS; NULL on failure. */
static struct mosquitto *new_client(struct agent_mqtt *mq, char *err,
				    size_t errlen)
{
	const struct agent_config *c = mq->cfg;
	char topic[VG_TOPIC_MAX], will[VG_PAYLOAD_MAX];
	struct mosquitto *mosq = mosquitto_new(c->client_id, true, mq);
	int len, rc;

	if (!mosq) {
		snprintf(err, errlen, "mosquitto_new: %s", strerror(errno));
		return NULL;
	}
	vg_topic_agent(topic, sizeof(topic), c->prefix, c->site);
	len = agent_mqtt_presence(c, false, will, sizeof(will));
	rc = len < 0 ? MOSQ_ERR_INVAL :
	     mosquitto_will_set(mosq, topic, len, will, 1, true);
	if (!rc && c->username[0])
		rc = mosquitto_username_pw_set(mosq, c->username,
					       c->password[0] ? c->password :
					       NULL);
	if (!rc && (rc = setup_tls(mq, mosq)) != 0)
		vg_log(VG_LOG_ERR, "mqtt: TLS setup failed (no fallback to "
		       "plain text): %s", mosquitto_strerror(rc));
	if (rc) {
		snprintf(err, errlen, "setup: %s", mosquitto_strerror(rc));
		mosquitto_destroy(mosq);
		return NULL;
	}
	mosquitto_max_inflight_messages_set(mosq, 0);
	mosquitto_connect_callback_set(mosq, on_connect);
	mosquitto_disconnect_callback_set(mosq, on_disconnect);
	mosquitto_publish_callback_set(mosq, on_publish);
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
			agent_outbox_requeue(mq->ob, unit);
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

/* One round of the external loop; false when the session is over. */
static bool step(struct agent_mqtt *mq)
{
	struct pollfd p[2];
	int rc = MOSQ_ERR_SUCCESS;

	p[0].fd = mosquitto_socket(mq->mosq);
	p[0].events = POLLIN | (mosquitto_want_write(mq->mosq) ? POLLOUT : 0);
	p[1].fd = mq->wake[0];
	p[1].events = POLLIN;
	if (p[0].fd < 0 || poll(p, 2, 1000) < 0) {
		if (p[0].fd < 0 || errno != EINTR)
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
			set_state(mq, false, rc == MOSQ_ERR_ERRNO ?
				  strerror(errno) : mosquitto_strerror(rc));
		return false;
	}
	if (mq->ready)
		pump(mq);
	return true;
}

/* Tell the broker we leave (a clean disconnect sends no will). */
static void say_goodbye(struct agent_mqtt *mq)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int64_t deadline = vg_mono_ms() + 1000;
	int len, mid = -1;

	if (!mq->ready)
		return;
	vg_topic_agent(topic, sizeof(topic), mq->cfg->prefix, mq->cfg->site);
	len = agent_mqtt_presence(mq->cfg, false, payload, sizeof(payload));
	if (len < 0 || mosquitto_publish(mq->mosq, &mid, topic, len, payload,
					 1, true) != MOSQ_ERR_SUCCESS)
		return;
	mq->presence_mid = mid;
	while (vg_mono_ms() < deadline && mosquitto_want_write(mq->mosq)) {
		if (mosquitto_loop_write(mq->mosq, 1) != MOSQ_ERR_SUCCESS)
			break;
	}
	mosquitto_disconnect(mq->mosq);
	mosquitto_loop_write(mq->mosq, 1);
}

static void session(struct agent_mqtt *mq)
{
	char err[128] = "";
	int rc;

	mq->ready = mq->lost = false;
	mq->presence_mid = -1;
	mq->mosq = new_client(mq, err, sizeof(err));
	if (!mq->mosq) {
		set_state(mq, false, err);
		return;
	}
	rc = mosquitto_connect(mq->mosq, mq->cfg->host, mq->cfg->port,
			       mq->cfg->keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		set_state(mq, false, rc == MOSQ_ERR_ERRNO ? strerror(errno) :
			  mosquitto_strerror(rc));
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

static void *mqtt_thread(void *arg)
{
	struct agent_mqtt *mq = arg;
	struct agent_mqtt_state st;
	uint32_t dropped;
	struct vg_ratelimit rl;

	vg_ratelimit_init(&rl, 60000, 3);
	mq->backoff_ms = BACKOFF_MIN_MS;
	while (!stopping(mq)) {
		session(mq);
		if (stopping(mq))
			break;
		agent_mqtt_state(mq, &st);
		if (vg_ratelimit_allow(&rl, vg_mono_ms(), &dropped))
			vg_log(VG_LOG_WARN, "mqtt: %s:%d unreachable (%s); "
			       "retrying in %d ms", mq->cfg->host,
			       mq->cfg->port, st.error, mq->backoff_ms);
		backoff(mq);
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
	snprintf(mq->st.error, sizeof(mq->st.error), "not connected yet");
	return VG_OK;
}

int agent_mqtt_start(struct agent_mqtt *mq)
{
	mq->stop = false;
	if (pthread_create(&mq->thread, NULL, mqtt_thread, mq) != 0)
		return VG_ERR_NOMEM;
	mq->started = true;
	return VG_OK;
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
