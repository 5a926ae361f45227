/*
 * What libmicrohttpd cannot bound by itself: the time a client may take to
 * send a request's headers (it only has an inactivity timeout, which one
 * byte every few seconds defeats), and noticing that the client of a
 * waiting event stream has hung up (a suspended connection is out of the
 * daemon's loop).  Every connection gets a record (connection callbacks);
 * one watcher thread sleeps in poll() on an eventfd and on the sockets of
 * waiting streams, until the nearest deadline: a header deadline passed
 * shuts the socket down (the daemon then closes it), a hung-up or due
 * stream is resumed.  Records are freed before libmicrohttpd closes the
 * socket, and every use of a record's fd is under h->mu, so the watcher
 * never touches a reused descriptor.
 */
#define _GNU_SOURCE /* POLLRDHUP: the peer closed its end */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gw_http.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/timeutil.h"

#define WATCH_MAX_SLEEP_MS 60000

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
	k->pidx = -1;
	k->in_headers = true;
	k->hdr_since = vg_mono_ms();
	pthread_mutex_lock(&h->mu);
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

/* One record's deadlines: act on those passed, else bring *next closer;
 * true when its socket is to be watched for a hang-up. */
static bool check_conn(struct gw_http *h, struct gw_conn *k, int64_t now,
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
		return false;
	due = gw_http_sse_due(k->sse, atomic_load(&h->gw->gen));
	if (due <= now) {
		gw_http_sse_resume(k->sse);
		return false;
	}
	if (due < *next)
		*next = due;
	return true;
}

/* Fill pfd with the sockets of waiting streams; returns how many. */
static nfds_t plan(struct gw_http *h, struct pollfd *pfd, nfds_t cap,
		   int64_t *next)
{
	int64_t now = vg_mono_ms();
	nfds_t n = 0;

	*next = now + WATCH_MAX_SLEEP_MS;
	for (struct gw_conn *k = h->conns; k; k = k->next) {
		k->pidx = -1;
		if (check_conn(h, k, now, next) && n < cap) {
			pfd[n] = (struct pollfd){ .fd = k->fd,
						  .events = POLLRDHUP };
			k->pidx = (int)n++;
		}
	}
	return n;
}

/* Streams whose client hung up: resumed, to end at once. */
static void reap(struct gw_http *h, const struct pollfd *pfd)
{
	for (struct gw_conn *k = h->conns; k; k = k->next) {
		if (k->pidx < 0 || !k->sse || !k->sse->suspended ||
		    pfd[k->pidx].fd != k->fd ||
		    !(pfd[k->pidx].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			continue;
		k->sse->gone = true;
		gw_http_sse_resume(k->sse);
	}
}

static void *watch(void *arg)
{
	struct gw_http *h = arg;
	nfds_t cap = (nfds_t)h->gw->o.http_max_clients + 1;
	struct pollfd *pfd = calloc(cap + 1, sizeof(*pfd));
	uint64_t count;

	while (pfd && !atomic_load(&h->stopping)) {
		int64_t next;
		nfds_t n;
		pthread_mutex_lock(&h->mu);
		n = plan(h, pfd, cap, &next);
		pthread_mutex_unlock(&h->mu);
		pfd[n] = (struct pollfd){ .fd = h->wake, .events = POLLIN };
		next -= vg_mono_ms();
		if (poll(pfd, n + 1, next > 0 ? (int)next : 0) <= 0)
			continue;
		if ((pfd[n].revents & POLLIN) &&
		    read(h->wake, &count, sizeof(count)) < 0)
			vg_log(VG_LOG_DEBUG, "http: watcher wake-up lost");
		pthread_mutex_lock(&h->mu);
		reap(h, pfd);
		pthread_mutex_unlock(&h->mu);
	}
	if (!pfd)
		vg_log(VG_LOG_ERR, "http: watcher out of memory");
	free(pfd);
	return NULL;
}

int gw_http_watch_start(struct gw_http *h)
{
	h->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->wake < 0 || pthread_create(&h->watcher, NULL, watch, h) != 0)
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
	/* h->wake stays open: the daemon's callbacks may still write to it
	 * until it stops (free_http closes it) */
}
