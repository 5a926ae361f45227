/*
 * Command-line options of vigie-gateway.  Every option works alone (no
 * config file needed); secrets can come from files, which must not be
 * readable by others.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway.h"
#include "gw_opts.h"
#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/qcdate.h"
#include "vigie/secret.h"
#include "vigie/str.h"

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
"  --broker-kind KIND      mosquitto (default) or nats: on a NATS\n"
"                          JetStream cluster the gateway reads the\n"
"                          retained state twice before it says synced\n"
"                          (docs/scale-out.md)\n"
"  --resync-interval S     read every retained unit again each S seconds\n"
"                          once synced, to mend live deliveries a broker\n"
"                          lost (default 600 with --broker-kind nats,\n"
"                          0: never, the default with mosquitto)\n"
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
"  --http-max-clients N    HTTP connections in all (default 1280)\n"
"  --http-max-per-ip N     connections per client address (default 16;\n"
"                          0: no limit, e.g. behind a reverse proxy)\n"
"  --http-max-streams N    event streams, fewer than --http-max-clients\n"
"                          (default 4/5 of it)\n"
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
		vg_strlcpy(o->brokers[0].host, "127.0.0.1",
			   sizeof(o->brokers[0].host));
		o->brokers[0].port = 1883;
		o->nbrokers = 1;
	}
	rc = vg_broker_list_finish(o->brokers, o->nbrokers, 1883, why,
				   sizeof(why));
	if (rc != VG_OK)
		fprintf(stderr, "vigie-gateway: --broker: %s\n", why);
	return rc == VG_OK ? VG_OK : VG_ERR_INVAL;
}

/* A TCP port, 1..65535. */
static int parse_port(const char *arg, int *port)
{
	long long n;
	int rc = vg_int_parse(arg, 1, 65535, &n);

	if (rc == VG_OK)
		*port = (int)n;
	return rc;
}

/* "[ADDR:]PORT"; ADDR may be an IPv6 literal in brackets. */
static int parse_http(struct gw_opts *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	const char *host = "127.0.0.1", *port = arg;
	size_t hl = strlen(host);

	if (colon) {
		host = arg;
		hl = (size_t)(colon - arg);
		port = colon + 1;
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			host++;
			hl -= 2;
		}
	}
	if (hl == 0 || parse_port(port, &o->http_port) != VG_OK ||
	    !vg_strslice(o->http_host, sizeof(o->http_host), host, hl))
		return VG_ERR_INVAL;
	o->http = true;
	return VG_OK;
}

enum {
	O_BROKER = 256, O_USER, O_PWFILE, O_PW, O_CAFILE, O_CERT, O_KEY, O_ID,
	O_PREFIX, O_DATADIR, O_TARGETS, O_SITES, O_COALESCE, O_HISTORY, O_TODAY,
	O_LOGLEVEL, O_KEEPALIVE, O_HTTP, O_HTTP_TOKEN, O_HTTP_CERT, O_HTTP_KEY,
	O_HTTP_CLIENTS, O_HTTP_PER_IP, O_HTTP_STREAMS, O_HTTP_HDR_TO,
	O_HTTP_IDLE_TO, O_PROJ_DAYS, O_SITE_CAP, O_BROKER_KIND, O_RESYNC, O_HELP,
	O_VERSION
};

