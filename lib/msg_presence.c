/* Agent presence codec: birth/will payloads on vigie/v1/agent/{site}. */
#include <string.h>

#include "json.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

enum { F_V, F_SITE, F_REGION, F_ONLINE, F_VERSION, F_BOARD, F_UNITS, F_TS };

static const char *const fields[] = {
	"v", "site", "region", "online", "version", "board", "units", "ts",
	NULL
};

/* Units one agent may report; the decoder and the encoder share it. */
#define UNITS_MAX 1000000

#define REQUIRED ((1u << F_V) | (1u << F_SITE) | (1u << F_REGION) | \
		  (1u << F_ONLINE))

static enum vg_reject one_field(int f, const cJSON *it, void *out)
{
	struct vg_presence *o = out;
	int64_t n;

	switch (f) {
	case F_V:
		if (!vg_json_int(it, 0, 1000, &n))
			return VG_REJ_TYPE;
		return n == 1 ? VG_REJ_NONE : VG_REJ_VERSION;
	case F_SITE:
		if (!cJSON_IsString(it))
			return VG_REJ_TYPE;
		if (!vg_ident_valid(it->valuestring, strlen(it->valuestring)))
			return VG_REJ_IDENT;
		vg_strlcpy(o->site, it->valuestring, sizeof(o->site));
		return VG_REJ_NONE;
	case F_REGION:
		if (!cJSON_IsString(it))
			return VG_REJ_TYPE;
		o->region = vg_region_parse(it->valuestring,
					    strlen(it->valuestring));
		return o->region < 0 ? VG_REJ_REGION : VG_REJ_NONE;
	case F_ONLINE:
		if (!cJSON_IsBool(it))
			return VG_REJ_TYPE;
		o->online = cJSON_IsTrue(it);
		return VG_REJ_NONE;
	case F_VERSION:
		return vg_json_text(it, o->version, sizeof(o->version))
			       ? VG_REJ_NONE : VG_REJ_TYPE;
	case F_BOARD:
		return vg_json_text(it, o->board, sizeof(o->board))
			       ? VG_REJ_NONE : VG_REJ_TYPE;
	case F_UNITS:
		return vg_json_int(it, 0, UNITS_MAX, &o->units) ? VG_REJ_NONE
							      : VG_REJ_TYPE;
	case F_TS:
		if (!cJSON_IsString(it))
			return VG_REJ_TYPE;
		return vg_time_parse(it->valuestring, strlen(it->valuestring),
				     &o->ts)
			       ? VG_REJ_TIME : VG_REJ_NONE;
	default:
		return VG_REJ_NONE;
	}
}

enum vg_reject vg_presence_decode(const char *payload, size_t len,
				  const struct vg_topic *topic,
				  struct vg_presence *out)
{
	enum vg_reject r;

	memset(out, 0, sizeof(*out));
	r = vg_json_decode_fields(payload, len, fields, REQUIRED, one_field,
				  out);
	if (r == VG_REJ_NONE && topic &&
	    (topic->kind != VG_TOPIC_AGENT ||
	     strcmp(topic->site, out->site) != 0))
		r = VG_REJ_MISMATCH;
	return r;
}

int vg_presence_encode(const struct vg_presence *pr, char *buf, size_t size)
{
	char ts[VG_TIME_LEN];
	struct vg_jw w;

	/* refuse anything vg_presence_decode would reject */
	if (!vg_ident_valid(pr->site, strlen(pr->site)) || pr->region < 1 ||
	    pr->region > VG_REGION_COUNT || pr->units < 0 ||
	    pr->units > UNITS_MAX ||
	    !vg_utf8_valid(pr->version, strlen(pr->version)) ||
	    !vg_utf8_valid(pr->board, strlen(pr->board)) ||
	    vg_time_format(pr->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w, "{\"v\":1,\"site\":\"%s\",\"region\":\"%s\","
			 "\"online\":%s,\"version\":",
		     pr->site, vg_region_code(pr->region),
		     pr->online ? "true" : "false");
	vg_jw_string(&w, pr->version);
	vg_jw_raw(&w, ",\"board\":");
	vg_jw_string(&w, pr->board);
	vg_jw_printf(&w, ",\"units\":%lld,\"ts\":\"%s\"}", (long long)pr->units,
		     ts);
	return vg_jw_finish(&w);
}
