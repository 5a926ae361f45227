/*
 * SQLite persistence.  Prepared statements are made once; every batch is
 * one BEGIN IMMEDIATE..COMMIT, so a million rows cost one fsync, not a
 * million.  synchronous=NORMAL in WAL mode can lose the last transactions
 * on power loss but never corrupts; the broker's retained messages replay
 * what was lost.
 */
#include "gw_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/region.h"

static const char *const schema =
	"PRAGMA journal_mode=WAL;"
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)"
	" WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS unit(program TEXT NOT NULL,"
	" site TEXT NOT NULL, unit TEXT NOT NULL, region TEXT NOT NULL,"
	" state TEXT NOT NULL, seq INTEGER NOT NULL, since INTEGER NOT NULL,"
	" ts INTEGER, source TEXT, tech TEXT, fault TEXT,"
	" removed INTEGER NOT NULL DEFAULT 0, note TEXT,"
	" PRIMARY KEY(program, site, unit)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS transition(id INTEGER PRIMARY KEY,"
	" program TEXT NOT NULL, region TEXT NOT NULL, site TEXT NOT NULL,"
	" unit TEXT NOT NULL, from_state TEXT, to_state TEXT,"
	" at INTEGER NOT NULL, seq INTEGER, source TEXT, tech TEXT);"
	"CREATE INDEX IF NOT EXISTS transition_at ON transition(at);"
	"CREATE TABLE IF NOT EXISTS site(site TEXT PRIMARY KEY,"
	" region TEXT NOT NULL, online INTEGER NOT NULL, ts INTEGER,"
	" version TEXT, board TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS history(program TEXT NOT NULL,"
	" region TEXT NOT NULL, at INTEGER NOT NULL, pending INTEGER,"
	" migrating INTEGER, migrated INTEGER, retired INTEGER,"
	" unknown INTEGER, stale INTEGER,"
	" PRIMARY KEY(program, region, at)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('schema', '2');";

static const char *const sql_unit =
	"INSERT INTO unit(program, site, unit, region, state, seq, since, ts,"
	" source, tech, fault, removed, note)"
	" VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"
	" ON CONFLICT(program, site, unit) DO UPDATE SET"
	" region=excluded.region, state=excluded.state, seq=excluded.seq,"
	" since=excluded.since, ts=excluded.ts, source=excluded.source,"
	" tech=excluded.tech, fault=excluded.fault, removed=excluded.removed,"
	" note=excluded.note";
static const char *const sql_trans =
	"INSERT INTO transition(program, region, site, unit, from_state,"
	" to_state, at, seq, source, tech) VALUES(?,?,?,?,?,?,?,?,?,?)";
static const char *const sql_site =
	"INSERT INTO site(site, region, online, ts, version, board)"
	" VALUES(?,?,?,?,?,?) ON CONFLICT(site) DO UPDATE SET"
	" region=excluded.region, online=excluded.online, ts=excluded.ts,"
	" version=COALESCE(excluded.version, version),"
	" board=COALESCE(excluded.board, board)";
static const char *const sql_hist =
	"INSERT OR REPLACE INTO history VALUES(?,?,?,?,?,?,?,?,?)";

struct gw_store {
	sqlite3 *db;
	sqlite3_stmt *unit, *trans, *site, *hist;
};

static int exec(struct gw_store *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		vg_log(VG_LOG_ERR, "sqlite: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return VG_ERR_IO;
	}
	return VG_OK;
}

/*
 * Schema 1 had no note column: add it to a database made before (its rows
 * get a NULL note until their unit reports again).  CREATE TABLE IF NOT
 * EXISTS does not touch an existing table, hence the probe.
 */
static int migrate(struct gw_store *st)
{
	sqlite3_stmt *s = NULL;
	int has_note = sqlite3_prepare_v2(st->db, "SELECT note FROM unit"
					  " LIMIT 0", -1, &s, NULL) == SQLITE_OK;

	sqlite3_finalize(s);
	if (has_note)
		return VG_OK;
	return exec(st, "ALTER TABLE unit ADD COLUMN note TEXT;"
			"UPDATE meta SET value='2' WHERE key='schema'");
}

