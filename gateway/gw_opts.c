/*
 * Command-line options of vigie-gateway.  Every option works alone (no
 * config file needed); secrets can come from files, which must not be
 * readable by others.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/qcdate.h"
#include "vigie/secret.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: vigie-gateway [options]\n"
"\n"
"Subscribes to every Vigie unit and agent on an MQTT broker, keeps exact\n"
"counts per program x region against the targets, and publishes retained\n"
"summaries on vigie/v1/summary/{program}/{region|all}.\n"
"\n"
"  --broker HOST:PORT      broker address (default 127.0.0.1:1883); give it\n"
"                          again, or a comma-separated list, for failover:\n"
"                          on any failure the next one, in turn (at most\n"
"                          8; an IPv6 address as [ADDR]:PORT)\n"
"  --username NAME         MQTT user name\n"
"  --password-file FILE    MQTT password, first line of FILE (mode 0600)\n"
"  --password PASS         MQTT password (visible in ps: prefer a file)\n"
"  --cafile FILE           enable TLS, verifying the broker against FILE\n"
"  --cert FILE --key FILE  TLS client certificate and key\n"
"  --id ID                 gateway id (default: central)\n"
"  --prefix PREFIX         topic prefix before vigie/v1 (default: none)\n"
"  --data-dir DIR          SQLite store directory (default: .)\n"
"  --targets FILE          targets file adding fiscal years (see docs)\n"
"  --inventory FILE        the sites, their regions and units (see\n"
"                          docs/protocol.md); refuse anything not listed\n"
"  --sites FILE            the same (older name; SITE REGION lines work)\n"
"  --site-cap N            units a site without a unit list may have\n"
"                          (default 10000)\n"
"  --keepalive S           MQTT keepalive in seconds (default 30)\n"
"  --coalesce-ms N         summary coalescing delay (default 200)\n"
"  --history-interval S    seconds between history points (default 300)\n"
"  --today DATE|INSTANT    hold targets as of DATE (YYYY-MM-DD) in Quebec,\n"
"                          or of the Quebec date at INSTANT (RFC 3339 UTC:\n"
"                          2025-04-01T00:30:00Z is still 2025-03-31 there);\n"
"                          default: today in Quebec\n"
"  --log-level LEVEL       error, warn, info or debug (default info)\n"
"  --http [ADDR:]PORT      serve the dashboard, JSON API and /metrics\n"
"                          (read-only; ADDR defaults to 127.0.0.1)\n"
"  --http-token-file FILE  require this Bearer token (mode 0600)\n"
"  --http-cert FILE --http-key FILE  serve HTTPS\n"
"  --http-max-clients N    HTTP connections in all (default 256)\n"
"  --http-max-per-ip N     connections per client address (default 16;\n"
"                          0: no limit, e.g. behind a reverse proxy)\n"
"  --http-max-streams N    event streams, fewer than --http-max-clients\n"
"                          (default 3/4 of it)\n"
"  --http-header-timeout S seconds to send a request's headers (default 10)\n"
"  --http-idle-timeout S   close HTTP connections silent this long\n"
"                          (default 30)\n"
"  --projection-days N     projection fit window in days (default 30)\n"
"  --help, --version\n"
"\n"
"       vigie-gateway report [--as-of DATE] [--program P]\n"
"                            [--format table|csv|json] [--lang fr|en]\n"
"                            [--data-dir DIR] [--targets FILE]\n"
"  prints each region's state as of the end of DATE from the store\n"
"  (no broker needed); see vigie-gateway report --help.\n");
}

/* The first line of a secret file that only its owner can read. */
static int read_secret(const char *path, const char *what, char *dst,
		       size_t size)
{
	char err[512];
	int rc = vg_secret_read_line(path, what, dst, size, err, sizeof(err));

	if (rc != VG_OK)
		fprintf(stderr, "vigie-gateway: %s\n", err);
	return rc;
}

/* A private key others can read is refused, as secrets files are. */
static int check_key(const char *path, const char *what)
{
	char err[512];
	int rc = vg_secret_check(path, what, err, sizeof(err));

	if (rc != VG_OK)
		fprintf(stderr, "vigie-gateway: %s\n", err);
	return rc;
}

