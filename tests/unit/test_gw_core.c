/*
 * Unit tests of the gateway core: the ordering rules, removal, stale
 * accounting, site-region binding and the store batch, driven through the
 * same decode + apply path as live MQTT messages.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gw_core.h"
#include "gw_kit.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

static enum vg_reject unit_msg(struct gw_core *c, const char *prog,
			       const char *region, const char *site,
			       const char *unit, const char *state, long seq,
			       const char *extra)
{
	char topic[VG_TOPIC_MAX], payload[512];
	struct gw_msg m;
	enum vg_reject r;

	snprintf(topic, sizeof(topic), "vigie/v1/unit/%s/%s/%s/%s", prog,
		 region, site, unit);
	snprintf(payload, sizeof(payload),
		 "{\"v\":1,\"program\":\"%s\",\"region\":\"%s\",\"site\":\"%s\","
		 "\"unit\":\"%s\",\"state\":\"%s\",\"seq\":%ld,"
		 "\"ts\":\"2026-11-22T18:00:00Z\"%s}",
		 prog, region, site, unit, state, seq, extra ? extra : "");
	r = gw_core_decode("", topic, payload, strlen(payload), &m);
	if (r != VG_REJ_NONE) {
		gw_core_count_reject(c, r);
		return r;
	}
	return gw_core_apply(c, &m);
}

static uint64_t count(struct gw_core *c, int p, int region, int state)
{
	struct vg_counts k;
	gw_core_counts(c, p, region, &k);
	return state < 0 ? k.stale : k.n[state];
}

static void test_older_seq_never_rolls_back(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "migrated", 10,
				  NULL), VG_REJ_NONE);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "pending", 9,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "pending", 10,
				  NULL), VG_REJ_NONE); /* duplicate: ignored */
	assert_int_equal(count(c, 0, 6, VG_STATE_MIGRATED), 1);
	assert_int_equal(count(c, 0, 6, VG_STATE_PENDING), 0);
	assert_int_equal(gw_core_stats(c)->duplicates, 1);
	assert_int_equal(gw_core_stats(c)->rejected[VG_REJ_STALE_SEQ], 1);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "pending", 11,
				  NULL), VG_REJ_NONE);
	assert_int_equal(count(c, 0, 6, VG_STATE_MIGRATED), 0);
	assert_int_equal(count(c, 0, VG_REGION_ALL, VG_STATE_PENDING), 1);
	gw_core_free(c);
}

static void test_same_unit_id_in_two_programs_is_two_units(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "renir", "06", "a", "u", "migrated", 1, NULL);
	unit_msg(c, "rgt", "06", "a", "u", "pending", 1, NULL);
	assert_int_equal(count(c, 0, 6, VG_STATE_MIGRATED), 1);
	assert_int_equal(count(c, 1, 6, VG_STATE_PENDING), 1);
	assert_int_equal(gw_core_units(c), 2);
	gw_core_free(c);
}

static void test_site_is_bound_to_its_first_region(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "renir", "06", "a", "u1", "migrated", 1, NULL);
	assert_int_equal(unit_msg(c, "renir", "13", "a", "u2", "migrated", 1,
				  NULL), VG_REJ_SITE_REGION);
	assert_int_equal(count(c, 0, 13, VG_STATE_MIGRATED), 0);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/agent/a",
			     "{\"v\":1,\"site\":\"a\",\"region\":\"13\","
			     "\"online\":true}"), VG_REJ_SITE_REGION);
	gw_core_free(c);
}

static void test_removal_and_no_resurrection(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "renir", "06", "a", "u", "pending", 5, NULL);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/unit/renir/06/a/u", ""), VG_REJ_NONE);
	assert_int_equal(count(c, 0, 6, VG_STATE_PENDING), 0);
	assert_int_equal(gw_core_units(c), 0);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "pending", 4,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(gw_core_units(c), 0);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "migrated", 6,
				  NULL), VG_REJ_NONE);
	assert_int_equal(count(c, 0, 6, VG_STATE_MIGRATED), 1);
	gw_core_free(c);
}

static void test_stale_follows_presence_and_faults(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "renir", "03", "q", "u1", "migrated", 1, NULL);
	unit_msg(c, "renir", "03", "q", "u2", "pending", 1,
		 ",\"fault\":\"timeout\"");
	unit_msg(c, "rgt", "03", "q", "l1", "pending", 1, NULL);
	assert_int_equal(count(c, 0, 3, -1), 1);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/agent/q",
			     "{\"v\":1,\"site\":\"q\",\"region\":\"03\","
			     "\"online\":false,\"ts\":\"2026-11-22T18:00:00Z\"}"),
			 VG_REJ_NONE);
	assert_int_equal(count(c, 0, 3, -1), 2);
	assert_int_equal(count(c, 1, 3, -1), 1);
	/* last known states still count while stale */
	assert_int_equal(count(c, 0, 3, VG_STATE_MIGRATED), 1);
	/* an older presence does not undo a newer one */
	assert_int_equal(gw_kit_feed(c, "vigie/v1/agent/q",
			     "{\"v\":1,\"site\":\"q\",\"region\":\"03\","
			     "\"online\":true,\"ts\":\"2026-11-22T17:00:00Z\"}"),
			 VG_REJ_STALE_SEQ);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/agent/q",
			     "{\"v\":1,\"site\":\"q\",\"region\":\"03\","
			     "\"online\":true,\"ts\":\"2026-11-22T19:00:00Z\"}"),
			 VG_REJ_NONE);
	assert_int_equal(count(c, 0, 3, -1), 1);
	unit_msg(c, "renir", "03", "q", "u2", "pending", 2, NULL);
	assert_int_equal(count(c, 0, VG_REGION_ALL, -1), 0);
	gw_core_free(c);
}

