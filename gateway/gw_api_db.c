/*
 * The API's documents from the store: history points and unit pages as
 * JSON, over the read-only connections of gw_store_read.c.
 */
#include <stdio.h>
#include <string.h>

#include "gw_api.h"
#include "vigie/arith.h"
#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"

static int hist_json(void *arg, int64_t at, const struct vg_counts *c)
{
	struct gw_buf *b = arg;
	uint64_t eligible = 0;
	uint32_t bp = 0;
	char ts[VG_TIME_LEN], pct[16] = "null";

	for (int i = 0; i < VG_STATE_COUNT; i++)
		eligible += c->n[i];
	eligible -= c->n[VG_STATE_RETIRED];
	if (vg_percent_bp(c->n[VG_STATE_MIGRATED], eligible, &bp) &&
	    vg_bp_format(bp, pct, sizeof(pct)) < 0)
		return gw_buf_fail(b);
	if (b->err || vg_time_format(at, ts, sizeof(ts)) < 0)
		return gw_buf_fail(b); /* stops the walk: the page is a 500 */
	if (b->p[b->len - 1] == '}')
		gw_buf_raw(b, ",", 1);
	gw_buf_printf(b,
		      "{\"at\":\"%s\",\"counts\":{\"pending\":%llu,"
		      "\"migrating\":%llu,\"migrated\":%llu,\"retired\":%llu,"
		      "\"unknown\":%llu},\"eligible\":%llu,\"migrated\":%llu,"
		      "\"percent\":%s,\"stale\":%llu}",
		      ts, (unsigned long long)c->n[VG_STATE_PENDING],
		      (unsigned long long)c->n[VG_STATE_MIGRATING],
		      (unsigned long long)c->n[VG_STATE_MIGRATED],
		      (unsigned long long)c->n[VG_STATE_RETIRED],
		      (unsigned long long)c->n[VG_STATE_UNKNOWN],
		      (unsigned long long)eligible,
		      (unsigned long long)c->n[VG_STATE_MIGRATED], pct,
		      (unsigned long long)c->stale);
	return VG_OK;
}

int gw_api_history_json(sqlite3 *db, int program, int region, int64_t from,
			int64_t to, long max_points, struct gw_buf *b)
{
	char f[VG_TIME_LEN], t[VG_TIME_LEN];

	if (vg_time_format(from, f, sizeof(f)) < 0 ||
	    vg_time_format(to, t, sizeof(t)) < 0)
		return gw_buf_fail(b);
	gw_buf_printf(b, "{\"v\":1,\"program\":\"%s\",\"region\":\"%s\","
			 "\"from\":\"%s\",\"to\":\"%s\",\"points\":[",
		      vg_program_name((enum vg_program)program),
		      vg_region_code(region), f, t);
	if (gw_store_history_read(db, program, region, from, to, max_points, false,
			      hist_json, b) < 0)
		return VG_ERR_IO;
	gw_buf_str(b, "]}");
	return b->err ? VG_ERR_RANGE : VG_OK;
}

/* One unit row as a JSON object; text columns may be NULL. */
static void unit_json(sqlite3_stmt *s, struct gw_buf *b)
{
	static const char *const names[] = { "program", "region", "site",
					     "unit", "state" };
	char ts[VG_TIME_LEN];

	gw_buf_raw(b, "{", 1);
	for (int i = 0; i < 5; i++) {
		gw_buf_printf(b, "%s\"%s\":", i ? "," : "", names[i]);
		gw_buf_json(b, (const char *)sqlite3_column_text(s, i));
	}
	gw_buf_printf(b, ",\"seq\":%lld", (long long)sqlite3_column_int64(s, 5));
	if (vg_time_format(sqlite3_column_int64(s, 6), ts, sizeof(ts)) < 0) {
		gw_buf_fail(b);
		return;
	}
	gw_buf_printf(b, ",\"since\":\"%s\"", ts);
	for (int i = 7; i < 11; i++) {
		static const char *const opt[] = { "source", "tech", "fault",
						   "note" };
		const unsigned char *v = sqlite3_column_text(s, i);
		if (v) {
			gw_buf_printf(b, ",\"%s\":", opt[i - 7]);
			gw_buf_json(b, (const char *)v);
		}
	}
	gw_buf_printf(b, ",\"stale\":%s}",
		      sqlite3_column_int(s, 11) ? "true" : "false");
}

int gw_api_db_units(sqlite3 *db, const struct gw_unit_query *q,
		    struct gw_buf *b)
{
	sqlite3_stmt *s = NULL;
	long n = 0;
	int rc;

	if (sqlite3_prepare_v2(db,
		"SELECT u.program, u.region, u.site, u.unit, u.state, u.seq,"
		" u.since, u.source, u.tech, u.fault, u.note,"
		" (u.fault IS NOT NULL OR s.online = 0)"
		" FROM unit u LEFT JOIN site s ON s.site = u.site"
		" WHERE u.removed = 0 AND (?1 IS NULL OR u.program = ?1)"
		" AND (?2 IS NULL OR u.region = ?2) AND (?3 IS NULL OR"
		" u.state = ?3) AND (?6 IS NULL OR u.site = ?6)"
		" ORDER BY u.program, u.site, u.unit"
		" LIMIT ?4 OFFSET ?5", -1, &s, NULL) != SQLITE_OK)
		return VG_ERR_IO;
	if (q->site)
		sqlite3_bind_text(s, 6, q->site, -1, SQLITE_STATIC);
	if (q->program >= 0)
		sqlite3_bind_text(s, 1, vg_program_name((enum vg_program)q->program), -1, SQLITE_STATIC);
	if (q->region > 0)
		sqlite3_bind_text(s, 2, vg_region_code(q->region), -1,
				  SQLITE_STATIC);
	if (q->state >= 0)
		sqlite3_bind_text(s, 3, vg_state_name((enum vg_state)q->state),
				  -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, q->limit);
	sqlite3_bind_int64(s, 5, q->offset);
	gw_buf_str(b, "{\"v\":1,\"units\":[");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n++)
			gw_buf_raw(b, ",", 1);
		unit_json(s, b);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return VG_ERR_IO;
	gw_buf_printf(b, "],\"offset\":%ld,\"limit\":%ld,\"next_offset\":", q->offset, q->limit);
	if (n == q->limit)
		gw_buf_printf(b, "%ld}", q->offset + n);
	else
		gw_buf_str(b, "null}");
	return b->err ? VG_ERR_RANGE : VG_OK;
}
