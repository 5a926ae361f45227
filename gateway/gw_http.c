/*
 * The NOC's HTTP side (--http): the dashboard, the JSON API, /metrics and
 * /healthz, served from libmicrohttpd's own event loop (one thread, epoll
 * on Linux): a connection costs a socket and a memory pool, not a thread,
 * and event streams wait suspended (gw_http_sse.c).  Handlers never hold
 * up the MQTT ingest, nor the loop for long: they copy a snapshot under
 * the lock and format it outside.  Bounds (docs/http.md): connections in
 * all and per client address, event streams, header and idle timeouts,
 * URI and header sizes, answered through queue() like every response.
 * Read-only by construction: only GET and HEAD are accepted.  Optional
 * Bearer token (--http-token-file; browsers may give it as the Basic-auth
 * password) and TLS (--http-cert/--http-key).
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "gw_api.h"
#include "gw_http.h"
#include "vigie/err.h"
#include "vigie/file.h"
#include "vigie/ident.h"
#include "vigie/log.h"
#include "vigie/region.h"
#include "vigie/secret.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

/* Our own request size limits, inside the memory pool, so that
 * libmicrohttpd never answers 414/431 itself (its pages lack our
 * headers).  The pool is small because libmicrohttpd writes zeros over
 * half of it once a request is in: that half is the bulk of what an open
 * event stream costs (docs/http.md, A thousand dashboards). */
#define URI_MAX 2048
#define HEADERS_MAX 8192
#define CONN_MEMORY ((intptr_t)16 * 1024)
#define UNITS_LIMIT_MAX 1000
#define HISTORY_POINTS_MAX 5000
#define PEM_MAX ((size_t)1 << 20) /* a certificate chain, or a key */
/* descriptors besides HTTP connections: store, broker, logs, the daemon's
 * own (listen socket, epoll, pipes), the watcher's */
#define FD_RESERVE 128
#define TIME_WANTED "want RFC 3339 UTC, YYYY-MM-DD or Unix seconds," \
		    " in the years 0000..9999"

static const char *const csp =
	"default-src 'self'; script-src 'self'; style-src 'self'; "
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
	"base-uri 'none'; form-action 'none'";

/* Every response, whatever its status: its type and caching, the same
 * hardening headers, sent. */
static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *r, const char *type,
			     const char *cache)
{
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", cache);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status,
				const char *type, struct gw_buf *b)
{
	struct MHD_Response *r;

	if (b->err) { /* out of memory, or a value that would not format */
		gw_buf_free(b);
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	}
	if (b->p)
		r = MHD_create_response_from_buffer(b->len, b->p,
						    MHD_RESPMEM_MUST_FREE);
	else
		r = MHD_create_response_from_buffer(0, (void *)"",
						    MHD_RESPMEM_PERSISTENT);
	if (!r) {
		gw_buf_free(b);
		return MHD_NO;
	}
	return queue(c, status, r, type, "no-store");
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
				  const char *msg)
{
	struct gw_buf b = { 0 };

	gw_buf_str(&b, "{\"error\":");
	gw_buf_json(&b, msg);
	gw_buf_str(&b, "}");
	return send_buf(c, status, "application/json", &b);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* Optional integer argument in [min, max]; false when malformed. */
static bool arg_long(struct MHD_Connection *c, const char *name, long min,
		     long max, long *out)
{
	const char *v = arg(c, name);
	long long n;

	if (!v)
		return true;
	if (vg_int_parse(v, min, max, &n) != VG_OK)
		return false;
	*out = (long)n;
	return true;
}

/*
 * Optional program/region/state argument into *out, -1 when absent (any);
 * false when it is there but not a word of parse's vocabulary.
 */
static bool arg_enum(struct MHD_Connection *c, const char *name,
		     int (*parse)(const char *, size_t), int *out)
{
	const char *v = arg(c, name);

	*out = -1;
	if (!v || !*v)
		return true;
	*out = parse(v, strlen(v));
	return *out >= 0;
}

/*
 * A time argument: RFC 3339 UTC, a date (its start, UTC) or Unix seconds,
 * within the years 0000..9999 that the answer can write back.
 */
static bool arg_time(struct MHD_Connection *c, const char *name, int64_t *t)
{
	const char *v = arg(c, name);
	struct vg_date d;
	long long n;

	if (!v)
		return true;
	if (vg_time_parse(v, strlen(v), t) == VG_OK)
		return true;
	if (vg_date_parse(v, &d) == VG_OK) {
		*t = vg_days_from_civil(d.y, d.m, d.d) * 86400;
		return true;
	}
	if (vg_int_parse(v, VG_TIME_MIN, VG_TIME_MAX, &n) != VG_OK)
		return false;
	*t = n;
	return true;
}

/*
 * A document read from the store over db (closed here; NULL: it could not
 * be opened) with rc the reader's result: a 503 when the database failed,
 * saying `what` if it failed mid-read, else b (a 500 if b itself failed).
 */
static enum MHD_Result send_db_doc(struct MHD_Connection *c, sqlite3 *db,
				   int rc, struct gw_buf *b, const char *what)
{
	sqlite3_close(db);
	if (rc != VG_OK && !b->err) {
		gw_buf_free(b);
		return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
				  db ? what : "database unavailable");
	}
	return send_buf(c, MHD_HTTP_OK, "application/json", b);
}