struct gw_store *gw_store_open(const char *dir, char *err, size_t errlen)
{
	struct gw_store *st = calloc(1, sizeof(*st));
	char path[4096];

	if (!st) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/vigie.db", dir);
	if (sqlite3_open(path, &st->db) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (exec(st, schema) != VG_OK || migrate(st) != VG_OK ||
	    sqlite3_prepare_v2(st->db, sql_unit, -1, &st->unit, NULL) ||
	    sqlite3_prepare_v2(st->db, sql_trans, -1, &st->trans, NULL) ||
	    sqlite3_prepare_v2(st->db, sql_site, -1, &st->site, NULL) ||
	    sqlite3_prepare_v2(st->db, sql_hist, -1, &st->hist, NULL)) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(st->db));
		goto fail;
	}
	return st;
fail:
	gw_store_close(st);
	return NULL;
}

void gw_store_close(struct gw_store *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->unit);
	sqlite3_finalize(st->trans);
	sqlite3_finalize(st->site);
	sqlite3_finalize(st->hist);
	sqlite3_close(st->db);
	free(st);
}

/* Bind text, or NULL for an empty string. */
static void bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static int step(struct gw_store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		vg_log(VG_LOG_ERR, "sqlite: %s", sqlite3_errmsg(st->db));
		return VG_ERR_IO;
	}
	return VG_OK;
}

static int write_row(struct gw_store *st, const struct gw_row *r)
{
	sqlite3_stmt *s = st->unit;

	bind_text(s, 1, vg_program_name(r->program));
	bind_text(s, 2, r->site);
	bind_text(s, 3, r->unit);
	bind_text(s, 4, vg_region_code(r->region));
	bind_text(s, 5, vg_state_name(r->state));
	sqlite3_bind_int64(s, 6, r->seq);
	sqlite3_bind_int64(s, 7, r->since);
	sqlite3_bind_int64(s, 8, r->ts);
	bind_text(s, 9, vg_source_name(r->source));
	bind_text(s, 10, r->tech);
	bind_text(s, 11, r->fault);
	sqlite3_bind_int(s, 12, r->removed);
	bind_text(s, 13, r->note);
	return step(st, s);
}

static int write_trans(struct gw_store *st, const struct gw_transition *t)
{
	sqlite3_stmt *s = st->trans;

	bind_text(s, 1, vg_program_name(t->program));
	bind_text(s, 2, vg_region_code(t->region));
	bind_text(s, 3, t->site);
	bind_text(s, 4, t->unit);
	bind_text(s, 5, t->from >= 0 ? vg_state_name(t->from) : NULL);
	bind_text(s, 6, t->to >= 0 ? vg_state_name(t->to) : NULL);
	sqlite3_bind_int64(s, 7, t->at);
	sqlite3_bind_int64(s, 8, t->seq);
	bind_text(s, 9, vg_source_name(t->source));
	bind_text(s, 10, t->tech);
	return step(st, s);
}

static int write_site(struct gw_store *st, const struct gw_site_row *r)
{
	sqlite3_stmt *s = st->site;

	bind_text(s, 1, r->site);
	bind_text(s, 2, vg_region_code(r->region));
	sqlite3_bind_int(s, 3, r->online);
	sqlite3_bind_int64(s, 4, r->ts);
	bind_text(s, 5, r->version);
	bind_text(s, 6, r->board);
	return step(st, s);
}

int gw_store_write(struct gw_store *st, const struct gw_batch *b)
{
	int rc = VG_OK;

	if (!b->nrows && !b->ntrans && !b->nsites)
		return VG_OK;
	if (exec(st, "BEGIN IMMEDIATE") != VG_OK)
		return VG_ERR_IO;
	for (size_t i = 0; i < b->nsites && rc == VG_OK; i++)
		rc = write_site(st, &b->sites[i]);
	for (size_t i = 0; i < b->nrows && rc == VG_OK; i++)
		rc = write_row(st, &b->rows[i]);
	for (size_t i = 0; i < b->ntrans && rc == VG_OK; i++)
		rc = write_trans(st, &b->trans[i]);
	if (rc != VG_OK) {
		exec(st, "ROLLBACK");
		return rc;
	}
	return exec(st, "COMMIT");
}

