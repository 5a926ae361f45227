/*
 * Summaries: docs/protocol.md's arithmetic applied to one program × region, and
 * the retained payload that NOC dashboards and other subscribers read.
 */
#include "vigie/summary.h"

#include <math.h>
#include <string.h>

#include "json.h"
#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"

void vg_summary_compute(struct vg_summary *s, enum vg_program p, int region,
			const struct vg_counts *c, const struct vg_plan *plan,
			int today_fy, int64_t ts)
{
	uint64_t known = 0;

	memset(s, 0, sizeof(*s));
	s->program = p;
	s->region = region;
	s->counts = *c;
	for (int i = 0; i < VG_STATE_COUNT; i++)
		known += c->n[i];
	s->eligible = known - c->n[VG_STATE_RETIRED];
	s->migrated = c->n[VG_STATE_MIGRATED];
	s->has_percent = vg_percent_bp(s->migrated, s->eligible,
				       &s->percent_bp);
	s->baseline_bp = plan->baseline_bp;
	s->current = vg_plan_current(plan, today_fy, &s->plan_ended);
	if (s->current < 0)
		s->current = -1; /* the field's "none", as decoded */
	s->ntargets = plan->n;
	for (int i = 0; i < plan->n; i++) {
		struct vg_summary_target *t = &s->targets[i];
		t->fy = plan->t[i].fy;
		t->bp = plan->t[i].bp;
		t->met = vg_target_met(s->migrated, s->eligible, t->bp);
		t->units_needed = vg_units_needed(s->migrated, s->eligible,
						  t->bp);
	}
	s->ts = ts;
}

static void write_target(struct vg_jw *w, const struct vg_summary_target *t)
{
	char fy[16], pct[16];
	struct vg_date due;

	vg_fy_format(t->fy, fy, sizeof(fy));
	vg_fy_due(t->fy, &due);
	vg_bp_format(t->bp, pct, sizeof(pct));
	vg_jw_printf(w,
		     "{\"fiscal_year\":\"%s\",\"due\":\"%04d-%02d-%02d\","
		     "\"percent\":%s,\"met\":%s,\"units_needed\":%llu}",
		     fy, due.y, due.m, due.d, pct, t->met ? "true" : "false",
		     (unsigned long long)t->units_needed);
}

int vg_summary_encode(const struct vg_summary *s, char *buf, size_t size)
{
	const struct vg_counts *c = &s->counts;
	char pct[16] = "null", base[16], ts[VG_TIME_LEN];
	struct vg_jw w;

	if (!vg_program_name(s->program) || !vg_region_code(s->region) ||
	    vg_time_format(s->ts, ts, sizeof(ts)) < 0)
		return VG_ERR_INVAL;
	if (s->has_percent)
		vg_bp_format(s->percent_bp, pct, sizeof(pct));
	vg_bp_format(s->baseline_bp, base, sizeof(base));
	vg_jw_init(&w, buf, size);
	vg_jw_printf(&w, "{\"v\":1,\"program\":\"%s\",\"region\":\"%s\","
			 "\"region_name\":",
		     vg_program_name(s->program), vg_region_code(s->region));
	vg_jw_string(&w, vg_region_name(s->region));
	vg_jw_printf(&w,
		     ",\"counts\":{\"pending\":%llu,\"migrating\":%llu,"
		     "\"migrated\":%llu,\"retired\":%llu,\"unknown\":%llu},"
		     "\"eligible\":%llu,\"migrated\":%llu,\"percent\":%s,"
		     "\"baseline\":%s,\"target\":",
		     (unsigned long long)c->n[VG_STATE_PENDING],
		     (unsigned long long)c->n[VG_STATE_MIGRATING],
		     (unsigned long long)c->n[VG_STATE_MIGRATED],
		     (unsigned long long)c->n[VG_STATE_RETIRED],
		     (unsigned long long)c->n[VG_STATE_UNKNOWN],
		     (unsigned long long)s->eligible,
		     (unsigned long long)s->migrated, pct, base);
	if (s->current >= 0)
		write_target(&w, &s->targets[s->current]);
	else
		vg_jw_raw(&w, "null");
	vg_jw_raw(&w, ",\"targets\":[");
	for (int i = 0; i < s->ntargets; i++) {
		if (i)
			vg_jw_raw(&w, ",");
		write_target(&w, &s->targets[i]);
	}
	vg_jw_printf(&w, "],\"plan_ended\":%s,\"stale\":%llu,\"ts\":\"%s\"}",
		     s->plan_ended ? "true" : "false",
		     (unsigned long long)c->stale, ts);
	return vg_jw_finish(&w);
}

static enum vg_reject decode_counts(const cJSON *obj, struct vg_counts *c)
{
	int64_t n;

	if (!obj)
		return VG_REJ_MISSING;
	if (!cJSON_IsObject(obj))
		return VG_REJ_TYPE;
	for (int i = 0; i < VG_STATE_COUNT; i++) {
		const cJSON *it = cJSON_GetObjectItemCaseSensitive(
			obj, vg_state_name((enum vg_state)i));
		if (!it)
			return VG_REJ_MISSING;
		if (!vg_json_int(it, 0, VG_SEQ_MAX, &n))
			return VG_REJ_TYPE;
		c->n[i] = (uint64_t)n;
	}
	return VG_REJ_NONE;
}

static enum vg_reject decode_target(const cJSON *obj,
				    struct vg_summary_target *t)
{
	const cJSON *fy = cJSON_GetObjectItemCaseSensitive(obj, "fiscal_year");
	const cJSON *pc = cJSON_GetObjectItemCaseSensitive(obj, "percent");
	const cJSON *met = cJSON_GetObjectItemCaseSensitive(obj, "met");
	const cJSON *un = cJSON_GetObjectItemCaseSensitive(obj, "units_needed");
	int64_t n;

