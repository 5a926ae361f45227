/*
 * /api/v1/events: every summary, as one Server-Sent Event, each time the
 * main thread publishes a change (its generation counter moves), at most
 * twice a second, plus a comment every 15 s so that proxies and the
 * connection timeout keep the stream open.  The server runs a thread per
 * connection, so this reader may wait (in 100 ms steps) without holding up
 * anyone else; it ends as soon as the server stops.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_api.h"
#include "gw_http.h"
#include "vigie/timeutil.h"

#define SSE_MIN_GAP_MS 500
#define SSE_BEAT_MS 15000
#define SSE_POLL_MS 100

struct sse {
	struct gw_http *h;
	unsigned sent_gen;
	bool started;
	int64_t last_send, last_beat;
	struct gw_buf out;
	size_t off;
};

static void build_event(struct sse *e)
{
	struct gw_api_snap *snap = malloc(sizeof(*snap));

	gw_buf_free(&e->out);
	e->off = 0;
	if (!snap)
		return;
	gw_api_snapshot(e->h->gw, snap);
	e->sent_gen = snap->gen;
	gw_buf_printf(&e->out, "%sevent: summary\nid: %u\ndata: ",
		      e->started ? "" : "retry: 3000\n", snap->gen);
	gw_api_all_json(snap, &e->out);
	gw_buf_str(&e->out, "\n\n");
	free(snap);
	e->started = true;
}

static void pause_poll(void)
{
	struct timespec ts = { 0, SSE_POLL_MS * 1000000L };
	nanosleep(&ts, NULL);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *e = cls;

	(void)pos;
	for (;;) {
		int64_t now = vg_mono_ms();
		if (e->off < e->out.len) {
			size_t n = e->out.len - e->off;
			n = n < max ? n : max;
			memcpy(buf, e->out.p + e->off, n);
			e->off += n;
			return (ssize_t)n;
		}
		if (atomic_load(&e->h->stopping) || e->out.err)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (!e->started || (atomic_load(&e->h->gw->gen) != e->sent_gen &&
				    now - e->last_send >= SSE_MIN_GAP_MS)) {
			build_event(e);
			e->last_send = e->last_beat = now;
			continue;
		}
		if (now - e->last_beat >= SSE_BEAT_MS) {
			gw_buf_free(&e->out);
			e->off = 0;
			gw_buf_str(&e->out, ": keepalive\n\n");
			e->last_beat = now;
			continue;
		}
		pause_poll();
	}
}

static void sse_free(void *cls)
{
	struct sse *e = cls;

	gw_buf_free(&e->out);
	free(e);
}

struct MHD_Response *gw_http_sse_response(struct gw_http *h)
{
	struct sse *e = calloc(1, sizeof(*e));
	struct MHD_Response *r;

	if (!e)
		return NULL;
	e->h = h;
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read,
					      e, sse_free);
	if (!r)
		free(e);
	return r;
}