int gw_store_history(struct gw_store *st, int64_t at, int program,
		     int region, const struct vg_counts *c)
{
	sqlite3_stmt *s = st->hist;

	bind_text(s, 1, vg_program_name(program));
	bind_text(s, 2, vg_region_code(region));
	sqlite3_bind_int64(s, 3, at);
	for (int i = 0; i < VG_STATE_COUNT; i++)
		sqlite3_bind_int64(s, 4 + i, (sqlite3_int64)c->n[i]);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)c->stale);
	return step(st, s);
}

/* Copy column i as text into dst (size bytes); "" for NULL. */
static void col_text(sqlite3_stmt *s, int i, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int parse_enum(sqlite3_stmt *s, int i, int (*parse)(const char *,
							   size_t))
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return t ? parse(t, strlen(t)) : -1;
}

static long load_sites(struct gw_store *st, struct gw_core *core)
{
	sqlite3_stmt *s = NULL;
	struct gw_site_row r;
	long n = 0;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT site, region, online, ts, version, board"
			       " FROM site", -1,
			       &s, NULL) != SQLITE_OK)
		return VG_ERR_IO;
	while (sqlite3_step(s) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		col_text(s, 0, r.site, sizeof(r.site));
		r.region = (uint8_t)parse_enum(s, 1, vg_region_parse);
		r.online = (int8_t)sqlite3_column_int(s, 2);
		r.ts = sqlite3_column_int64(s, 3);
		col_text(s, 4, r.version, sizeof(r.version));
		col_text(s, 5, r.board, sizeof(r.board));
		if (gw_core_load_site(core, &r) == 0)
			n++;
	}
	sqlite3_finalize(s);
	return n;
}

long gw_store_load(struct gw_store *st, struct gw_core *core)
{
	sqlite3_stmt *s = NULL;
	struct gw_row r;
	long n = 0, bad = 0;

	if (load_sites(st, core) < 0)
		return VG_ERR_IO;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT program, site, unit, region, state, seq,"
			       " since, source, fault IS NOT NULL, removed, ts"
			       " FROM unit", -1, &s, NULL) != SQLITE_OK)
		return VG_ERR_IO;
	while (sqlite3_step(s) == SQLITE_ROW) {
		int p = parse_enum(s, 0, vg_program_parse);
		int reg = parse_enum(s, 3, vg_region_parse);
		int state = parse_enum(s, 4, vg_state_parse);
		int src = parse_enum(s, 7, vg_source_parse);

		memset(&r, 0, sizeof(r));
		col_text(s, 1, r.site, sizeof(r.site));
		col_text(s, 2, r.unit, sizeof(r.unit));
		if (p < 0 || reg < 0 || state < 0) {
			bad++;
			continue;
		}
		r.program = (uint8_t)p;
		r.region = (uint8_t)reg;
		r.state = (uint8_t)state;
		r.seq = sqlite3_column_int64(s, 5);
		r.since = sqlite3_column_int64(s, 6);
		r.source = (uint8_t)(src < 0 ? 0 : src);
		r.removed = sqlite3_column_int(s, 9) != 0;
		r.ts = sqlite3_column_int64(s, 10); /* NULL reads as 0: none */
		if (gw_core_load_unit(core, &r, sqlite3_column_int(s, 8)) == 0)
			n++;
		else
			bad++;
	}
	sqlite3_finalize(s);
	if (bad)
		vg_log(VG_LOG_WARN, "store: %ld unit rows could not be loaded",
		       bad);
	return n;
}

int gw_store_ping(struct gw_store *st)
{
	return exec(st, "BEGIN IMMEDIATE; UPDATE meta SET value=value"
			" WHERE key='schema'; COMMIT") == VG_OK;
}
