/*
 * Main thread: recompute the projection of every program x region from
 * the history table, on a read-only connection of its own, then publish
 * the results under the lock for the summaries and the HTTP readers.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "gw_project.h"
#include "vigie/log.h"
#include "vigie/timeutil.h"

/* Enough points for the 64 samples of the fit: buckets of the window. */
#define MAX_POINTS 2048

struct pts {
	struct gw_hist_pt v[MAX_POINTS + 1];
	size_t n;
};

static int collect(void *arg, int64_t at, const struct vg_counts *c)
{
	struct pts *p = arg;

	if (p->n >= MAX_POINTS + 1)
		return 0;
	p->v[p->n].at = at;
	p->v[p->n].migrated = c->n[VG_STATE_MIGRATED];
	p->v[p->n].eligible = c->n[VG_STATE_PENDING] +
			      c->n[VG_STATE_MIGRATING] +
			      c->n[VG_STATE_MIGRATED] + c->n[VG_STATE_UNKNOWN];
	p->n++;
	return 0;
}

static void one(sqlite3 *db, const struct vg_plan *plan, int fy, int p, int r,
		int64_t now, int64_t window, struct pts *buf,
		struct gw_projection *out)
{
	bool ended = false;
	int cur = vg_plan_current(plan, fy, &ended);

	memset(out, 0, sizeof(*out));
	if (cur < 0)
		return; /* no target at all */
	buf->n = 0;
	if (gw_store_history_read(db, p, r, now - window, now, MAX_POINTS, true,
			      collect, buf) < 0)
		return;
	/* after the plan, no due date is ahead: the pace is what remains */
	if (ended)
		gw_project_pace(buf->v, buf->n, now, window, plan->t[cur].bp,
				out);
	else
		gw_project_fit(buf->v, buf->n, now, window,
			       gw_project_due_time(plan->t[cur].fy),
			       plan->t[cur].bp, out);
	out->fy = plan->t[cur].fy;
}

void gw_project_refresh(struct gateway *gw)
{
	static struct gw_projection next[VG_PROG_COUNT][(VG_REGION_COUNT + 1)];
	struct pts *buf = malloc(sizeof(*buf));
	sqlite3 *db = gw_store_open_ro(gw->o.data_dir);
	int64_t now = vg_now(), window = (int64_t)gw->o.projection_days * 86400;
	int fy = gw_today_fy(gw);
	bool flipped = false;

	if (!buf || !db) {
		free(buf);
		sqlite3_close(db);
		vg_log(VG_LOG_WARN, "projection: cannot read the history");
		return;
	}
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 0; r < (VG_REGION_COUNT + 1); r++)
			one(db, &gw->targets.plan[p], fy, p, r, now, window,
			    buf, &next[p][r]);
	sqlite3_close(db);
	free(buf);
	pthread_mutex_lock(&gw->lock);
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 0; r < (VG_REGION_COUNT + 1); r++)
			flipped |= next[p][r].ok != gw->proj[p][r].ok ||
				   next[p][r].pace_ok != gw->proj[p][r].pace_ok ||
				   next[p][r].on_track != gw->proj[p][r].on_track;
	memcpy(gw->proj, next, sizeof(next));
	pthread_mutex_unlock(&gw->lock);
	/* the dashboard's streams hear about a region going on or off track
	 * at once (a republish; the retained summaries carry no projection) */
	if (flipped)
		atomic_store(&gw->republish, true);
}
