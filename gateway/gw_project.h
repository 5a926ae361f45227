/*
 * Projection of a region's percentage to the current target's due date,
 * from its history: a straight line fitted by least squares to the recorded
 * percentage over the last N days (docs/projection.md explains the method).
 * Pure functions here; gw_project_refresh (gateway.h) feeds them from SQLite.
 */
#ifndef VIGIE_GW_PROJECT_H
#define VIGIE_GW_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

/* Samples of the step function the line is fitted to. */
#define GW_PROJECT_SAMPLES 64
/* Less history than this says nothing about months ahead: no projection. */
#define GW_PROJECT_MIN_SPAN_S 3600

struct gw_hist_pt {
	int64_t at;
	uint64_t migrated;
	uint64_t eligible;
};

/*
 * Fit the history pts (n points, oldest first; the first may precede the
 * window, it then gives the value at the window's start) over
 * [max(now - window_s, pts[0].at), now] and project to due.  Fills *out
 * (out->ok false when there is not enough history or due is not ahead).
 */
void gw_project_fit(const struct gw_hist_pt *pts, size_t n, int64_t now,
		    int64_t window_s, int64_t due, uint32_t target_bp,
		    struct gw_projection *out);

/*
 * After the plan: fit the migrated count (not the percentage) over the
 * same window, and say when the last target (target_bp) is reached at
 * that pace.  Fills the pace members of *out (pace_ok false when there
 * is too little history).
 */
void gw_project_pace(const struct gw_hist_pt *pts, size_t n, int64_t now,
		     int64_t window_s, uint32_t target_bp,
		     struct gw_projection *out);

/* Unix time at which fiscal year fy's due date ends: midnight in Quebec. */
int64_t gw_project_due_time(int fy);

/*
 * ,"projection":{...} (or ,"pace":{...} after the plan, or nothing) into
 * buf; length or <0.
 */
int gw_project_json(const struct gw_projection *pj, char *buf, size_t size);

#endif