static const struct option longopts[] = {
	{ "broker", required_argument, NULL, O_BROKER },
	{ "broker-kind", required_argument, NULL, O_BROKER_KIND },
	{ "resync-interval", required_argument, NULL, O_RESYNC },
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

/*
 * The options that take a bounded integer and where each goes; the error
 * message is made from the option's name and its range.
 */
#define INT_OPT(o, lo, hi, field, unit) \
	{ o, lo, hi, offsetof(struct gw_opts, field), unit }
static const struct int_opt {
	int opt;
	int min, max;
	size_t off; /* of the int in struct gw_opts */
	const char *unit;
} int_opts[] = {
	INT_OPT(O_COALESCE, 0, 60000, coalesce_ms, ""),
	INT_OPT(O_KEEPALIVE, 5, 3600, keepalive, " seconds"),
	INT_OPT(O_HISTORY, 1, 86400, history_s, ""),
	INT_OPT(O_RESYNC, 0, 86400, resync_s, " seconds"),
	INT_OPT(O_SITE_CAP, 1, 1000000, site_cap, " units"),
	INT_OPT(O_HTTP_CLIENTS, 2, 10000, http_max_clients, ""),
	INT_OPT(O_HTTP_PER_IP, 0, 10000, http_max_per_ip, ""),
	INT_OPT(O_HTTP_STREAMS, 0, 9999, http_max_streams, ""),
	INT_OPT(O_HTTP_HDR_TO, 1, 3600, http_header_timeout, ""),
	INT_OPT(O_HTTP_IDLE_TO, 1, 3600, http_idle_timeout, ""),
	INT_OPT(O_PROJ_DAYS, 1, 3650, projection_days, ""),
};

static const char *opt_name(int c)
{
	for (const struct option *l = longopts; l->name; l++)
		if (l->val == c)
			return l->name;
	return "?";
}

/*
 * An integer option of int_opts; false when c is not one.  *err is NULL,
 * or "--NAME wants MIN..MAX" in msg (size bytes).
 */
static bool int_opt(struct gw_opts *o, int c, const char *arg,
		    const char **err, char *msg, size_t size)
{
	for (size_t i = 0; i < sizeof(int_opts) / sizeof(int_opts[0]); i++) {
		const struct int_opt *t = &int_opts[i];
		long long n;

		if (t->opt != c)
			continue;
		*err = NULL;
		if (vg_int_parse(arg, t->min, t->max, &n) == VG_OK) {
			*(int *)(void *)((char *)o + t->off) = (int)n;
		} else {
			snprintf(msg, size, "--%s wants %d..%d%s", opt_name(c),
				 t->min, t->max, t->unit);
			*err = msg;
		}
		return true;
	}
	return false;
}

/* A text option into dst when ok; otherwise why (NULL: accepted). */
static const char *set_text(char *dst, size_t size, const char *arg, bool ok,
			    const char *why)
{
	if (!ok)
		return why;
	vg_strlcpy(dst, arg, size);
	return NULL;
}

int gw_opts_walk(int argc, char **argv, const struct option *lo,
		 const char *who, gw_opt_fn one, void *ctx)
{
	const char *err = NULL;
	int c;

	optind = 1;
	while (!err && (c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		err = one(ctx, c, optarg);
	if (!err && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", who,
			argv[optind]);
		return VG_ERR_INVAL;
	}
	if (err)
		fprintf(stderr, "%s: %s\n", who, err);
	return err ? VG_ERR_INVAL : VG_OK;
}

/* One option; returns an error message or NULL (exits for --help and
 * --version). */
static const char *one_opt(void *ctx, int c, const char *arg)
{
	static char msg[96]; /* options are parsed once, on one thread */
	struct gw_opts *o = ctx;
	const char *err = NULL;
	int lvl;

	if (int_opt(o, c, arg, &err, msg, sizeof(msg)))
		return err;
	switch (c) {
	case O_HELP:
		usage(stdout);
		exit(0);
	case O_VERSION:
		printf("vigie-gateway %s\n", VG_VERSION);
		exit(0);
	case O_BROKER:
		return parse_broker(o, arg);
	case O_BROKER_KIND:
		o->nats = strcmp(arg, "nats") == 0;
		return o->nats || strcmp(arg, "mosquitto") == 0
			       ? NULL : "--broker-kind wants mosquitto or nats";
	case O_USER:
		return set_text(o->username, sizeof(o->username), arg, true,
				NULL);
	case O_PWFILE:
		return read_secret(arg, "--password-file", o->password,
				   sizeof(o->password))
			       ? "cannot use --password-file" : NULL;
	case O_PW:
		return set_text(o->password, sizeof(o->password), arg, true,
				NULL);
	case O_CAFILE: o->cafile = arg; return NULL;
	case O_CERT: o->certfile = arg; return NULL;
	case O_KEY: o->keyfile = arg; return NULL;
	case O_ID:
		return set_text(o->id, sizeof(o->id), arg,
				vg_ident_valid(arg, strlen(arg)),
				"--id must be 1-48 characters of A-Za-z0-9._-");
	case O_PREFIX:
		return set_text(o->prefix, sizeof(o->prefix), arg,
				vg_prefix_valid(arg),
				"--prefix must be identifier segments split by /");
	case O_DATADIR: o->data_dir = arg; return NULL;
	case O_TARGETS: o->targets_file = arg; return NULL;
	case O_SITES: o->sites_file = arg; return NULL;
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
	*o = (struct gw_opts){
		.id = "central",
		.data_dir = ".", .coalesce_ms = 200, .store_ms = 200,
		.history_s = 300, .sync_timeout_ms = 10000, .keepalive = 30,
		.projection_days = 30, .site_cap = GW_SITE_CAP_DEFAULT,
		/* room for 1,000 dashboards, and 256 connections besides */
		.http_max_clients = 1280, .http_max_per_ip = 16,
		.http_max_streams = -1, /* 4/5 of the connections unless given */
		.http_header_timeout = 10, .http_idle_timeout = 30,
		.resync_s = -1, /* 600 on NATS, 0 on mosquitto unless given */
	};
	if (gw_opts_walk(argc, argv, longopts, "vigie-gateway", one_opt, o) !=
	    VG_OK)
		return VG_ERR_INVAL;
	if ((o->certfile != NULL) != (o->keyfile != NULL)) {
		fprintf(stderr, "vigie-gateway: --cert and --key go together\n");
		return VG_ERR_INVAL;
	}
	if (o->keyfile && check_key(o->keyfile, "--key") != VG_OK)
		return VG_ERR_INVAL;
	if (check_brokers(o) != VG_OK)
		return VG_ERR_INVAL;
	if (o->resync_s < 0)
		o->resync_s = o->nats ? GW_RESYNC_NATS_S : 0;
	return check_http(o);
}

/* Streams must leave connections for everyone else (/healthz, the API). */
static int check_http(struct gw_opts *o)
{
	if (o->http_max_streams < 0)
		o->http_max_streams = o->http_max_clients * 4 / 5;
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
