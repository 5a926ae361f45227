/*
 * The SQLite store on a real database file: what the core queued comes
 * back identical after a reopen (units, tombstones, sites, faults), and a
 * directory that cannot hold a database is a clear error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_core.h"
#include "gw_store.h"

static void apply(struct gw_core *c, const char *topic, const char *payload)
{
	struct gw_msg m;
	assert_int_equal(gw_core_decode("", topic, payload, strlen(payload),
					&m), VG_REJ_NONE);
	assert_int_equal(gw_core_apply(c, &m), VG_REJ_NONE);
}

static void unit(struct gw_core *c, const char *u, const char *state,
		 int seq, const char *extra)
{
	char t[128], p[512];
	snprintf(t, sizeof(t), "vigie/v1/unit/rgt/11/gim/%s", u);
	snprintf(p, sizeof(p),
		 "{\"v\":1,\"program\":\"rgt\",\"region\":\"11\",\"site\":\"gim\","
		 "\"unit\":\"%s\",\"state\":\"%s\",\"seq\":%d,"
		 "\"ts\":\"2026-11-22T18:00:00Z\"%s}", u, state, seq, extra);
	apply(c, t, p);
}

static void test_round_trip(void **s)
{
	char dir[] = "/tmp/vigie-store-XXXXXX", err[256];
	struct gw_core *a = gw_core_new(), *b = gw_core_new();
	struct gw_batch batch = { 0 };
	struct gw_store *st;
	struct vg_counts ka, kb;
	struct gw_msg m;
	(void)s;

	assert_non_null(mkdtemp(dir));
	st = gw_store_open(dir, err, sizeof(err));
	assert_non_null(st);
	unit(a, "l1", "migrated", 1, "");
	unit(a, "l2", "pending", 1, ",\"fault\":\"crc error\"");
	unit(a, "l3", "retired", 1, "");
	unit(a, "l4", "pending", 1, "");
	apply(a, "vigie/v1/agent/gim",
	      "{\"v\":1,\"site\":\"gim\",\"region\":\"11\",\"online\":false,"
	      "\"ts\":\"2026-11-22T18:00:00Z\"}");
	assert_int_equal(gw_core_decode("", "vigie/v1/unit/rgt/11/gim/l4", "",
					0, &m), VG_REJ_NONE);
	assert_int_equal(gw_core_apply(a, &m), VG_REJ_NONE);
	/* a removed status: a tombstone dated by its ts, the newest here */
	apply(a, "vigie/v1/unit/rgt/11/gim/l5",
	      "{\"v\":1,\"program\":\"rgt\",\"region\":\"11\",\"site\":"
	      "\"gim\",\"unit\":\"l5\",\"state\":\"removed\",\"seq\":3,"
	      "\"ts\":\"2026-11-22T19:00:00Z\"}");
	assert_int_equal(gw_core_newest(a, 1, 11), 1795374000);
	gw_core_take(a, &batch);
	assert_int_equal(gw_store_write(st, &batch), 0);
	gw_store_close(st);

	st = gw_store_open(dir, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(gw_store_load(st, b), 5); /* with the tombstones */
	/* summaries are dated alike after a restart: the ts is stored */
	assert_int_equal(gw_core_newest(b, 1, 11), 1795374000);
	gw_core_counts(a, 1, 11, &ka);
	gw_core_counts(b, 1, 11, &kb);
	assert_memory_equal(&ka, &kb, sizeof(ka));
	assert_int_equal(kb.stale, 3); /* site offline: every live unit */
	assert_int_equal(gw_core_units(b), 3);
	/* the tombstone keeps its seq: an old message cannot resurrect l4 */
	unit(b, "l4", "pending", 2, "");
	assert_int_equal(gw_core_units(b), 4);
	assert_int_equal(gw_store_ping(st), 1);
	gw_store_close(st);
	gw_batch_free(&batch);
	gw_core_free(a);
	gw_core_free(b);
	snprintf(err, sizeof(err), "rm -rf %s", dir);
	assert_int_equal(system(err), 0);
}

static void test_unusable_directory(void **s)
{
	char err[256] = "";
	(void)s;
	assert_null(gw_store_open("/nonexistent/dir", err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/dir/vigie.db"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_unusable_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
