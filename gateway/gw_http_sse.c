/*
 * /api/v1/events: every summary, as one Server-Sent Event, each time the
 * main thread publishes a change (its generation counter moves; the
 * gateway's --coalesce-ms already spaces those), at most every
 * GW_SSE_MIN_GAP_MS, plus a comment every 15 s so that proxies keep the
 * stream open.  An event is formatted once per generation, by the watcher
 * (gw_http_conn.c), and every stream sends those same bytes: a thousand
 * viewers cost one snapshot and one document, not a thousand.  A stream
 * costs no thread and never polls: with nothing to send, its reader
 * suspends the connection (out of the daemon's loop) and the watcher
 * resumes it when a new event is out, when a beat is due, or when the
 * client hangs up.  What a stream holds of its own is small (the event is
 * shared, and its bytes go out SSE_CHUNK_MAX at a time, so that the
 * connection's buffer never grows to a document's size: docs/http.md,
 * A thousand dashboards).  At most --http-max-streams are open, fewer
 * than the server's connections, so streams never take every slot.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_http.h"
#include "vigie/err.h"
#include "vigie/timeutil.h"

#define SSE_BEAT_MS 15000
/* what the daemon copies of a stream at a time: 8 KiB fits in the half
 * of the connection's pool that libmicrohttpd has zeroed anyway, so costs
 * no memory more than 2 KiB would (measured), in a quarter of the sends;
 * unbounded, its buffer grows past that half (18 KiB per stream, not 14) */
#define SSE_CHUNK_MAX 8192
/* the response's own buffer: unused by a chunked stream, kept small */
#define SSE_BLOCK 256

static const char retry_line[] = "retry: 3000\n\n";
static const char beat_line[] = ": keepalive\n\n";

struct gw_sse_ev *gw_http_sse_build(struct gw_http *h)
{
	struct gw_api_snap *snap = malloc(sizeof(*snap));
	struct gw_sse_ev *ev = calloc(1, sizeof(*ev));

	if (!snap || !ev)
		goto fail;
	gw_api_snapshot(h->gw, snap);
	ev->gen = snap->gen;
	gw_buf_printf(&ev->b, "event: summary\nid: %u\ndata: ", snap->gen);
	gw_api_all_json(snap, &ev->b);
	gw_buf_str(&ev->b, "\n\n");
	if (ev->b.err)
		goto fail;
	free(snap);
	return ev;
fail:
	free(snap);
	gw_http_sse_ev_free(ev);
	return NULL;
}

void gw_http_sse_ev_free(struct gw_sse_ev *ev)
{
	if (ev) {
		gw_buf_free(&ev->b);
		free(ev);
	}
}

/* Drop a reference (h->mu held); the event if that was the last. */
static struct gw_sse_ev *ev_put(struct gw_sse_ev *ev)
{
	return (ev && --ev->refs == 0) ? ev : NULL;
}

struct gw_sse_ev *gw_http_sse_install(struct gw_http *h, struct gw_sse_ev *ev)
{
	struct gw_sse_ev *old = h->cur;

	ev->refs = 1; /* h->cur's */
	h->cur = ev;
	return ev_put(old);
}

/* The current event, if this stream has yet to send it: a new stream
 * waits for one of the current generation rather than show an old state. */
static bool wants(const struct gw_sse *e, const struct gw_sse_ev *cur)
{
	if (!cur)
		return false;
	if (!e->sent_any)
		return cur->gen == atomic_load(&e->h->gw->gen);
	return cur->gen != e->sent_gen;
}

int64_t gw_http_sse_due(const struct gw_sse *e, const struct gw_sse_ev *cur)
{
	if (e->gone || wants(e, cur))
		return 0;
	return e->last_beat + SSE_BEAT_MS;
}

void gw_http_sse_resume(struct gw_sse *e)
{
	e->suspended = false;
	MHD_resume_connection(e->c);
}