static enum MHD_Result summary_one(struct gw_http *h, struct MHD_Connection *c,
				   const char *rest)
{
	const char *slash = strchr(rest, '/');
	struct gw_api_snap snap;
	struct gw_buf b = { 0 };
	int p, r;

	if (!slash)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such summary");
	p = vg_program_parse(rest, (size_t)(slash - rest));
	r = vg_region_parse_or_all(slash + 1, strlen(slash + 1));
	if (p < 0 || r < 0)
		return send_error(c, MHD_HTTP_NOT_FOUND, "no such summary");
	gw_api_snapshot(h->gw, &snap);
	gw_api_summary_json(&snap, p, r, &b);
	return send_buf(c, MHD_HTTP_OK, "application/json", &b);
}

static enum MHD_Result history(struct gw_http *h, struct MHD_Connection *c)
{
	int p, r;
	int64_t from = 0, to = vg_now();
	long points = 500;
	struct gw_buf b = { 0 };
	sqlite3 *db;
	int rc;

	if (!arg_time(c, "from", &from))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "from: " TIME_WANTED);
	if (!arg_time(c, "to", &to))
		return send_error(c, MHD_HTTP_BAD_REQUEST, "to: " TIME_WANTED);
	if (!arg_enum(c, "program", vg_program_parse, &p) || p < 0 ||
	    !arg_enum(c, "region", vg_region_parse_or_all, &r) ||
	    !arg_long(c, "points", 2, HISTORY_POINTS_MAX, &points))
		return send_error(c, MHD_HTTP_BAD_REQUEST,
				  "want program=renir|rgt, region=01..17|all,"
				  " points=2..5000");
	db = gw_store_open_ro(h->gw->o.data_dir);
	rc = db ? gw_api_history_json(db, p, r < 0 ? VG_REGION_ALL : r, from,
				      to, points, &b)
		: VG_ERR_IO;
	return send_db_doc(c, db, rc, &b, "history unavailable");
}

static enum MHD_Result units(struct gw_http *h, struct MHD_Connection *c)
{
	struct gw_unit_query q = { .offset = 0, .limit = 100 };
	struct gw_buf b = { 0 };
	sqlite3 *db;
	int rc;

