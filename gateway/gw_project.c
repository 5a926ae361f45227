/*
 * Projection: least squares over a regularly sampled step function.  The
 * history table holds a point only when counts change, so fitting the raw
 * points would weigh busy hours over quiet weeks; sampling the percentage
 * in force at evenly spaced instants weighs time evenly instead.
 */
#include "gw_project.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/qcdate.h"
#include "vigie/targets.h"
#include "vigie/timeutil.h"

int64_t gw_project_due_time(int fy)
{
	struct vg_date apr1 = { fy + 1, 4, 1 };
	int64_t t;

	/* due at the end of March 31 in Quebec: midnight, April 1 there.
	 * Without the tz database (main refuses to start) it is long past,
	 * so no projection is made rather than one to the wrong day. */
	if (vg_qc_unix(&apr1, 0, 0, 0, &t) != VG_OK)
		return 0;
	return t;
}

struct fit {
	double sx, sy, sxx, sxy;
	int n;
};

static void fit_add(struct fit *f, double x, double y)
{
	f->sx += x;
	f->sy += y;
	f->sxx += x * x;
	f->sxy += x * y;
	f->n++;
}

/*
 * Sample what is in force at n instants over [start, now]: the percentage
 * (bp), or with units the migrated count.
 */
static void sample(const struct gw_hist_pt *pts, size_t n, int64_t start,
		   int64_t now, bool units, struct fit *f)
{
	size_t k = 0;

	for (int i = 0; i < GW_PROJECT_SAMPLES; i++) {
		int64_t t = start + (now - start) * i / (GW_PROJECT_SAMPLES - 1);
		while (k + 1 < n && pts[k + 1].at <= t)
			k++;
		if (pts[k].at > t || pts[k].eligible == 0)
			continue; /* nothing recorded yet, or no percentage */
		/* x in days before now keeps the sums well conditioned */
		fit_add(f, (double)(t - now) / 86400.0,
			units ? (double)pts[k].migrated
			      : (double)pts[k].migrated * 10000.0 /
					(double)pts[k].eligible);
	}
}

/*
 * Least squares over the window [max(now - window_s, first point), now]:
 * the percentage, or with units the migrated count.  False when there is
 * too little history; else the slope (per day), intercept at now, the
 * window's start and the samples used.
 */
static bool fit_window(const struct gw_hist_pt *pts, size_t n, int64_t now,
		       int64_t window_s, bool units, double *slope,
		       double *icpt, int64_t *start, int *samples)
{
	struct fit f = { 0 };
	double den;

	*start = now - window_s;
	if (n == 0)
		return false;
	if (pts[0].at > *start)
		*start = pts[0].at;
	if (now - *start < GW_PROJECT_MIN_SPAN_S)
		return false;
	sample(pts, n, *start, now, units, &f);
	den = f.n * f.sxx - f.sx * f.sx;
	if (f.n < 2 || den <= 0)
		return false;
	*slope = (f.n * f.sxy - f.sx * f.sy) / den;
	*icpt = (f.sy - *slope * f.sx) / f.n;
	*samples = f.n;
	return true;
}

void gw_project_fit(const struct gw_hist_pt *pts, size_t n, int64_t now,
		    int64_t window_s, int64_t due, uint32_t target_bp,
		    struct gw_projection *out)
{
	double slope, icpt, y;

	memset(out, 0, sizeof(*out));
	out->due = due;
	out->target_bp = target_bp;
	out->window_days = (int)(window_s / 86400);
	if (due <= now || !fit_window(pts, n, now, window_s, false, &slope,
				      &icpt, &out->from, &out->samples))
		return;
	y = icpt + slope * ((double)(due - now) / 86400.0);
	y = y < 0 ? 0 : (y > 10000 ? 10000 : y);
	out->ok = true;
	out->slope_bp_day = slope;
	out->bp = (uint32_t)floor(y + 0.5);
	out->on_track = out->bp >= target_bp;
}

void gw_project_pace(const struct gw_hist_pt *pts, size_t n, int64_t now,
		     int64_t window_s, uint32_t target_bp,
		     struct gw_projection *out)
{
	const struct gw_hist_pt *last = &pts[n ? n - 1 : 0];
	double icpt;

	out->target_bp = target_bp;
	out->window_days = (int)(window_s / 86400);
	if (!fit_window(pts, n, now, window_s, true, &out->units_day, &icpt,
			&out->from, &out->samples))
		return;
	out->needed = (int64_t)vg_units_needed(last->migrated, last->eligible,
					       target_bp);
	out->reach_at = 0;
	if (out->needed > 0 && out->units_day > 1e-9)
		out->reach_at = now + (int64_t)ceil((double)out->needed /
						    out->units_day * 86400.0);
	out->pace_ok = true;
}

/* ,"pace":{...}: the trend that still means something after the plan. */
static int pace_json(const struct gw_projection *pj, char *buf, size_t size)
{
	char fy[16], tgt[16], from[VG_TIME_LEN], by[16] = "null";
	struct vg_date d;
	int n;

	if (pj->reach_at > 0) {
		vg_date_of_time(pj->reach_at, &d);
		snprintf(by, sizeof(by), "\"%04d-%02d-%02d\"", d.y, d.m, d.d);
	}
	if (vg_fy_format(pj->fy, fy, sizeof(fy)) < 0 ||
	    vg_bp_format(pj->target_bp, tgt, sizeof(tgt)) < 0 ||
	    vg_time_format(pj->from, from, sizeof(from)) < 0)
		return VG_ERR_RANGE;
	n = snprintf(buf, size,
		     ",\"pace\":{\"method\":\"least_squares\","
		     "\"window_days\":%d,\"from\":\"%s\",\"samples\":%d,"
		     "\"units_per_week\":%.1f,\"fiscal_year\":\"%s\","
		     "\"target\":%s,\"units_needed\":%lld,\"reached_by\":%s}",
		     pj->window_days, from, pj->samples, pj->units_day * 7.0, fy,
		     tgt, (long long)pj->needed, by);
	return (n < 0 || (size_t)n >= size) ? VG_ERR_RANGE : n;
}

int gw_project_json(const struct gw_projection *pj, char *buf, size_t size)
{
	char fy[16], pct[16], tgt[16], from[VG_TIME_LEN];
	struct vg_date due;
	int n;

	if (pj->pace_ok)
		return pace_json(pj, buf, size);
	if (!pj->ok) {
		if (size)
			buf[0] = '\0';
		return 0;
	}
	vg_fy_format(pj->fy, fy, sizeof(fy));
	vg_fy_due(pj->fy, &due);
	vg_bp_format(pj->bp, pct, sizeof(pct));
	vg_bp_format(pj->target_bp, tgt, sizeof(tgt));
	vg_time_format(pj->from, from, sizeof(from));
	n = snprintf(buf, size,
		     ",\"projection\":{\"method\":\"least_squares\","
		     "\"window_days\":%d,\"from\":\"%s\",\"samples\":%d,"
		     "\"slope_per_day\":%.4f,\"fiscal_year\":\"%s\","
		     "\"due\":\"%04d-%02d-%02d\",\"percent\":%s,"
		     "\"target\":%s,\"on_track\":%s}",
		     pj->window_days, from, pj->samples, pj->slope_bp_day / 100.0,
		     fy, due.y, due.m, due.d, pct, tgt,
		     pj->on_track ? "true" : "false");
	return (n < 0 || (size_t)n >= size) ? -1 : n;
}
