/*
 * Codecs of the gateway's events and presence (include/vigie/event.h).
 * The encoders refuse what the decoders would reject, so nothing the
 * gateway publishes is outside the contract.
 */
#include "vigie/event.h"

#include <stdio.h>
#include <string.h>

#include "json.h"
#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/targets.h"

#define COUNT_MAX 1000000000000LL

int vg_event_from_summary(const struct vg_summary *s, bool met,
			  struct vg_event *out)
{
	const struct vg_summary_target *t;

	if (s->current < 0 || s->current >= s->ntargets)
		return VG_ERR_INVAL;
	t = &s->targets[s->current];
	memset(out, 0, sizeof(*out));
	out->program = s->program;
	out->region = s->region;
	out->met = met;
	out->fy = t->fy;
	vg_fy_due(t->fy, &out->due);
	out->target_bp = t->bp;
	out->has_percent = s->has_percent;
	out->percent_bp = s->percent_bp;
	out->migrated = s->migrated;
	out->eligible = s->eligible;
	out->units_needed = t->units_needed;
	out->ts = s->ts;
	return VG_OK;
}

int vg_event_edge(int8_t *last, const struct vg_summary *s)
{
	int met, was = *last < 0 ? -1 : *last != 0;

	if (s->current < 0 || s->current >= s->ntargets || s->eligible == 0) {
		/* nothing eligible: met only vacuously, no event either way,
		 * and the next real figure starts afresh */
		*last = -1;
		return -1;
	}
	met = s->targets[s->current].met ? 1 : 0;
	*last = (int8_t)met;
	return (was >= 0 && was != met) ? met : -1;
}

/* FNV-1a, 64 bits: short, stable, and trivial to redo in any language. */
static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

int vg_event_set_id(struct vg_event *e, const char *site, const char *unit,
		    int64_t seq)
{
	char fy[16], text[256];
	const char *pn = vg_program_name(e->program);
	const char *rc = vg_region_code(e->region);
	const char *kind = e->met ? "target_met" : "target_lost";
	int n;

	if (!pn || !rc || vg_fy_format(e->fy, fy, sizeof(fy)) < 0)
		return VG_ERR_INVAL;
	if (site)
		n = snprintf(text, sizeof(text), "%s/%s/%s/%s/%s/%s/%lld", pn,
			     rc, kind, fy, site, unit, (long long)seq);
	else
		n = snprintf(text, sizeof(text), "%s/%s/%s/%s/%llu/%llu", pn,
			     rc, kind, fy, (unsigned long long)e->migrated,
			     (unsigned long long)e->eligible);
	if (n < 0 || (size_t)n >= sizeof(text))
		return VG_ERR_INVAL;
	snprintf(e->id, sizeof(e->id), "%016llx",
		 (unsigned long long)fnv1a64(text));
	return VG_OK;
}