	q.site = arg(c, "site");
	if (!arg_enum(c, "program", vg_program_parse, &q.program) ||
	    !arg_enum(c, "region", vg_region_parse, &q.region) ||
	    !arg_enum(c, "state", vg_state_parse, &q.state) ||
	    (q.site && !vg_ident_valid(q.site, strlen(q.site))) ||
	    !arg_long(c, "offset", 0, 1L << 30, &q.offset) ||
	    !arg_long(c, "limit", 1, UNITS_LIMIT_MAX, &q.limit))
		return send_error(c, MHD_HTTP_BAD_REQUEST,
				  "want program=renir|rgt, region=01..17,"
				  " site, state, offset>=0, limit=1..1000");
	db = gw_store_open_ro(h->gw->o.data_dir);
	rc = db ? gw_api_db_units(db, &q, &b) : VG_ERR_IO;
	return send_db_doc(c, db, rc, &b, "units unavailable");
}

/* The per-site families (agent presence and health) of /metrics. */
static void site_metrics(struct gw_http *h, struct gw_buf *b)
{
	struct gw_sites_snap ss;

	if (gw_api_sites_snapshot(h->gw, 0, &ss) != VG_OK)
		gw_buf_fail(b);
	else
		gw_metrics_sites_text(&ss, b);
	gw_api_sites_free(&ss);
}

/* /api/v1/sites[?region=RR]: every site, its presence and agent health. */
static enum MHD_Result sites(struct gw_http *h, struct MHD_Connection *c)
{
	struct gw_sites_snap ss;
	struct gw_buf b = { 0 };
	int region;

	if (!arg_enum(c, "region", vg_region_parse, &region))
		return send_error(c, MHD_HTTP_BAD_REQUEST,
				  "want at most region=01..17");
	if (gw_api_sites_snapshot(h->gw, region < 0 ? 0 : region, &ss) !=
	    VG_OK || gw_api_sites_json(&ss, &b) != VG_OK)
		gw_buf_fail(&b);
	gw_api_sites_free(&ss);
	return send_buf(c, MHD_HTTP_OK, "application/json", &b);
}

static enum MHD_Result snapshot_doc(struct gw_http *h,
				    struct MHD_Connection *c, int which)
{
	struct gw_api_snap *snap = malloc(sizeof(*snap));
	struct gw_buf b = { 0 };
	unsigned status = MHD_HTTP_OK;

	if (!snap)
		return send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "memory");
	gw_api_snapshot(h->gw, snap);
	if (which == 0) {
		gw_api_all_json(snap, &b);
	} else if (which == 1) {
		gw_metrics_text(snap, &b);
		site_metrics(h, &b);
	} else if (!gw_api_health_json(snap, &b)) {
		status = MHD_HTTP_SERVICE_UNAVAILABLE;
	}
	free(snap);
	return send_buf(c, status,
			which == 1 ? "text/plain; version=0.0.4; charset=utf-8"
				   : "application/json", &b);
}

static enum MHD_Result asset(struct MHD_Connection *c, const char *url)
{
	const struct gw_asset *a = gw_http_asset(url);
	struct MHD_Response *r;

	if (!a)
		return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
	r = MHD_create_response_from_buffer(a->len, (void *)a->data,
					    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	return queue(c, MHD_HTTP_OK, r, a->type, "no-cache");
}

/* An error with one more header (Allow, WWW-Authenticate, Retry-After). */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status,
			      const char *hdr, const char *value,
			      const char *msg)
{
	struct gw_buf b = { 0 };
	struct MHD_Response *r;

	gw_buf_str(&b, "{\"error\":");
	gw_buf_json(&b, msg);
	gw_buf_str(&b, "}");
	if (b.err) {
		gw_buf_free(&b);
		return MHD_NO;
	}
	r = MHD_create_response_from_buffer(b.len, b.p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		gw_buf_free(&b);
		return MHD_NO;
	}
	MHD_add_response_header(r, hdr, value);
	return queue(c, status, r, "application/json", "no-store");
}

static enum MHD_Result events(struct gw_http *h, struct MHD_Connection *c)
{
	bool full;
	struct MHD_Response *r = gw_http_sse_response(h, c, &full);

	if (full)
		return refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "Retry-After",
			      "10", "too many event streams");
	if (!r)
		return MHD_NO;
	return queue(c, MHD_HTTP_OK, r, "text/event-stream", "no-store");
}