	if (!fy || !pc || !met || !un)
		return VG_REJ_MISSING;
	if (!cJSON_IsString(fy) ||
	    vg_fy_parse(fy->valuestring, strlen(fy->valuestring), &t->fy) ||
	    !vg_json_bp(pc, &t->bp) || !cJSON_IsBool(met) ||
	    !vg_json_int(un, 0, VG_SEQ_MAX, &n))
		return VG_REJ_TYPE;
	t->met = cJSON_IsTrue(met);
	t->units_needed = (uint64_t)n;
	return VG_REJ_NONE;
}

static enum vg_reject decode_targets(const cJSON *root, struct vg_summary *s)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "targets");
	const cJSON *cur = cJSON_GetObjectItemCaseSensitive(root, "target");
	struct vg_summary_target t;
	const cJSON *it;
	enum vg_reject r;

	if (!arr || !cur)
		return VG_REJ_MISSING;
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > VG_TARGETS_MAX)
		return VG_REJ_TYPE;
	cJSON_ArrayForEach(it, arr) {
		r = decode_target(it, &s->targets[s->ntargets]);
		if (r != VG_REJ_NONE)
			return r;
		s->ntargets++;
	}
	s->current = -1;
	if (cJSON_IsNull(cur))
		return VG_REJ_NONE;
	r = decode_target(cur, &t);
	if (r != VG_REJ_NONE)
		return r;
	for (int i = 0; i < s->ntargets; i++) {
		if (s->targets[i].fy == t.fy)
			s->current = i;
	}
	return s->current < 0 ? VG_REJ_TYPE : VG_REJ_NONE;
}

/* Fields that must agree with the counts they are derived from. */
static enum vg_reject check_derived(const cJSON *root, struct vg_summary *s)
{
	const cJSON *el = cJSON_GetObjectItemCaseSensitive(root, "eligible");
	const cJSON *mg = cJSON_GetObjectItemCaseSensitive(root, "migrated");
	const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "percent");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "stale");
	uint64_t known = 0;
	uint32_t bp = 0;
	int64_t e, m, stale;

	if (!el || !mg || !pc || !st)
		return VG_REJ_MISSING;
	if (!vg_json_int(el, 0, VG_SEQ_MAX, &e) ||
	    !vg_json_int(mg, 0, VG_SEQ_MAX, &m) ||
	    !vg_json_int(st, 0, VG_SEQ_MAX, &stale))
		return VG_REJ_TYPE;
	for (int i = 0; i < VG_STATE_COUNT; i++)
		known += s->counts.n[i];
	s->eligible = (uint64_t)e;
	s->migrated = (uint64_t)m;
	s->counts.stale = (uint64_t)stale;
	if (s->eligible != known - s->counts.n[VG_STATE_RETIRED] ||
	    s->migrated != s->counts.n[VG_STATE_MIGRATED])
		return VG_REJ_MISMATCH;
	s->has_percent = vg_percent_bp(s->migrated, s->eligible, &bp);
	if (s->has_percent) {
		if (!vg_json_bp(pc, &s->percent_bp) || s->percent_bp != bp)
			return VG_REJ_MISMATCH;
	} else if (!cJSON_IsNull(pc)) {
		return VG_REJ_MISMATCH;
	}
	return VG_REJ_NONE;
}

static enum vg_reject decode_header(const cJSON *root,
				    const struct vg_topic *topic,
				    struct vg_summary *s)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "program");
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "region");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "ts");
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(root, "baseline");
	int64_t n;
	int pi, ri;

	if (!v || !p || !r || !ts || !b)
		return VG_REJ_MISSING;
	if (!vg_json_int(v, 0, 1000, &n) || !cJSON_IsString(p) ||
	    !cJSON_IsString(r) || !cJSON_IsString(ts) ||
	    !vg_json_bp(b, &s->baseline_bp))
		return VG_REJ_TYPE;
	if (n != 1)
		return VG_REJ_VERSION;
	pi = vg_program_parse(p->valuestring, strlen(p->valuestring));
	ri = vg_region_parse_or_all(r->valuestring, strlen(r->valuestring));
	if (pi < 0)
		return VG_REJ_PROGRAM;
	if (ri < 0)
		return VG_REJ_REGION;
	if (vg_time_parse(ts->valuestring, strlen(ts->valuestring), &s->ts))
		return VG_REJ_TIME;
	s->program = (enum vg_program)pi;
	s->region = ri;
	if (topic && (topic->kind != VG_TOPIC_SUMMARY ||
		      topic->program != s->program ||
		      topic->region != s->region))
		return VG_REJ_MISMATCH;
	return VG_REJ_NONE;
}

enum vg_reject vg_summary_decode(const char *payload, size_t len,
				 const struct vg_topic *topic,
				 struct vg_summary *out)
{
	cJSON *root = NULL;
	const cJSON *pe;
	enum vg_reject r;

	memset(out, 0, sizeof(*out));
	r = vg_json_parse_object(payload, len, &root);
	if (r != VG_REJ_NONE)
		return r;
	r = decode_header(root, topic, out);
	if (r == VG_REJ_NONE)
		r = decode_counts(cJSON_GetObjectItemCaseSensitive(root,
								   "counts"),
				  &out->counts);
	if (r == VG_REJ_NONE)
		r = check_derived(root, out);
	if (r == VG_REJ_NONE)
		r = decode_targets(root, out);
	pe = cJSON_GetObjectItemCaseSensitive(root, "plan_ended");
	if (r == VG_REJ_NONE && pe && !cJSON_IsBool(pe))
		r = VG_REJ_TYPE;
	out->plan_ended = pe && cJSON_IsTrue(pe);
	vg_json_release(root);
	return r;
}