/*
 * --broker HOST:PORT[,HOST:PORT...], repeatable: appended to the failover
 * list.  Returns NULL or the error, in a buffer of this file's (options
 * are parsed once, before any thread).
 */
static const char *parse_broker(struct gw_opts *o, const char *arg)
{
	static char err[320];
	char why[200];
	int n = o->nbrokers;
	bool bad = vg_broker_list_parse(arg, o->brokers, &o->nbrokers,
					VG_BROKERS_MAX, why, sizeof(why)) != VG_OK;

	for (int i = n; !bad && i < o->nbrokers; i++) {
		bad = o->brokers[i].port == 0;
		if (bad)
			snprintf(why, sizeof(why), "address %d '%s' has no "
				 "port", i - n + 1, o->brokers[i].host);
	}
	if (bad) {
		snprintf(err, sizeof(err), "--broker %s: %s (want HOST:PORT, "
			 "IPv6 as [ADDR]:PORT, a list split by commas)", arg,
			 why);
		o->nbrokers = n;
	}
	return bad ? err : NULL;
}

void gw_opts_brokers(const struct gw_opts *o, char *buf, size_t size)
{
	char addr[VG_BROKER_ADDR_MAX];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < o->nbrokers && len < size; i++) {
		vg_broker_format(&o->brokers[i], addr, sizeof(addr));
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? ", " : "", addr);
	}
}

/* No --broker: this machine's; a broker given twice is a slip. */
static int check_brokers(struct gw_opts *o)
{
	char why[200];
	int rc;

	if (o->nbrokers == 0) {
		snprintf(o->brokers[0].host, sizeof(o->brokers[0].host),
			 "127.0.0.1");
		o->brokers[0].port = 1883;
		o->nbrokers = 1;
	}
	rc = vg_broker_list_finish(o->brokers, o->nbrokers, 1883, why,
				   sizeof(why));
	if (rc != VG_OK)
		fprintf(stderr, "vigie-gateway: --broker: %s\n", why);
	return rc == VG_OK ? VG_OK : VG_ERR_INVAL;
}

/* "[ADDR:]PORT"; ADDR may be an IPv6 literal in brackets. */
static int parse_http(struct gw_opts *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	const char *host = "127.0.0.1", *port = arg;
	size_t hl = strlen(host);
	char *end = NULL;
	long n;

	if (colon) {
		host = arg;
		hl = (size_t)(colon - arg);
		port = colon + 1;
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			host++;
			hl -= 2;
		}
	}
	n = strtol(port, &end, 10);
	if (!*port || *end || n < 1 || n > 65535 || hl == 0 ||
	    hl >= sizeof(o->http_host))
		return VG_ERR_INVAL;
	memcpy(o->http_host, host, hl);
	o->http_host[hl] = '\0';
	o->http_port = (int)n;
	o->http = true;
	return VG_OK;
}

static int parse_int(const char *arg, int min, int max, int *out)
{
	char *end = NULL;
	long v = strtol(arg, &end, 10);

	if (!*arg || *end || v < min || v > max)
		return VG_ERR_INVAL;
	*out = (int)v;
	return VG_OK;
}

enum {
	O_BROKER = 256, O_USER, O_PWFILE, O_PW, O_CAFILE, O_CERT, O_KEY, O_ID,
	O_PREFIX, O_DATADIR, O_TARGETS, O_SITES, O_COALESCE, O_HISTORY, O_TODAY,
	O_LOGLEVEL, O_KEEPALIVE, O_HTTP, O_HTTP_TOKEN, O_HTTP_CERT, O_HTTP_KEY,
	O_HTTP_CLIENTS, O_HTTP_PER_IP, O_HTTP_STREAMS, O_HTTP_HDR_TO,
	O_HTTP_IDLE_TO, O_PROJ_DAYS, O_SITE_CAP, O_HELP, O_VERSION
};

