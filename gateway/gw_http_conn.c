/*
 * What libmicrohttpd cannot bound or see by itself: the time a client may
 * take to send a request's headers (it only has an inactivity timeout,
 * which one byte every few seconds defeats), and that the client of a
 * waiting event stream has hung up (a suspended connection is out of the
 * daemon's loop).  Every connection gets a record (connection callbacks).
 * One watcher thread sleeps in epoll on an eventfd and on the sockets of
 * event streams (a hang-up, edge-triggered: nothing while they are quiet)
 * until the nearest deadline, at most a second: a header deadline passed
 * shuts the socket down (the daemon then closes it); when the generation
 * moved it formats the new event once (gw_http_sse.c) and resumes the
 * streams waiting for it; it resumes a stream whose beat is due, or whose
 * client hung up.  Records are freed before libmicrohttpd closes the
 * socket, and every use of a record's fd is under h->mu, so the watcher
 * never touches a reused descriptor; epoll names a record by its serial,
 * never by its address.
 */
#define _GNU_SOURCE /* POLLRDHUP: the peer closed its end */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_http.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/timeutil.h"

/* a stream that suspends does not wake the watcher (a thousand would, at
 * each event): its beat, 15 s away, is seen within this */
#define WATCH_MAX_SLEEP_MS 1000
#define WATCH_EVENTS 64

static struct gw_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static void conn_open(struct gw_http *h, struct MHD_Connection *c,
		      void **socket_context)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct gw_conn *k = calloc(1, sizeof(*k));

	*socket_context = k;
	if (!k)
		return; /* served, but without a header deadline */
	k->fd = i ? i->connect_fd : -1;
	k->in_headers = true;
	k->hdr_since = vg_mono_ms();
	pthread_mutex_lock(&h->mu);
	k->serial = ++h->serials;
	k->next = h->conns;
	if (h->conns)
		h->conns->prev = k;
	h->conns = k;
	pthread_mutex_unlock(&h->mu);
	gw_http_wake(h);
}

static void conn_close(struct gw_http *h, struct gw_conn *k)
{
	pthread_mutex_lock(&h->mu);
	if (k->prev)
		k->prev->next = k->next;
	else
		h->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	if (k->sse)
		k->sse->conn = NULL;
	if (k->watched)
		epoll_ctl(h->ep, EPOLL_CTL_DEL, k->fd, NULL);
	pthread_mutex_unlock(&h->mu);
	free(k);
}

void gw_http_conn_notify(void *cls, struct MHD_Connection *c,
			 void **socket_context,
			 enum MHD_ConnectionNotificationCode code)
{
	struct gw_http *h = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_open(h, c, socket_context);
	else if (*socket_context)
		conn_close(h, *socket_context);
}

/* A request is over: on a kept-alive connection the next one's headers
 * have the same deadline as the first's. */
void gw_http_conn_completed(void *cls, struct MHD_Connection *c, void **req,
			    enum MHD_RequestTerminationCode code)
{
	struct gw_http *h = cls;
	struct gw_conn *k = conn_of(c);

	(void)req;
	(void)code;
	if (!k)
		return;
	pthread_mutex_lock(&h->mu);
	k->in_headers = true;
	k->hdr_since = vg_mono_ms();
	k->uri_len = 0;
	pthread_mutex_unlock(&h->mu);
	gw_http_wake(h);
}

/* Called with the raw URI as soon as the request line is in. */
void *gw_http_conn_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct gw_http *h = cls;
	struct gw_conn *k = conn_of(c);

	if (k) {
		pthread_mutex_lock(&h->mu);
		k->uri_len = strlen(uri);
		pthread_mutex_unlock(&h->mu);
	}
	return NULL;
}

struct gw_conn *gw_http_conn_ready(struct gw_http *h, struct MHD_Connection *c)
{
	struct gw_conn *k = conn_of(c);

	if (k) {
		pthread_mutex_lock(&h->mu);
		k->in_headers = false;
		pthread_mutex_unlock(&h->mu);
	}
	return k;
}