static void send_line(struct gw_sse *e, const char *line, size_t len)
{
	e->p = line;
	e->len = len;
	e->off = 0;
}

/*
 * What to send next, under h->mu (which the watcher takes to resume, so
 * that no new event slips between this look and the suspension): 1 when
 * e->p holds it, 0 when the stream now waits suspended, or end of stream.
 */
static ssize_t next_chunk(struct gw_sse *e)
{
	struct gw_http *h = e->h;
	struct gw_sse_ev *drop;
	int64_t now = vg_mono_ms();
	ssize_t ret = 1;

	pthread_mutex_lock(&h->mu);
	drop = ev_put(e->ev);
	e->ev = NULL;
	send_line(e, NULL, 0);
	if (e->gone || atomic_load(&h->stopping)) {
		ret = MHD_CONTENT_READER_END_OF_STREAM; /* the daemon closes */
	} else if (!e->started) {
		send_line(e, retry_line, sizeof(retry_line) - 1);
		e->started = true;
	} else if (wants(e, h->cur)) {
		e->ev = h->cur;
		e->ev->refs++;
		e->sent_any = true;
		e->sent_gen = e->ev->gen;
		send_line(e, e->ev->b.p, e->ev->b.len);
	} else if (now >= e->last_beat + SSE_BEAT_MS) {
		send_line(e, beat_line, sizeof(beat_line) - 1);
	} else {
		e->suspended = true;
		MHD_suspend_connection(e->c);
		ret = 0;
	}
	if (ret > 0)
		e->last_beat = now;
	pthread_mutex_unlock(&h->mu);
	gw_http_sse_ev_free(drop);
	return ret;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_sse *e = cls;
	ssize_t ret;
	size_t n;

	(void)pos;
	if (e->off >= e->len) {
		ret = next_chunk(e);
		if (ret <= 0)
			return ret;
	}
	n = e->len - e->off;
	n = n < max ? n : max;
	n = n < SSE_CHUNK_MAX ? n : SSE_CHUNK_MAX;
	memcpy(buf, e->p + e->off, n);
	e->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct gw_sse *e = cls;
	struct gw_sse_ev *drop;

	pthread_mutex_lock(&e->h->mu);
	if (e->conn)
		e->conn->sse = NULL;
	e->h->streams--;
	drop = ev_put(e->ev);
	pthread_mutex_unlock(&e->h->mu);
	gw_http_sse_ev_free(drop);
	free(e);
}

/*
 * Count a new stream, link it to its connection and watch its socket:
 * VG_OK, VG_ERR_BUSY past --http-max-streams, VG_ERR_IO when its hang-up
 * could not be watched (without its record, or out of epoll room).
 */
static int admit(struct gw_http *h, struct gw_sse *e, struct gw_conn *k)
{
	int rc = VG_OK;

	pthread_mutex_lock(&h->mu);
	if (!k)
		rc = VG_ERR_IO;
	else if (h->streams >= h->max_streams)
		rc = VG_ERR_BUSY;
	else
		rc = gw_http_conn_watch(h, k);
	if (rc == VG_OK) {
		h->streams++;
		e->conn = k;
		k->sse = e;
	}
	pthread_mutex_unlock(&h->mu);
	if (rc == VG_OK)
		gw_http_wake(h); /* an event may have to be built for it */
	return rc;
}

struct MHD_Response *gw_http_sse_response(struct gw_http *h,
					  struct MHD_Connection *c,
					  bool *full)
{
	struct gw_sse *e = calloc(1, sizeof(*e));
	struct MHD_Response *r = NULL;
	int rc;

	*full = false;
	if (!e)
		return NULL;
	e->h = h;
	e->c = c;
	rc = admit(h, e, gw_http_conn_ready(h, c));
	if (rc != VG_OK) {
		*full = rc == VG_ERR_BUSY;
		free(e);
		return NULL;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK,
					      sse_read, e, sse_free);
	if (!r)
		sse_free(e);
	return r;
}