/* 16 lowercase hex digits, as vg_event_set_id writes. */
static bool id_valid(const char *id, size_t len)
{
	if (len != VG_EVENT_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return true;
}

int vg_event_encode(const struct vg_event *e, char *buf, size_t size)
{
	char fy[16], tgt[16], pct[16] = "null", ts[VG_TIME_LEN];
	const char *pn = vg_program_name(e->program);
	const char *rc = vg_region_code(e->region);
	struct vg_jw w;

	if (!pn || !rc || vg_fy_format(e->fy, fy, sizeof(fy)) < 0 ||
	    vg_bp_format(e->target_bp, tgt, sizeof(tgt)) < 0 ||
	    (e->has_percent &&
	     vg_bp_format(e->percent_bp, pct, sizeof(pct)) < 0) ||
	    vg_time_format(e->ts, ts, sizeof(ts)) < 0 ||
	    e->migrated > COUNT_MAX || e->eligible > COUNT_MAX ||
	    e->units_needed > COUNT_MAX ||
	    (e->id[0] && !id_valid(e->id, strlen(e->id))))
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_raw(&w, "{\"v\":1,");
	if (e->id[0])
		vg_jw_printf(&w, "\"id\":\"%s\",", e->id);
	vg_jw_printf(&w, "\"program\":\"%s\",\"region\":\"%s\","
			 "\"event\":\"%s\",\"fiscal_year\":\"%s\","
			 "\"due\":\"%04d-%02d-%02d\",\"target\":%s,"
			 "\"percent\":%s,\"migrated\":%llu,\"eligible\":%llu,"
			 "\"units_needed\":%llu,\"ts\":\"%s\"}",
		     pn, rc, e->met ? "target_met" : "target_lost", fy,
		     e->due.y, e->due.m, e->due.d, tgt, pct,
		     (unsigned long long)e->migrated,
		     (unsigned long long)e->eligible,
		     (unsigned long long)e->units_needed, ts);
	return vg_jw_finish(&w);
}

enum {
	E_V, E_PROGRAM, E_REGION, E_EVENT, E_FY, E_DUE, E_TARGET, E_PERCENT,
	E_MIGRATED, E_ELIGIBLE, E_NEEDED, E_TS, E_ID
};

static const char *const event_fields[] = {
	"v", "program", "region", "event", "fiscal_year", "due", "target",
	"percent", "migrated", "eligible", "units_needed", "ts", "id", NULL
};

static int parse_kind(const char *s, size_t len)
{
	if (len == 10 && memcmp(s, "target_met", 10) == 0)
		return 1;
	if (len == 11 && memcmp(s, "target_lost", 11) == 0)
		return 0;
	return -1;
}

static enum vg_reject event_count(const cJSON *it, uint64_t *out)
{
	int64_t n;

	if (!vg_json_int(it, 0, COUNT_MAX, &n))
		return VG_REJ_TYPE;
	*out = (uint64_t)n;
	return VG_REJ_NONE;
}

/* The string members: program, region, event, due, ts. */
static enum vg_reject event_text(int f, const cJSON *it, struct vg_event *o)
{
	int n = -1;
	enum vg_reject r;

	switch (f) {
	case E_PROGRAM:
		r = vg_json_enum(it, vg_program_parse, VG_REJ_PROGRAM, &n);
		o->program = (enum vg_program)n;
		return r;
	case E_REGION:
		return vg_json_enum(it, vg_region_parse_or_all, VG_REJ_REGION,
				    &o->region);
	case E_EVENT:
		r = vg_json_enum(it, parse_kind, VG_REJ_STATE, &n);
		o->met = n == 1;
		return r;
	case E_DUE:
		if (!cJSON_IsString(it))
			return VG_REJ_TYPE;
		return vg_date_parse(it->valuestring, &o->due)
			       ? VG_REJ_TIME : VG_REJ_NONE;
	default:
		return vg_json_time(it, &o->ts);
	}
}

static enum vg_reject event_field(int f, const cJSON *it, void *out)
{
	struct vg_event *o = out;

	switch (f) {
	case E_V:
		return vg_json_version(it);
	case E_FY:
		if (!cJSON_IsString(it))
			return VG_REJ_TYPE;
		return vg_fy_parse(it->valuestring, strlen(it->valuestring),
				   &o->fy) ? VG_REJ_TYPE : VG_REJ_NONE;
	case E_TARGET:
		return vg_json_bp(it, &o->target_bp) ? VG_REJ_NONE
						     : VG_REJ_TYPE;
	case E_PERCENT:
		o->has_percent = !cJSON_IsNull(it);
		return (!o->has_percent || vg_json_bp(it, &o->percent_bp))
			       ? VG_REJ_NONE : VG_REJ_TYPE;
	case E_MIGRATED: return event_count(it, &o->migrated);
	case E_ELIGIBLE: return event_count(it, &o->eligible);
	case E_NEEDED: return event_count(it, &o->units_needed);
	case E_ID:
		if (!cJSON_IsString(it) ||
		    !id_valid(it->valuestring, strlen(it->valuestring)))
			return VG_REJ_TYPE;
		memcpy(o->id, it->valuestring, VG_EVENT_ID_LEN + 1);
		return VG_REJ_NONE;
	default: return event_text(f, it, o);
	}
}

enum vg_reject vg_event_decode(const char *payload, size_t len,
			       struct vg_event *out)
{
	memset(out, 0, sizeof(*out));
	return vg_json_decode_fields(payload, len, event_fields,
				     (1u << (E_TS + 1)) - 1, event_field,
				     out);
}

int vg_gw_presence_encode(const struct vg_gw_presence *p, char *buf,
			  size_t size)
{
	char ts[VG_TIME_LEN];
	struct vg_jw w;

	if (!vg_ident_valid(p->id, strlen(p->id)) ||
	    !vg_utf8_valid(p->version, strlen(p->version)) ||
	    vg_time_format(p->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w, "{\"v\":1,\"id\":\"%s\",\"online\":%s,\"version\":",
		     p->id, p->online ? "true" : "false");
	vg_jw_string(&w, p->version);
	vg_jw_printf(&w, ",\"ts\":\"%s\"}", ts);
	return vg_jw_finish(&w);
}

enum { P_V, P_ID, P_ONLINE, P_VERSION, P_TS };

static const char *const gw_fields[] = {
	"v", "id", "online", "version", "ts", NULL
};

static enum vg_reject gw_field(int f, const cJSON *it, void *out)
{
	struct vg_gw_presence *o = out;

	switch (f) {
	case P_V:
		return vg_json_version(it);
	case P_ID:
		return vg_json_ident(it, o->id, sizeof(o->id));
	case P_ONLINE:
		if (!cJSON_IsBool(it))
			return VG_REJ_TYPE;
		o->online = cJSON_IsTrue(it);
		return VG_REJ_NONE;
	case P_VERSION:
		return vg_json_text(it, o->version, sizeof(o->version))
			       ? VG_REJ_NONE : VG_REJ_TYPE;
	default:
		return vg_json_time(it, &o->ts);
	}
}

enum vg_reject vg_gw_presence_decode(const char *payload, size_t len,
				     struct vg_gw_presence *out)
{
	memset(out, 0, sizeof(*out));
	return vg_json_decode_fields(payload, len, gw_fields,
				     (1u << (P_TS + 1)) - 1, gw_field, out);
}
