/*
 * Internals of the HTTP server shared by its files: the daemon's state,
 * the record kept per connection (gw_http_conn.c), the embedded dashboard
 * assets (generated at build time from gateway/www/ by
 * gateway/www_embed.py) and the Server-Sent Events stream.
 */
#ifndef VIGIE_GW_HTTP_H
#define VIGIE_GW_HTTP_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>

#include <microhttpd.h>

#include "gateway.h"
#include "gw_api.h"

struct gw_sse;

/* Events never follow each other closer than this, whatever the
 * generation does (the gateway's --coalesce-ms normally spaces them). */
#define GW_SSE_MIN_GAP_MS 200

/* One open connection, from accept to close; fields guarded by h->mu. */
struct gw_conn {
	struct gw_conn *prev, *next;
	int fd;
	uint64_t serial;   /* names it to the watcher's epoll: never reused */
	bool watched;      /* its fd is in the watcher's epoll */
	bool in_headers;   /* waiting for a request's headers */
	int64_t hdr_since; /* monotonic ms: since when */
	size_t uri_len;    /* request line's URI, as sent */
	struct gw_sse *sse; /* the event stream it carries, or NULL */
};

/*
 * One formatted event (the whole summary document), built once per
 * generation and sent as the same bytes by every stream: streams hold a
 * reference while they send it.  refs guarded by h->mu; b read-only once
 * published in h->cur.
 */
struct gw_sse_ev {
	unsigned refs;
	unsigned gen;
	struct gw_buf b;
};

/* An event stream; flags, links and ev's references guarded by h->mu, the
 * rest owned by the daemon's thread. */
struct gw_sse {
	struct gw_http *h;
	struct MHD_Connection *c;
	struct gw_conn *conn;  /* NULL once the connection is closed */
	bool suspended;        /* waiting, out of the daemon's loop */
	bool gone;             /* the client hung up */
	bool started;          /* its retry line is out */
	bool sent_any;         /* sent_gen is meaningful */
	unsigned sent_gen;     /* generation of the last event it took */
	int64_t last_beat;     /* monotonic ms: when it last queued bytes */
	struct gw_sse_ev *ev;  /* the event it sends (a reference), or NULL */
	const char *p;         /* bytes being sent: ev's, or a fixed line */
	size_t len, off;
};

struct gw_http {
	struct gateway *gw;
	struct MHD_Daemon *d;
	atomic_bool stopping;
	char *tls_key, *tls_cert; /* PEM, alive as long as the daemon */
	unsigned max_clients;     /* --http-max-clients, as the fd limit allows */
	unsigned max_streams;     /* --http-max-streams, likewise */
	pthread_mutex_t mu;
	struct gw_conn *conns;    /* every open connection */
	uint64_t serials;         /* the last connection's serial */
	unsigned streams;         /* open event streams */
	struct gw_sse_ev *cur;    /* the newest event (a reference), or NULL */
	int64_t built_at;         /* monotonic ms: when cur was built */
	int wake;                 /* eventfd: wakes the watcher */
	int ep;                   /* the watcher's epoll: wake, streams' hang-ups */
	pthread_t watcher;
	bool watching;
	pthread_mutex_t log_mu;   /* guards log_rl only */
	struct vg_ratelimit log_rl; /* libmicrohttpd's messages */
};

struct gw_asset {
	const char *path;  /* "/", "/app.js"... */
	const char *type;  /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* The asset served at path, or NULL. (generated file) */
const struct gw_asset *gw_http_asset(const char *path);

/*
 * A response streaming summaries as Server-Sent Events on c; NULL on
 * failure or when --http-max-streams are open (*full is then set).
 */
struct MHD_Response *gw_http_sse_response(struct gw_http *h,
					  struct MHD_Connection *c,
					  bool *full);
/* A new event for the current generation, built outside h->mu (the
 * caller installs it); NULL when out of memory. */
struct gw_sse_ev *gw_http_sse_build(struct gw_http *h);
/* Make ev the current event (h->mu held); returns the one it replaces if
 * that was its last reference, for the caller to free outside the lock. */
struct gw_sse_ev *gw_http_sse_install(struct gw_http *h, struct gw_sse_ev *ev);
/* Free an event returned by install or by dropping a last reference. */
void gw_http_sse_ev_free(struct gw_sse_ev *ev);
/* Monotonic ms at which a waiting stream has something to send, given
 * the current event (h->mu held); 0: now. */
int64_t gw_http_sse_due(const struct gw_sse *e, const struct gw_sse_ev *cur);
/* Put a waiting stream back into the daemon's loop (h->mu held). */
void gw_http_sse_resume(struct gw_sse *e);

/* gw_http_conn.c: the daemon's connection callbacks and the watcher. */
void gw_http_conn_notify(void *cls, struct MHD_Connection *c,
			 void **socket_context,
			 enum MHD_ConnectionNotificationCode code);
void gw_http_conn_completed(void *cls, struct MHD_Connection *c, void **req,
			    enum MHD_RequestTerminationCode code);
void *gw_http_conn_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* The record of c (NULL if none); headers are complete: stop their clock. */
struct gw_conn *gw_http_conn_ready(struct gw_http *h, struct MHD_Connection *c);
/* Wake the watcher: something to (re)consider. */
void gw_http_wake(struct gw_http *h);
/* Watch a stream's socket for a hang-up (h->mu held): VG_OK or VG_ERR_IO. */
int gw_http_conn_watch(struct gw_http *h, struct gw_conn *k);
/* libmicrohttpd's messages into our log, rate-limited (a flood of refused
 * connections would write a line each). */
void gw_http_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Start the thread that watches event streams: VG_OK or VG_ERR_IO. */
int gw_http_watch_start(struct gw_http *h);
void gw_http_watch_stop(struct gw_http *h);

#endif
