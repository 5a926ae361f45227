/*
 * The store's read side: read-only connections and the history query,
 * for the HTTP API, the projections and the offline report.  Each caller
 * opens its own read-only connection: in WAL mode readers see the last
 * committed batch and never block the writer (nor it them).
 */
#include <stdio.h>
#include <string.h>

#include "gw_store.h"
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

static const char *const hist_cols =
	"pending, migrating, migrated, retired, unknown, stale";

static void row_counts(sqlite3_stmt *s, int col, struct vg_counts *c)
{
	for (int i = 0; i < VG_STATE_COUNT; i++)
		c->n[i] = (uint64_t)sqlite3_column_int64(s, col + i);
	c->stale = (uint64_t)sqlite3_column_int64(s, col + VG_STATE_COUNT);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, int p,
		   int r)
{
	if (sqlite3_prepare_v2(db, sql, -1, s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(*s, 1, vg_program_name((enum vg_program)p), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(*s, 2, vg_region_code(r), -1, SQLITE_STATIC);
	return 0;
}

/* Run a prepared history query: column 0 is at, counts follow. */
static long run(sqlite3_stmt *s, gw_hist_cb cb, void *arg)
{
	struct vg_counts c;
	long n = 0;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		row_counts(s, 1, &c);
		if (cb(arg, sqlite3_column_int64(s, 0), &c) != 0)
			break;
		n++;
	}
	sqlite3_finalize(s);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? n : -1;
}

static long prior_point(sqlite3 *db, int p, int r, int64_t from,
			gw_hist_cb cb, void *arg)
{
	char sql[256];
	sqlite3_stmt *s = NULL;
	int n = snprintf(sql, sizeof(sql),
			 "SELECT at, %s FROM history WHERE program=? AND"
			 " region=? AND at<? ORDER BY at DESC LIMIT 1",
			 hist_cols);

	if (n < 0 || (size_t)n >= sizeof(sql) ||
	    prepare(db, sql, &s, p, r) != 0)
		return -1;
	sqlite3_bind_int64(s, 3, from);
	return run(s, cb, arg);
}

static long count_points(sqlite3 *db, int p, int r, int64_t from, int64_t to)
{
	sqlite3_stmt *s = NULL;
	long n = -1;

	if (prepare(db, "SELECT COUNT(*) FROM history WHERE program=? AND"
			" region=? AND at BETWEEN ? AND ?", &s, p, r) != 0)
		return -1;
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
	char sql[384];
	sqlite3_stmt *s = NULL;
	long total = count_points(db, program, region, from, to);
	int64_t step = 0;
	int n;

	if (total < 0 || (prior && prior_point(db, program, region, from, cb,
					       arg) < 0))
		return -1;
	if (total > max_points)
		step = (to - from) / max_points + 1;
	/* SQLite takes the other columns from the row holding MAX(at): the
	 * last point of each bucket, the value in force at its end */
	n = snprintf(sql, sizeof(sql),
		 step ? "SELECT MAX(at), %s FROM history WHERE program=? AND"
			" region=? AND at BETWEEN ? AND ? GROUP BY (at-?3)/?5"
			" ORDER BY 1"
		      : "SELECT at, %s FROM history WHERE program=? AND"
			" region=? AND at BETWEEN ? AND ? ORDER BY at",
		 hist_cols);
	if (n < 0 || (size_t)n >= sizeof(sql) ||
	    prepare(db, sql, &s, program, region) != 0)
		return -1;
	sqlite3_bind_int64(s, 3, from);
	sqlite3_bind_int64(s, 4, to);
	if (step)
		sqlite3_bind_int64(s, 5, step);
	return run(s, cb, arg);
}