void gw_http_wake(struct gw_http *h)
{
	uint64_t one = 1;

	if (h->wake >= 0 && write(h->wake, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		vg_log(VG_LOG_WARN, "http: cannot wake the watcher");
}

void gw_http_log(void *cls, const char *fmt, va_list ap)
{
	struct gw_http *h = cls;
	uint32_t dropped = 0;
	char msg[256];
	bool ok;

	pthread_mutex_lock(&h->log_mu);
	ok = vg_ratelimit_allow(&h->log_rl, vg_mono_ms(), &dropped);
	pthread_mutex_unlock(&h->log_mu);
	if (dropped)
		vg_log(VG_LOG_WARN, "http: %u messages suppressed", dropped);
	if (!ok || vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0'; /* a truncated message will do */
	vg_log(VG_LOG_WARN, "http: %s", msg);
}

int gw_http_conn_watch(struct gw_http *h, struct gw_conn *k)
{
	struct epoll_event ev = { .events = EPOLLRDHUP | EPOLLET,
				  .data.u64 = k->serial };

	if (k->watched) /* a second stream on a kept-alive connection */
		return VG_OK;
	if (k->fd < 0 || epoll_ctl(h->ep, EPOLL_CTL_ADD, k->fd, &ev) != 0)
		return VG_ERR_IO;
	k->watched = true;
	return VG_OK;
}

/* One record's deadlines: act on those passed, else bring *next closer. */
static void check_conn(struct gw_http *h, struct gw_conn *k, int64_t now,
		       int64_t *next)
{
	int64_t hdr_ms = (int64_t)h->gw->o.http_header_timeout * 1000;
	int64_t due;

	if (k->in_headers && k->fd >= 0) {
		due = k->hdr_since + hdr_ms;
		if (due <= now) {
			k->in_headers = false;
			shutdown(k->fd, SHUT_RDWR); /* the daemon closes it */
		} else if (due < *next) {
			*next = due;
		}
	}
	if (!k->sse || !k->sse->suspended)
		return;
	due = gw_http_sse_due(k->sse, h->cur);
	if (due <= now)
		gw_http_sse_resume(k->sse);
	else if (due < *next)
		*next = due;
}

/*
 * The event of the current generation, built when streams are open and it
 * moved, at most every GW_SSE_MIN_GAP_MS (formatting outside h->mu, so the
 * daemon's thread never waits for it): when to look again.
 */
static int64_t refresh(struct gw_http *h, int64_t now)
{
	unsigned gen = atomic_load(&h->gw->gen);
	struct gw_sse_ev *ev, *old = NULL;
	int64_t at;
	bool need;

	pthread_mutex_lock(&h->mu);
	need = h->streams > 0 && (!h->cur || h->cur->gen != gen);
	at = h->cur ? h->built_at + GW_SSE_MIN_GAP_MS : now;
	pthread_mutex_unlock(&h->mu);
	if (!need)
		return INT64_MAX;
	if (at > now)
		return at;
	ev = gw_http_sse_build(h);
	pthread_mutex_lock(&h->mu);
	h->built_at = now;
	if (ev)
		old = gw_http_sse_install(h, ev);
	pthread_mutex_unlock(&h->mu);
	gw_http_sse_ev_free(old);
	if (!ev)
		vg_log(VG_LOG_ERR, "http: no memory for an event; retrying");
	/* its streams are resumed by the sweep that follows */
	return ev ? INT64_MAX : now + GW_SSE_MIN_GAP_MS;
}

/* Every record's deadlines; returns the nearest one left. */
static int64_t sweep(struct gw_http *h)
{
	int64_t now = vg_mono_ms();
	int64_t next = refresh(h, now);

	if (next > now + WATCH_MAX_SLEEP_MS)
		next = now + WATCH_MAX_SLEEP_MS;
	pthread_mutex_lock(&h->mu);
	for (struct gw_conn *k = h->conns; k; k = k->next)
		check_conn(h, k, now, &next);
	pthread_mutex_unlock(&h->mu);
	return next;
}

/* Streams whose client hung up (serials from epoll): ended at once if
 * they wait, at their next read otherwise (h->mu held). */
static void reap(struct gw_http *h, const uint64_t *hup, int n)
{
	for (struct gw_conn *k = h->conns; k; k = k->next) {
		if (!k->sse)
			continue;
		for (int i = 0; i < n; i++) {
			if (hup[i] != k->serial)
				continue;
			k->sse->gone = true;
			if (k->sse->suspended)
				gw_http_sse_resume(k->sse);
		}
	}
}

static void *watch(void *arg)
{
	struct gw_http *h = arg;
	struct epoll_event evs[WATCH_EVENTS];
	uint64_t hup[WATCH_EVENTS], count;

	while (!atomic_load(&h->stopping)) {
		int64_t wait = sweep(h) - vg_mono_ms();
		int n = epoll_wait(h->ep, evs, WATCH_EVENTS,
				   wait > 0 ? (int)wait : 0);
		int nh = 0;

		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 != 0)
				hup[nh++] = evs[i].data.u64;
			else if (read(h->wake, &count, sizeof(count)) < 0)
				vg_log(VG_LOG_DEBUG, "http: watcher wake-up lost");
		}
		if (nh > 0) {
			pthread_mutex_lock(&h->mu);
			reap(h, hup, nh);
			pthread_mutex_unlock(&h->mu);
		}
	}
	return NULL;
}

int gw_http_watch_start(struct gw_http *h)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

	h->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->ep = epoll_create1(EPOLL_CLOEXEC);
	if (h->wake < 0 || h->ep < 0 ||
	    epoll_ctl(h->ep, EPOLL_CTL_ADD, h->wake, &ev) != 0 ||
	    pthread_create(&h->watcher, NULL, watch, h) != 0)
		return VG_ERR_IO;
	h->watching = true;
	return VG_OK;
}

/* Stop the watcher, then resume every waiting stream (they end: the
 * server is stopping), as libmicrohttpd requires before it stops. */
void gw_http_watch_stop(struct gw_http *h)
{
	atomic_store(&h->stopping, true);
	if (h->watching) {
		gw_http_wake(h);
		pthread_join(h->watcher, NULL);
		h->watching = false;
	}
	pthread_mutex_lock(&h->mu);
	for (struct gw_conn *k = h->conns; k; k = k->next)
		if (k->sse && k->sse->suspended)
			gw_http_sse_resume(k->sse);
	pthread_mutex_unlock(&h->mu);
	/* h->wake and h->ep stay open: the daemon's callbacks may still use
	 * them until it stops (free_http closes them) */
}