/* The first query argument whose name is not in allowed (NULL-terminated). */
struct unknown_arg {
	const char *const *allowed;
	char first[64];
};

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind,
				    const char *key, const char *value)
{
	struct unknown_arg *u = cls;

	(void)kind; (void)value;
	for (const char *const *a = u->allowed; *a; a++)
		if (strcmp(*a, key) == 0)
			return MHD_YES;
	vg_strlcpy(u->first, key, sizeof(u->first));
	return MHD_NO;
}

/* The query parameters each /api/v1 endpoint takes (NULL-terminated). */
static const char *const *api_params(const char *url)
{
	static const char *const none[] = { NULL };
	static const char *const hist[] = { "program", "region", "from", "to",
					    "points", NULL };
	static const char *const unit[] = { "program", "region", "site",
					    "state", "offset", "limit", NULL };
	static const char *const site[] = { "region", NULL };

	if (strcmp(url, "/api/v1/history") == 0)
		return hist;
	if (strcmp(url, "/api/v1/units") == 0)
		return unit;
	if (strcmp(url, "/api/v1/sites") == 0)
		return site;
	return none;
}

/*
 * A parameter an endpoint does not know is a 400: a mistyped filter
 * (?sit=, ?regoin=) must not read as the unfiltered list.
 */
static bool unknown_param(struct MHD_Connection *c, const char *url,
			  char *msg, size_t len)
{
	struct unknown_arg u = { .allowed = api_params(url) };

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, find_unknown, &u);
	if (!u.first[0])
		return false;
	snprintf(msg, len, "unknown query parameter: %s", u.first);
	return true;
}

static enum MHD_Result route(struct gw_http *h, struct MHD_Connection *c,
			     const char *url)
{
	static const char sum[] = "/api/v1/summary/";
	char msg[128];

	if (strncmp(url, "/api/v1/", 8) == 0 &&
	    unknown_param(c, url, msg, sizeof(msg)))
		return send_error(c, MHD_HTTP_BAD_REQUEST, msg);
	if (strcmp(url, "/api/v1/summary") == 0)
		return snapshot_doc(h, c, 0);
	if (strncmp(url, sum, sizeof(sum) - 1) == 0)
		return summary_one(h, c, url + sizeof(sum) - 1);
	if (strcmp(url, "/api/v1/history") == 0)
		return history(h, c);
	if (strcmp(url, "/api/v1/units") == 0)
		return units(h, c);
	if (strcmp(url, "/api/v1/sites") == 0)
		return sites(h, c);
	if (strcmp(url, "/api/v1/events") == 0)
		return events(h, c);
	if (strcmp(url, "/metrics") == 0)
		return snapshot_doc(h, c, 1);
	return asset(c, url);
}

/* Same length and bytes, in time independent of where they differ. */
static bool token_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

static bool authorized(struct gw_http *h, struct MHD_Connection *c)
{
	const char *tok = h->gw->o.http_token;
	const char *hdr;
	char *user, *pass = NULL;
	bool ok;

	if (!*tok)
		return true;
	hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					  MHD_HTTP_HEADER_AUTHORIZATION);
	if (hdr && strncmp(hdr, "Bearer ", 7) == 0)
		return token_equal(hdr + 7, tok);
	/* a browser cannot add a Bearer header to a page load: it may give
	 * the token as the Basic-auth password (any user name) instead */
	user = MHD_basic_auth_get_username_password(c, &pass);
	ok = pass && token_equal(pass, tok);
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

static enum MHD_Result add_len(void *cls, enum MHD_ValueKind kind, const char *key,
		   const char *value)
{
	size_t *sum = cls;

	(void)kind;
	*sum += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
	return MHD_YES;
}

