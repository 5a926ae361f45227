/*
 * /api/v1/events: every summary, as one Server-Sent Event, each time the
 * main thread publishes a change (its generation counter moves), at most
 * twice a second, plus a comment every 15 s so that proxies keep the
 * stream open.  A stream costs no thread and never polls: with nothing to
 * send, its reader suspends the connection (out of the daemon's loop) and
 * the watcher (gw_http_conn.c) resumes it when the generation moves, when
 * a beat is due, or when the client hangs up.  At most --http-max-streams
 * are open, fewer than the server's connections, so streams never take
 * every slot.
 */
#include <stdlib.h>
#include <string.h>

#include "gw_http.h"
#include "vigie/timeutil.h"

#define SSE_MIN_GAP_MS 500
#define SSE_BEAT_MS 15000

static void build_event(struct gw_sse *e)
{
	struct gw_api_snap *snap = malloc(sizeof(*snap));

	gw_buf_free(&e->out);
	e->off = 0;
	if (!snap) {
		gw_buf_fail(&e->out);
		return;
	}
	gw_api_snapshot(e->h->gw, snap);
	e->sent_gen = snap->gen;
	gw_buf_printf(&e->out, "%sevent: summary\nid: %u\ndata: ",
		      e->started ? "" : "retry: 3000\n", snap->gen);
	gw_api_all_json(snap, &e->out);
	gw_buf_str(&e->out, "\n\n");
	free(snap);
	e->started = true;
}

int64_t gw_http_sse_due(const struct gw_sse *e, unsigned gen)
{
	int64_t beat = e->last_beat + SSE_BEAT_MS;
	int64_t change = e->last_send + SSE_MIN_GAP_MS;

	return (gen != e->sent_gen && change < beat) ? change : beat;
}

void gw_http_sse_resume(struct gw_sse *e)
{
	e->suspended = false;
	MHD_resume_connection(e->c);
}

/* Fill out with what is due now; false when nothing is. */
static bool next_chunk(struct gw_sse *e, int64_t now)
{
	if (!e->started || gw_http_sse_due(e, atomic_load(&e->h->gw->gen)) <=
				   now) {
		if (!e->started || atomic_load(&e->h->gw->gen) != e->sent_gen) {
			build_event(e);
			e->last_send = now;
		} else {
			gw_buf_free(&e->out);
			e->off = 0;
			gw_buf_str(&e->out, ": keepalive\n\n");
		}
		e->last_beat = now;
		return true;
	}
	return false;
}

/* Nothing to send: wait out of the loop, unless the generation moved
 * meanwhile (checked under h->mu, which the watcher takes to resume). */
static ssize_t wait_or_end(struct gw_sse *e)
{
	ssize_t ret = 0;

	pthread_mutex_lock(&e->h->mu);
	if (e->gone || atomic_load(&e->h->stopping)) {
		ret = MHD_CONTENT_READER_END_OF_STREAM; /* the daemon closes */
	} else {
		e->suspended = true;
		MHD_suspend_connection(e->c);
	}
	pthread_mutex_unlock(&e->h->mu);
	if (ret == 0)
		gw_http_wake(e->h);
	return ret;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct gw_sse *e = cls;
	size_t n;

	(void)pos;
	if (atomic_load(&e->h->stopping) || e->out.err)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (e->off >= e->out.len && !next_chunk(e, vg_mono_ms()))
		return wait_or_end(e);
	if (e->out.err)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = e->out.len - e->off;
	n = n < max ? n : max;
	memcpy(buf, e->out.p + e->off, n);
	e->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct gw_sse *e = cls;

	pthread_mutex_lock(&e->h->mu);
	if (e->conn)
		e->conn->sse = NULL;
	e->h->streams--;
	pthread_mutex_unlock(&e->h->mu);
	gw_buf_free(&e->out);
	free(e);
}

/* Count a new stream and link it to its connection, unless full. */
static bool admit(struct gw_http *h, struct gw_sse *e, struct gw_conn *k)
{
	bool ok;

	pthread_mutex_lock(&h->mu);
	/* without its record, a stream's hang-up could not be seen */
	ok = k && h->streams < (unsigned)h->gw->o.http_max_streams;
	if (ok) {
		h->streams++;
		e->conn = k;
		k->sse = e;
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

struct MHD_Response *gw_http_sse_response(struct gw_http *h,
					  struct MHD_Connection *c,
					  bool *full)
{
	struct gw_sse *e = calloc(1, sizeof(*e));
	struct MHD_Response *r = NULL;

	*full = false;
	if (!e)
		return NULL;
	e->h = h;
	e->c = c;
	if (!admit(h, e, gw_http_conn_ready(h, c))) {
		*full = true;
		free(e);
		return NULL;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read,
					      e, sse_free);
	if (!r)
		sse_free(e);
	return r;
}