static void test_batch_coalesces_rows_and_keeps_transitions(void **s)
{
	struct gw_core *c = gw_core_new();
	struct gw_batch b = { 0 };
	(void)s;
	unit_msg(c, "renir", "06", "a", "u", "pending", 1, NULL);
	unit_msg(c, "renir", "06", "a", "u", "migrating", 2, NULL);
	unit_msg(c, "renir", "06", "a", "u", "migrated", 3, NULL);
	gw_core_take(c, &b);
	assert_int_equal(b.nrows, 1);
	assert_string_equal(b.rows[0].unit, "u");
	assert_int_equal(b.rows[0].state, VG_STATE_MIGRATED);
	assert_int_equal(b.rows[0].seq, 3);
	assert_int_equal(b.ntrans, 3);
	assert_int_equal(b.trans[0].from, -1);
	assert_int_equal(b.trans[2].from, VG_STATE_MIGRATING);
	gw_batch_clear(&b);
	unit_msg(c, "renir", "06", "a", "u", "retired", 4, NULL);
	gw_core_take(c, &b);
	assert_int_equal(b.nrows, 1);
	assert_int_equal(b.rows[0].state, VG_STATE_RETIRED);
	gw_batch_free(&b);
	gw_core_free(c);
}

/* A transition is dated when the gateway applies it, whatever the payload
 * says: a backdated since (or ts) must not rewrite a closed fiscal year.
 * The wall clock is bracketed, not timed. */
static void test_transition_is_dated_by_arrival_not_payload(void **s)
{
	struct gw_core *c = gw_core_new();
	struct gw_batch b = { 0 };
	int64_t before, after;
	(void)s;
	before = vg_now();
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "migrated", 1,
				  ",\"since\":\"2023-06-01T00:00:00Z\""),
			 VG_REJ_NONE);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "v", "pending", 1,
				  NULL), VG_REJ_NONE);
	after = vg_now();
	gw_core_take(c, &b);
	assert_int_equal(b.ntrans, 2);
	for (size_t i = 0; i < b.ntrans; i++) {
		assert_in_range(b.trans[i].at, before, after);
	}
	/* since is still kept, to be shown */
	assert_int_equal(b.rows[0].since, 1685577600);
	gw_batch_free(&b);
	gw_core_free(c);
}

static void test_dirty_regions(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "rgt", "09", "cn", "l", "pending", 1, NULL);
	assert_int_equal(gw_core_take_dirty(c, 1), (1u << 9) | 1u);
	assert_int_equal(gw_core_take_dirty(c, 1), 0);
	assert_int_equal(gw_core_take_dirty(c, 0), 0);
	gw_core_free(c);
}

static void test_many_units_grow_tables(void **s)
{
	struct gw_core *c = gw_core_new();
	char site[32], unit[32];
	(void)s;
	for (int i = 0; i < 100000; i++) {
		snprintf(site, sizeof(site), "s%d", i % 300);
		snprintf(unit, sizeof(unit), "u%d", i);
		assert_int_equal(unit_msg(c, "renir", "16", site, unit,
					  i % 2 ? "migrated" : "pending", 1,
					  NULL), VG_REJ_NONE);
	}
	assert_int_equal(gw_core_units(c), 100000);
	assert_int_equal(gw_core_sites(c), 300);
	assert_int_equal(count(c, 0, 16, VG_STATE_MIGRATED), 50000);
	/* every unit is still found after the tables grew */
	assert_int_equal(unit_msg(c, "renir", "16", "s7", "u7", "pending", 1,
				  NULL), VG_REJ_NONE);
	assert_int_equal(gw_core_stats(c)->duplicates, 1);
	gw_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_older_seq_never_rolls_back),
		cmocka_unit_test(test_same_unit_id_in_two_programs_is_two_units),
		cmocka_unit_test(test_site_is_bound_to_its_first_region),
		cmocka_unit_test(test_removal_and_no_resurrection),
		cmocka_unit_test(test_stale_follows_presence_and_faults),
		cmocka_unit_test(test_batch_coalesces_rows_and_keeps_transitions),
		cmocka_unit_test(test_transition_is_dated_by_arrival_not_payload),
		cmocka_unit_test(test_dirty_regions),
		cmocka_unit_test(test_many_units_grow_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