/* 414 or 431 past our limits, or 0: the request is of a size we serve. */
static unsigned too_big(struct gw_http *h, struct MHD_Connection *c)
{
	struct gw_conn *k = gw_http_conn_ready(h, c);
	size_t headers = 0, uri = 0;

	if (k) {
		pthread_mutex_lock(&h->mu);
		uri = k->uri_len;
		pthread_mutex_unlock(&h->mu);
	}
	if (uri > URI_MAX)
		return MHD_HTTP_URI_TOO_LONG;
	MHD_get_connection_values(c, MHD_HEADER_KIND, add_len, &headers);
	return headers > HEADERS_MAX ? MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE
				     : 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **req)
{
	struct gw_http *h = cls;
	unsigned big = too_big(h, c);

	(void)version;
	(void)upload;
	(void)req;
	*upload_size = 0; /* nothing here takes a body */
	if (big)
		return send_error(c, big, big == MHD_HTTP_URI_TOO_LONG
				  ? "URI longer than 2048 bytes"
				  : "headers longer than 8192 bytes");
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Allow",
			      "GET, HEAD", "read-only: GET and HEAD only");
	if (strcmp(url, "/healthz") == 0)
		return snapshot_doc(h, c, 2);
	if (!authorized(h, c))
		return refuse(c, MHD_HTTP_UNAUTHORIZED, "WWW-Authenticate",
			      "Basic realm=\"Vigie\", charset=\"UTF-8\"",
			      "a valid Bearer token is required");
	return route(h, c, url);
}

/* Read a whole PEM file; keys must not be readable by others. */
static char *read_pem(const char *path, bool secret)
{
	char err[512];
	char *buf = NULL;
	size_t n = 0;

	int rc = secret ? vg_secret_check(path, "--http-key", err,
					  sizeof(err))
			: VG_OK;

	if (rc == VG_OK)
		rc = vg_file_read(path, PEM_MAX, &buf, &n, err, sizeof(err));
	if (rc != VG_OK)
		vg_log(VG_LOG_ERR, "http: %s", err);
	return buf;
}

/*
 * libmicrohttpd's own loop (MHD_USE_AUTO: epoll on Linux) with
 * suspend/resume for event streams; its limits, timeouts and callbacks.
 */
static struct MHD_Daemon *start_daemon(struct gw_http *h,
				       const struct sockaddr *sa, int family)
{
	const struct gw_opts *o = &h->gw->o;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	struct MHD_OptionItem ops[] = {
		/* first, so that every message goes through it */
		{ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)gw_http_log, h },
		{ MHD_OPTION_SOCK_ADDR, 0, (void *)sa },
		{ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->max_clients, NULL },
		{ MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->http_max_per_ip, NULL },
		{ MHD_OPTION_CONNECTION_TIMEOUT, o->http_idle_timeout, NULL },
		{ MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONN_MEMORY, NULL },
		{ MHD_OPTION_NOTIFY_CONNECTION,
		  (intptr_t)gw_http_conn_notify, h },
		{ MHD_OPTION_NOTIFY_COMPLETED,
		  (intptr_t)gw_http_conn_completed, h },
		{ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)gw_http_conn_uri, h },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key },
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert },
		{ MHD_OPTION_END, 0, NULL }
	};

	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert)
		flags |= MHD_USE_TLS;
	else /* no key, no cert */
		ops[sizeof(ops) / sizeof(ops[0]) - 3].option = MHD_OPTION_END;
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, h,
				MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
}

static int load_tls(struct gw_http *h, const struct gw_opts *o)
{
	if (!o->http_cert)
		return VG_OK;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		vg_log(VG_LOG_ERR, "http: this libmicrohttpd has no TLS");
		return VG_ERR_INVAL;
	}
	h->tls_cert = read_pem(o->http_cert, false);
	h->tls_key = read_pem(o->http_key, true);
	return (h->tls_cert && h->tls_key) ? VG_OK : VG_ERR_IO;
}

/*
 * Room for every connection the options allow: the soft limit on open
 * files (often 1024) raised up to the hard one.  Past the hard limit,
 * fewer connections and streams, said in the log: libmicrohttpd would
 * otherwise stop accepting at the limit, every new client then waiting
 * for a stream to end.
 */
