/*
 * Unit status codec.  Decoding walks the object's members once, dispatching
 * on the name, so a duplicate key is caught and the cost stays linear: the
 * gateway runs this on every message it receives.
 */
#include <string.h>

#include "json.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

enum {
	F_V, F_PROGRAM, F_REGION, F_SITE, F_UNIT, F_STATE, F_SEQ, F_TS,
	F_SINCE, F_SOURCE, F_TECH, F_FAULT, F_NOTE
};

static const char *const fields[] = {
	"v", "program", "region", "site", "unit", "state", "seq", "ts",
	"since", "source", "tech", "fault", "note", NULL
};

#define REQUIRED ((1u << F_V) | (1u << F_PROGRAM) | (1u << F_REGION) | \
		  (1u << F_SITE) | (1u << F_UNIT) | (1u << F_STATE) |   \
		  (1u << F_SEQ) | (1u << F_TS))

/* The wire's "removed", past the indicator's states (see msg.h). */
#define STATE_REMOVED VG_STATE_COUNT
static const char removed_name[] = "removed";

static int unit_state_parse(const char *s, size_t len)
{
	if (len == sizeof(removed_name) - 1 &&
	    memcmp(s, removed_name, len) == 0)
		return STATE_REMOVED;
	return vg_state_parse(s, len);
}

static enum vg_reject optional_text(const cJSON *it, char *dst, size_t size)
{
	if (cJSON_IsNull(it))
		return VG_REJ_NONE;
	return vg_json_text(it, dst, size) ? VG_REJ_NONE : VG_REJ_TYPE;
}

static enum vg_reject one_field(int f, const cJSON *it, void *out)
{
	struct vg_unit_status *o = out;
	int v = 0;
	enum vg_reject r = VG_REJ_NONE;

	switch (f) {
	case F_V: return vg_json_version(it);
	case F_PROGRAM:
		r = vg_json_enum(it, vg_program_parse, VG_REJ_PROGRAM, &v);
		o->program = (enum vg_program)v;
		return r;
	case F_REGION:
		r = vg_json_enum(it, vg_region_parse, VG_REJ_REGION, &v);
		o->region = v;
		return r;
	case F_SITE: return vg_json_ident(it, o->site, sizeof(o->site));
	case F_UNIT: return vg_json_ident(it, o->unit, sizeof(o->unit));
	case F_STATE:
		r = vg_json_enum(it, unit_state_parse, VG_REJ_STATE, &v);
		o->removed = v == STATE_REMOVED;
		o->state = o->removed ? VG_STATE_UNKNOWN : (enum vg_state)v;
		return r;
	case F_SEQ:
		return vg_json_int(it, 0, VG_SEQ_MAX, &o->seq) ? VG_REJ_NONE
							       : VG_REJ_TYPE;
	case F_TS: return vg_json_time(it, &o->ts);
	case F_SINCE:
		if (cJSON_IsNull(it))
			return VG_REJ_NONE;
		o->has_since = true;
		return vg_json_time(it, &o->since);
	case F_SOURCE:
		r = vg_json_enum(it, vg_source_parse, VG_REJ_STATE, &v);
		o->source = (enum vg_source)v;
		return r;
	case F_TECH:
		if (cJSON_IsNull(it))
			return VG_REJ_NONE;
		return vg_json_ident(it, o->tech, sizeof(o->tech));
	case F_FAULT: return optional_text(it, o->fault, sizeof(o->fault));
	case F_NOTE: return optional_text(it, o->note, sizeof(o->note));
	default: return VG_REJ_NONE;
	}
}

static enum vg_reject check_topic(const struct vg_topic *t,
				  const struct vg_unit_status *o)
{
	if (!t)
		return VG_REJ_NONE;
	if (t->kind != VG_TOPIC_UNIT || t->program != o->program ||
	    t->region != o->region || strcmp(t->site, o->site) != 0 ||
	    strcmp(t->unit, o->unit) != 0)
		return VG_REJ_MISMATCH;
	return VG_REJ_NONE;
}

enum vg_reject vg_unit_status_decode(const char *payload, size_t len,
				     const struct vg_topic *topic,
				     struct vg_unit_status *out)
{
	enum vg_reject r;

	memset(out, 0, sizeof(*out));
	r = vg_json_decode_fields(payload, len, fields, REQUIRED, one_field,
				  out);
	return r != VG_REJ_NONE ? r : check_topic(topic, out);
}

int vg_unit_status_encode(const struct vg_unit_status *st, char *buf,
			  size_t size)
{
	char ts[VG_TIME_LEN], since[VG_TIME_LEN];
	struct vg_jw w;

	if (!vg_program_name(st->program) || !vg_region_code(st->region) ||
	    st->region == VG_REGION_ALL || !vg_state_name(st->state) ||
	    (st->removed && st->state != VG_STATE_UNKNOWN) ||
	    !vg_ident_valid(st->site, strlen(st->site)) ||
	    !vg_ident_valid(st->unit, strlen(st->unit)) || st->seq < 0 ||
	    st->seq > VG_SEQ_MAX || vg_time_format(st->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	/* text the decoder would refuse (not UTF-8) or a source it cannot name */
	if ((unsigned)st->source > VG_SOURCE_MANUAL ||
	    !vg_utf8_valid(st->fault, strlen(st->fault)) ||
	    !vg_utf8_valid(st->note, strlen(st->note)))
		return VG_ERR_INVAL;
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w,
		     "{\"v\":1,\"program\":\"%s\",\"region\":\"%s\","
		     "\"site\":\"%s\",\"unit\":\"%s\",\"state\":\"%s\","
		     "\"seq\":%lld,\"ts\":\"%s\"",
		     vg_program_name(st->program), vg_region_code(st->region),
		     st->site, st->unit,
		     st->removed ? removed_name : vg_state_name(st->state),
		     (long long)st->seq, ts);
	if (st->has_since) {
		if (vg_time_format(st->since, since, sizeof(since)) < 0)
			return VG_ERR_INVAL;
		vg_jw_printf(&w, ",\"since\":\"%s\"", since);
	}
	if (st->source != VG_SOURCE_NONE && vg_source_name(st->source))
		vg_jw_printf(&w, ",\"source\":\"%s\"",
			     vg_source_name(st->source));
	if (st->tech[0]) {
		if (!vg_ident_valid(st->tech, strlen(st->tech)))
			return VG_ERR_INVAL;
		vg_jw_printf(&w, ",\"tech\":\"%s\"", st->tech);
	}
	if (st->fault[0]) {
		vg_jw_raw(&w, ",\"fault\":");
		vg_jw_string(&w, st->fault);
	}
	if (st->note[0]) {
		vg_jw_raw(&w, ",\"note\":");
		vg_jw_string(&w, st->note);
	}
	vg_jw_raw(&w, "}");
	return vg_jw_finish(&w);
}
