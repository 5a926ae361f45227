/*
 * bench/gateway-restart: memory per unit and restart time at scale.
 *  1. RSS of a core holding N distinct units, minus RSS before (bytes/unit;
 *     goal ≤ 200 at 1,000,000 units).
 *  2. Those units written to a real SQLite file, then a fresh core restored
 *     from it: seconds to correct counts (goal ≤ 30 s at 1,000,000; the
 *     broker's retained replay on top is measured by the fault suite).
 * Peer in the same run: `sqlite3`-level cost of reading the same rows with
 * no apply (SELECT over the table), so the ratio isolates Vigie's own work.
 *
 * usage: gateway-restart [UNITS [DIR]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <malloc.h>
#include <sqlite3.h>

#include "benchkit.h"
#include "gw_core.h"
#include "gw_store.h"
#include "vigie/region.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * sysconf(_SC_PAGESIZE);
}

static void fill(struct gw_core *c, struct gw_store *st, long units)
{
	struct gw_batch b = { 0 };
	struct gw_msg m;
	char payload[320];

	for (long u = 0; u < units; u++) {
		struct vg_unit_status *s = &m.u.st;
		memset(&m, 0, sizeof(m));
		m.kind = GW_MSG_UNIT;
		s->program = (enum vg_program)(u % 2);
		s->region = (int)(u % VG_REGION_COUNT) + 1;
		snprintf(s->site, sizeof(s->site), "site-%02d-%04ld", s->region,
			 (u / 64) % 10000);
		snprintf(s->unit, sizeof(s->unit), "unit-%07ld", u);
		s->state = (enum vg_state)(u % 5);
		s->seq = 1700000000000LL + u;
		s->ts = 1795370400;
		(void)payload;
		if (gw_core_apply(c, &m) != VG_REJ_NONE)
			exit(1);
		if (u % 20000 == 19999 || u == units - 1) { /* as store_ms */
			gw_core_take(c, &b);
			if (st && gw_store_write(st, &b) != 0)
				exit(1);
			gw_batch_clear(&b);
		}
	}
	gw_batch_free(&b);
}

/* The peer: read every row of the unit table and do nothing with it. */
static double bare_select(const char *dir)
{
	char path[4096];
	sqlite3 *db;
	sqlite3_stmt *s;
	double t0 = bench_now_s();
	long n = 0;

	snprintf(path, sizeof(path), "%s/vigie.db", dir);
	sqlite3_open(path, &db);
	sqlite3_prepare_v2(db, "SELECT program, site, unit, region, state, seq,"
			   " since, source, fault IS NOT NULL, removed FROM unit",
			   -1, &s, NULL);
	while (sqlite3_step(s) == SQLITE_ROW)
		n += sqlite3_column_bytes(s, 1) > 0;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n ? bench_now_s() - t0 : -1;
}

int main(int argc, char **argv)
{
	long units = argc > 1 ? atol(argv[1]) : 1000000;
	char tmpl[] = "/tmp/vigie-bench-XXXXXX", err[256];
	const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
	struct gw_core *a, *b;
	struct gw_store *st;
	struct vg_counts ka, kb;
	long rss0, rss1, loaded;
	double t0, load_s, peer_s;

	if (units < 1 || !dir)
		return 2;
	mallopt(M_MMAP_THRESHOLD, 256 * 1024); /* as vigie-gateway does */
	rss0 = rss_bytes();
	a = gw_core_new();
	fill(a, NULL, units);
	rss1 = rss_bytes();
	printf("gateway-restart: %ld units\n", units);
	printf("  memory: %.1f bytes/unit (RSS %ld -> %ld KiB)\n",
	       (double)(rss1 - rss0) / (double)units, rss0 / 1024, rss1 / 1024);
	gw_core_free(a);

	st = gw_store_open(dir, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	a = gw_core_new();
	t0 = bench_now_s();
	fill(a, st, units);
	printf("  store write: %.2f s (%.0f units/s, batched)\n", bench_now_s() - t0,
	       (double)units / (bench_now_s() - t0));
	gw_store_close(st);

	b = gw_core_new();
	st = gw_store_open(dir, err, sizeof(err));
	t0 = bench_now_s();
	loaded = gw_store_load(st, b);
	load_s = bench_now_s() - t0;
	gw_store_close(st);
	peer_s = bare_select(dir);
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		gw_core_counts(a, p, VG_REGION_ALL, &ka);
		gw_core_counts(b, p, VG_REGION_ALL, &kb);
		if (memcmp(&ka, &kb, sizeof(ka)) != 0 || loaded != units) {
			fprintf(stderr, "restored counts differ\n");
			return 1;
		}
	}
	printf("  restart from store: %.2f s to correct counts\n", load_s);
	printf("  peer (bare SELECT of the same rows): %.2f s; ratio %.2f\n",
	       peer_s, load_s / peer_s);
	gw_core_free(a);
	gw_core_free(b);
	if (argc <= 2) {
		snprintf(err, sizeof(err), "rm -rf %s", dir);
		if (system(err) != 0)
			return 1;
	}
	return 0;
}