static void fit_fd_limit(struct gw_http *h, const struct gw_opts *o)
{
	rlim_t want = (rlim_t)o->http_max_clients + FD_RESERVE;
	struct rlimit rl;
	unsigned room;

	h->max_clients = (unsigned)o->http_max_clients;
	h->max_streams = (unsigned)o->http_max_streams;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 && getrlimit(RLIMIT_NOFILE,
							    &rl) != 0)
		return;
	if (rl.rlim_cur >= want)
		return;
	room = rl.rlim_cur > FD_RESERVE + 2 ? (unsigned)(rl.rlim_cur -
							 FD_RESERVE) : 2;
	h->max_clients = room;
	if (h->max_streams >= room)
		h->max_streams = room * 4 / 5;
	vg_log(VG_LOG_WARN, "http: %lu open files allowed (hard limit), not"
	       " the %lu that --http-max-clients %d needs: at most %u"
	       " connections and %u event streams", (unsigned long)rl.rlim_cur,
	       (unsigned long)want, o->http_max_clients, h->max_clients,
	       h->max_streams);
}

static void free_http(struct gw_http *h)
{
	if (h->wake >= 0)
		close(h->wake);
	if (h->ep >= 0)
		close(h->ep);
	gw_http_sse_ev_free(h->cur);
	pthread_mutex_destroy(&h->mu);
	pthread_mutex_destroy(&h->log_mu);
	free(h->tls_key);
	free(h->tls_cert);
	free(h);
}

int gw_http_start(struct gateway *gw)
{
	const struct gw_opts *o = &gw->o;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE };
	struct addrinfo *ai = NULL;
	struct gw_http *h;
	char port[8];
	int rc;

	if (!o->http)
		return VG_OK;
	h = calloc(1, sizeof(*h));
	if (!h)
		return VG_ERR_NOMEM;
	h->gw = gw;
	h->wake = -1;
	h->ep = -1;
	fit_fd_limit(h, o);
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->log_mu, NULL);
	vg_ratelimit_init(&h->log_rl, 60000, 10);
	rc = load_tls(h, o);
	if (rc != VG_OK)
		goto out;
	snprintf(port, sizeof(port), "%d", o->http_port);
	if (getaddrinfo(o->http_host, port, &hints, &ai) != 0 || !ai) {
		vg_log(VG_LOG_ERR, "http: cannot resolve %s", o->http_host);
		rc = VG_ERR_INVAL;
		goto out;
	}
	rc = gw_http_watch_start(h);
	if (rc == VG_OK)
		h->d = start_daemon(h, ai->ai_addr, ai->ai_family);
	freeaddrinfo(ai);
	if (!h->d) {
		gw_http_watch_stop(h);
		vg_log(VG_LOG_ERR, "http: cannot listen on %s:%d", o->http_host,
		       o->http_port);
		rc = VG_ERR_IO;
		goto out;
	}
	gw->http = h;
	vg_log(VG_LOG_INFO, "http: dashboard at %s://%s%s%s:%d/",
	       h->tls_cert ? "https" : "http",
	       strchr(o->http_host, ':') ? "[" : "", o->http_host,
	       strchr(o->http_host, ':') ? "]" : "", o->http_port);
out:
	if (rc != VG_OK)
		free_http(h);
	return rc;
}

void gw_http_stop(struct gateway *gw)
{
	struct gw_http *h = gw->http;
	MHD_socket ls;

	if (!h)
		return;
	ls = MHD_quiesce_daemon(h->d); /* no new connection from here */
	gw_http_watch_stop(h);    /* waiting streams resumed, to end */
	MHD_stop_daemon(h->d);
	/* ours now, closed once the daemon's thread no longer watches it */
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	free_http(h);
	gw->http = NULL;
}

void gw_http_notify(struct gateway *gw)
{
	if (gw->http)
		gw_http_wake(gw->http);
}