static const struct option longopts[] = {
	{ "broker", required_argument, NULL, O_BROKER },
	{ "username", required_argument, NULL, O_USER },
	{ "password-file", required_argument, NULL, O_PWFILE },
	{ "password", required_argument, NULL, O_PW },
	{ "cafile", required_argument, NULL, O_CAFILE },
	{ "cert", required_argument, NULL, O_CERT },
	{ "key", required_argument, NULL, O_KEY },
	{ "id", required_argument, NULL, O_ID },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "data-dir", required_argument, NULL, O_DATADIR },
	{ "targets", required_argument, NULL, O_TARGETS },
	{ "sites", required_argument, NULL, O_SITES },
	{ "coalesce-ms", required_argument, NULL, O_COALESCE },
	{ "history-interval", required_argument, NULL, O_HISTORY },
	{ "today", required_argument, NULL, O_TODAY },
	{ "log-level", required_argument, NULL, O_LOGLEVEL },
	{ "keepalive", required_argument, NULL, O_KEEPALIVE },
	{ "http", required_argument, NULL, O_HTTP },
	{ "http-token-file", required_argument, NULL, O_HTTP_TOKEN },
	{ "http-cert", required_argument, NULL, O_HTTP_CERT },
	{ "http-key", required_argument, NULL, O_HTTP_KEY },
	{ "http-max-clients", required_argument, NULL, O_HTTP_CLIENTS },
	{ "http-max-per-ip", required_argument, NULL, O_HTTP_PER_IP },
	{ "http-max-streams", required_argument, NULL, O_HTTP_STREAMS },
	{ "http-header-timeout", required_argument, NULL, O_HTTP_HDR_TO },
	{ "http-idle-timeout", required_argument, NULL, O_HTTP_IDLE_TO },
	{ "projection-days", required_argument, NULL, O_PROJ_DAYS },
	{ "inventory", required_argument, NULL, O_SITES },
	{ "site-cap", required_argument, NULL, O_SITE_CAP },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 }
};

/* --today: a Quebec date, or the Quebec date of an instant in UTC. */
static const char *parse_today(const char *arg, struct vg_date *d)
{
	int64_t t;

	if (vg_date_parse(arg, d) == VG_OK)
		return NULL;
	if (vg_time_parse(arg, strlen(arg), &t) != VG_OK)
		return "--today wants YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
	return vg_qc_date_of(t, d) == VG_OK
		       ? NULL
		       : "--today: cannot read the time zone " VG_QC_ZONE;
}

/* One option; returns an error message or NULL. */
static const char *one_opt(struct gw_opts *o, int c, const char *arg)
{
	int lvl;

	switch (c) {
	case O_BROKER:
		return parse_broker(o, arg);
	case O_USER:
		snprintf(o->username, sizeof(o->username), "%s", arg);
		return NULL;
	case O_PWFILE:
		return read_secret(arg, "--password-file", o->password,
				   sizeof(o->password))
			       ? "cannot use --password-file" : NULL;
	case O_PW:
		snprintf(o->password, sizeof(o->password), "%s", arg);
		return NULL;
	case O_CAFILE: o->cafile = arg; return NULL;
	case O_CERT: o->certfile = arg; return NULL;
	case O_KEY: o->keyfile = arg; return NULL;
	case O_ID:
		if (!vg_ident_valid(arg, strlen(arg)))
			return "--id must be 1-48 characters of A-Za-z0-9._-";
		snprintf(o->id, sizeof(o->id), "%s", arg);
		return NULL;
	case O_PREFIX:
		if (!vg_prefix_valid(arg))
			return "--prefix must be identifier segments split by /";
		snprintf(o->prefix, sizeof(o->prefix), "%s", arg);
		return NULL;
	case O_DATADIR: o->data_dir = arg; return NULL;
	case O_TARGETS: o->targets_file = arg; return NULL;
	case O_SITES: o->sites_file = arg; return NULL;
	case O_COALESCE:
		return parse_int(arg, 0, 60000, &o->coalesce_ms)
			       ? "--coalesce-ms wants 0..60000" : NULL;
	case O_KEEPALIVE:
		return parse_int(arg, 5, 3600, &o->keepalive)
			       ? "--keepalive wants 5..3600 seconds" : NULL;
	case O_HISTORY:
		return parse_int(arg, 1, 86400, &o->history_s)
			       ? "--history-interval wants 1..86400" : NULL;
	case O_TODAY:
		o->has_today = true;
		return parse_today(arg, &o->today);
	case O_HTTP:
		return parse_http(o, arg) ? "--http wants [ADDR:]PORT" : NULL;
	case O_HTTP_TOKEN:
		o->http_token_file = arg;
		if (read_secret(arg, "--http-token-file", o->http_token,
				sizeof(o->http_token)))
			return "cannot use --http-token-file";
		return o->http_token[0] ? NULL : "--http-token-file is empty";
	case O_HTTP_CERT: o->http_cert = arg; return NULL;
	case O_HTTP_KEY: o->http_key = arg; return NULL;
	case O_SITE_CAP:
		return parse_int(arg, 1, 1000000, &o->site_cap)
			       ? "--site-cap wants 1..1000000 units" : NULL;
	case O_HTTP_CLIENTS:
		return parse_int(arg, 2, 10000, &o->http_max_clients)
			       ? "--http-max-clients wants 2..10000" : NULL;
	case O_HTTP_PER_IP:
		return parse_int(arg, 0, 10000, &o->http_max_per_ip)
			       ? "--http-max-per-ip wants 0..10000" : NULL;
	case O_HTTP_STREAMS:
		return parse_int(arg, 0, 9999, &o->http_max_streams)
			       ? "--http-max-streams wants 0..9999" : NULL;
	case O_HTTP_HDR_TO:
		return parse_int(arg, 1, 3600, &o->http_header_timeout)
			       ? "--http-header-timeout wants 1..3600" : NULL;
	case O_HTTP_IDLE_TO:
		return parse_int(arg, 1, 3600, &o->http_idle_timeout)
			       ? "--http-idle-timeout wants 1..3600" : NULL;
	case O_PROJ_DAYS:
		return parse_int(arg, 1, 3650, &o->projection_days)
			       ? "--projection-days wants 1..3650" : NULL;
	case O_LOGLEVEL:
		lvl = vg_log_level_parse(arg);
		if (lvl < 0)
			return "--log-level wants error, warn, info or debug";
		vg_log_set_level((enum vg_log_level)lvl);
		return NULL;
	default:
		return "unknown option (see --help)";
	}
}

