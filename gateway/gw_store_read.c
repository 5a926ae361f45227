/*
 * The store's read side: read-only connections and the history query,
 * for the HTTP API, the projections and the offline report.  Each caller
 * opens its own read-only connection: in WAL mode readers see the last
 * committed batch and never block the writer (nor it them).
 */
#include <stdio.h>
#include <string.h>

#include "gw_store.h"
#include "vigie/err.h"
#include "vigie/region.h"

sqlite3 *gw_store_open_ro(const char *dir)
{
	char path[4096];
	sqlite3 *db = NULL;

	int n = snprintf(path, sizeof(path), "%s/vigie.db", dir);

	if (n < 0 || (size_t)n >= sizeof(path))
		return NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 2000);
	return db;
}

/* The columns after `at` of every history query, in vg_counts' order. */
#define HIST_COLS "pending, migrating, migrated, retired, unknown, stale"

static void row_counts(sqlite3_stmt *s, int col, struct vg_counts *c)
{
	for (int i = 0; i < VG_STATE_COUNT; i++)
		c->n[i] = (uint64_t)sqlite3_column_int64(s, col + i);
	c->stale = (uint64_t)sqlite3_column_int64(s, col + VG_STATE_COUNT);
}

/* Prepare sql with program p and region r bound to ?1 and ?2. */
static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, int p,
		   int r)
{
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
		return VG_ERR_IO;
	sqlite3_bind_text(*s, 1, vg_program_name((enum vg_program)p), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(*s, 2, vg_region_code(r), -1, SQLITE_STATIC);
	return VG_OK;
}

/*
 * Run a prepared history query (column 0 is at, counts follow) and
 * finalize it: the points handed to cb, or the VG_ERR_* that stopped it.
 */
static long run(sqlite3_stmt *s, gw_hist_cb cb, void *arg)
{
	struct vg_counts c;
	long n = 0;
	int rc, stop = VG_OK;

	while (stop == VG_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_counts(s, 1, &c);
		stop = cb(arg, sqlite3_column_int64(s, 0), &c);
		n += stop == VG_OK;
	}
	sqlite3_finalize(s);
	if (stop != VG_OK)
		return stop;
	return rc == SQLITE_DONE ? n : VG_ERR_IO;
}

static long prior_point(sqlite3 *db, int p, int r, int64_t from,
			gw_hist_cb cb, void *arg)
{
	sqlite3_stmt *s = NULL;

	if (prepare(db, "SELECT at, " HIST_COLS " FROM history WHERE"
			" program=? AND region=? AND at<? ORDER BY at DESC"
			" LIMIT 1", &s, p, r) != VG_OK)
		return VG_ERR_IO;
	sqlite3_bind_int64(s, 3, from);
	return run(s, cb, arg);
}

static long count_points(sqlite3 *db, int p, int r, int64_t from, int64_t to)
{
	sqlite3_stmt *s = NULL;
	long n = VG_ERR_IO;

	if (prepare(db, "SELECT COUNT(*) FROM history WHERE program=? AND"
			" region=? AND at BETWEEN ? AND ?", &s, p, r) != VG_OK)
		return VG_ERR_IO;
	sqlite3_bind_int64(s, 3, from);
	sqlite3_bind_int64(s, 4, to);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

long gw_store_history_read(sqlite3 *db, int program, int region, int64_t from,
		       int64_t to, long max_points, bool prior, gw_hist_cb cb,
		       void *arg)
{
	sqlite3_stmt *s = NULL;
	long total = count_points(db, program, region, from, to);
	long n = prior && total >= 0
			 ? prior_point(db, program, region, from, cb, arg)
			 : total;
	int64_t step = 0;

	if (total < 0 || n < 0)
		return total < 0 ? total : n;
	if (total > max_points)
		step = (to - from) / max_points + 1;
	/* SQLite takes the other columns from the row holding MAX(at): the
	 * last point of each bucket, the value in force at its end */
	if (prepare(db, step ? "SELECT MAX(at), " HIST_COLS " FROM history"
			       " WHERE program=? AND region=? AND at BETWEEN"
			       " ? AND ? GROUP BY (at-?3)/?5 ORDER BY 1"
			     : "SELECT at, " HIST_COLS " FROM history WHERE"
			       " program=? AND region=? AND at BETWEEN ? AND"
			       " ? ORDER BY at",
		    &s, program, region) != VG_OK)
		return VG_ERR_IO;
	sqlite3_bind_int64(s, 3, from);
	sqlite3_bind_int64(s, 4, to);
	if (step)
		sqlite3_bind_int64(s, 5, step);
	return run(s, cb, arg);
}
