/*
 * Agent presence codec: birth/will payloads on vigie/v1/agent/{site}, with
 * the per-connection session that orders them and the agent's health.
 */
#include <string.h>

#include "json.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

enum {
	F_V, F_SITE, F_REGION, F_ONLINE, F_VERSION, F_BOARD, F_UNITS, F_TS,
	F_SESSION, F_OUTBOX, F_OLDEST, F_DEV_OK, F_DEV_FAIL, F_REFUSED,
	F_HASH
};

static const char *const fields[] = {
	"v", "site", "region", "online", "version", "board", "units", "ts",
	"session", "outbox", "oldest_unacked_s", "devices_ok",
	"devices_failing", "refused", "config_hash", NULL
};

/* Units one agent may report; the decoder and the encoder share it. */
#define UNITS_MAX 1000000
/* Health counters are bounded so that a gauge never overflows a double. */
#define COUNT_MAX 1000000000LL

#define REQUIRED ((1u << F_V) | (1u << F_SITE) | (1u << F_REGION) | \
		  (1u << F_ONLINE))

void vg_health_clear(struct vg_health *h)
{
	h->outbox = h->oldest_unacked_s = h->devices_ok = -1;
	h->devices_failing = h->refused = -1;
	h->config_hash[0] = '\0';
}

static bool hex_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > VG_HASH_MAX)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

static enum vg_reject health_field(int f, const cJSON *it,
				   struct vg_health *h)
{
	int64_t *dst[] = {
		[F_OUTBOX] = &h->outbox, [F_OLDEST] = &h->oldest_unacked_s,
		[F_DEV_OK] = &h->devices_ok, [F_DEV_FAIL] = &h->devices_failing,
		[F_REFUSED] = &h->refused,
	};

	if (f == F_HASH) {
		if (!vg_json_text(it, h->config_hash, sizeof(h->config_hash)))
			return VG_REJ_TYPE;
		return hex_ok(h->config_hash) ? VG_REJ_NONE : VG_REJ_TYPE;
	}
	return vg_json_range(it, 0, COUNT_MAX, dst[f]);
}

static enum vg_reject text_field(const cJSON *it, char *dst, size_t size)
{
	return vg_json_text(it, dst, size) ? VG_REJ_NONE : VG_REJ_TYPE;
}

/* "v" is checked by vg_json_decode_fields. */
static enum vg_reject one_field(int f, const cJSON *it, void *out)
{
	struct vg_presence *o = out;

	switch (f) {
	case F_SITE:
		return vg_json_ident(it, o->site, sizeof(o->site));
	case F_REGION:
		return vg_json_enum(it, vg_region_parse, VG_REJ_REGION,
				    &o->region);
	case F_ONLINE:
		return vg_json_bool(it, &o->online);
	case F_VERSION:
		return text_field(it, o->version, sizeof(o->version));
	case F_BOARD:
		return text_field(it, o->board, sizeof(o->board));
	case F_UNITS:
		return vg_json_range(it, 0, UNITS_MAX, &o->units);
	case F_TS:
		return vg_json_time(it, &o->ts);
	case F_SESSION:
		return vg_json_range(it, 1, VG_SEQ_MAX, &o->session);
	default:
		return health_field(f, it, &o->health);
	}
}

enum vg_reject vg_presence_decode(const char *payload, size_t len,
				  const struct vg_topic *topic,
				  struct vg_presence *out)
{
	enum vg_reject r;

	/* absent health members read as unknown, not 0: out is prepared
	 * here, not zeroed by the decoder (size 0) */
	memset(out, 0, sizeof(*out));
	vg_health_clear(&out->health);
	r = vg_json_decode_fields(payload, len, fields, REQUIRED, one_field,
				  out, 0);
	return r != VG_REJ_NONE ? r
		: vg_json_topic_site(topic, VG_TOPIC_AGENT, out->site);
}

static bool health_valid(const struct vg_health *h)
{
	const int64_t v[] = { h->outbox, h->oldest_unacked_s, h->devices_ok,
			      h->devices_failing, h->refused };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] < -1 || v[i] > COUNT_MAX)
			return false;
	return !h->config_hash[0] || hex_ok(h->config_hash);
}

/* The health members that are present, in the order of the table. */
static void encode_health(struct vg_jw *w, const struct vg_health *h)
{
	const int64_t v[] = { h->outbox, h->oldest_unacked_s, h->devices_ok,
			      h->devices_failing, h->refused };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (v[i] >= 0)
			vg_jw_printf(w, ",\"%s\":%lld", fields[F_OUTBOX + i],
				     (long long)v[i]);
	if (h->config_hash[0])
		vg_jw_printf(w, ",\"config_hash\":\"%s\"", h->config_hash);
}

int vg_presence_encode(const struct vg_presence *pr, char *buf, size_t size)
{
	char ts[VG_TIME_LEN];
	struct vg_jw w;

	/* refuse anything vg_presence_decode would reject */
	if (!vg_ident_valid(pr->site, strlen(pr->site)) || pr->region < 1 ||
	    pr->region > VG_REGION_COUNT || pr->units < 0 ||
	    pr->units > UNITS_MAX || pr->session < 0 ||
	    pr->session > VG_SEQ_MAX || !health_valid(&pr->health) ||
	    !vg_utf8_valid(pr->version, strlen(pr->version)) ||
	    !vg_utf8_valid(pr->board, strlen(pr->board)) ||
	    vg_time_format(pr->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w, "{\"v\":1,\"site\":\"%s\",\"region\":\"%s\","
			 "\"online\":%s,",
		     pr->site, vg_region_code(pr->region),
		     pr->online ? "true" : "false");
	if (pr->session > 0)
		vg_jw_printf(&w, "\"session\":%lld,", (long long)pr->session);
	vg_jw_raw(&w, "\"version\":");
	vg_jw_string(&w, pr->version);
	vg_jw_raw(&w, ",\"board\":");
	vg_jw_string(&w, pr->board);
	vg_jw_printf(&w, ",\"units\":%lld,\"ts\":\"%s\"", (long long)pr->units,
		     ts);
	encode_health(&w, &pr->health);
	vg_jw_raw(&w, "}");
	return vg_jw_finish(&w);
}