static int check_http(struct gw_opts *o);

int gw_opts_parse(struct gw_opts *o, int argc, char **argv)
{
	int c;

	memset(o, 0, sizeof(*o));
	snprintf(o->id, sizeof(o->id), "central");
	o->data_dir = ".";
	o->coalesce_ms = 200;
	o->store_ms = 200;
	o->history_s = 300;
	o->sync_timeout_ms = 10000;
	o->keepalive = 30;
	o->projection_days = 30;
	o->site_cap = GW_SITE_CAP_DEFAULT;
	o->http_max_clients = 256;
	o->http_max_per_ip = 16;
	o->http_max_streams = -1; /* 3/4 of the connections unless given */
	o->http_header_timeout = 10;
	o->http_idle_timeout = 30;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		const char *err;
		if (c == O_HELP) {
			usage(stdout);
			exit(0);
		}
		if (c == O_VERSION) {
			printf("vigie-gateway %s\n", VG_VERSION);
			exit(0);
		}
		err = one_opt(o, c, optarg);
		if (err) {
			fprintf(stderr, "vigie-gateway: %s\n", err);
			return VG_ERR_INVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vigie-gateway: unexpected argument '%s'\n",
			argv[optind]);
		return VG_ERR_INVAL;
	}
	if ((o->certfile != NULL) != (o->keyfile != NULL)) {
		fprintf(stderr, "vigie-gateway: --cert and --key go together\n");
		return VG_ERR_INVAL;
	}
	if (o->keyfile && check_key(o->keyfile, "--key") != VG_OK)
		return VG_ERR_INVAL;
	if (check_brokers(o) != VG_OK)
		return VG_ERR_INVAL;
	return check_http(o);
}

/* Streams must leave connections for everyone else (/healthz, the API). */
static int check_http(struct gw_opts *o)
{
	if (o->http_max_streams < 0)
		o->http_max_streams = o->http_max_clients * 3 / 4;
	if (o->http_max_streams >= o->http_max_clients) {
		fprintf(stderr, "vigie-gateway: --http-max-streams must be"
				" below --http-max-clients\n");
		return VG_ERR_INVAL;
	}
	if ((o->http_cert != NULL) != (o->http_key != NULL)) {
		fprintf(stderr,
			"vigie-gateway: --http-cert and --http-key go together\n");
		return VG_ERR_INVAL;
	}
	return VG_OK;
}
