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
#include "vigie/err.h"
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

/* No unit of a program in a region is counted, in any state. */
static bool none_counted(struct gw_core *c, int p, int region)
{
	struct vg_counts k;

	gw_core_counts(c, p, region, &k);
	for (int i = 0; i < VG_STATE_COUNT; i++) {
		if (k.n[i])
			return false;
	}
	return k.stale == 0;
}

/* "state":"removed" (the agent's tombstone) removes the unit as an empty
 * payload does, and its seq orders it like any status. */
static void test_removed_status_removes_in_order(void **s)
{
	struct gw_core *c = gw_core_new();
	struct gw_batch b = { 0 };
	(void)s;
	unit_msg(c, "renir", "06", "a", "u", "pending", 5,
		 ",\"fault\":\"timeout\"");
	/* older than what is applied: refused, the unit stays */
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "removed", 4,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(count(c, 0, 6, VG_STATE_PENDING), 1);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "removed", 6,
				  NULL), VG_REJ_NONE);
	/* out of every count, stale included: never eligible */
	assert_true(none_counted(c, 0, 6));
	assert_true(none_counted(c, 0, VG_REGION_ALL));
	assert_int_equal(gw_core_units(c), 0);
	/* the tombstone keeps its seq: older statuses cannot resurrect it,
	 * the same one is a duplicate, an empty payload changes nothing */
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "migrated", 5,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "removed", 6,
				  NULL), VG_REJ_NONE);
	assert_int_equal(gw_core_stats(c)->duplicates, 1);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/unit/renir/06/a/u", ""), VG_REJ_NONE);
	assert_int_equal(gw_core_units(c), 0);
	gw_core_take(c, &b);
	assert_int_equal(b.nrows, 1);
	assert_true(b.rows[0].removed);
	assert_int_equal(b.rows[0].seq, 6);
	assert_int_equal(b.ntrans, 2);
	assert_int_equal(b.trans[1].from, VG_STATE_PENDING);
	assert_int_equal(b.trans[1].to, -1);
	/* a newer status brings the unit back */
	assert_int_equal(unit_msg(c, "renir", "06", "a", "u", "migrated", 7,
				  NULL), VG_REJ_NONE);
	assert_int_equal(count(c, 0, 6, VG_STATE_MIGRATED), 1);
	assert_int_equal(gw_core_units(c), 1);
	gw_batch_free(&b);
	gw_core_free(c);
}

/* A tombstone for a unit never seen (a gateway that starts after the
 * removal) leaves a record with its seq, counted nowhere. */
static void test_removed_status_of_an_unseen_unit(void **s)
{
	struct gw_core *c = gw_core_new();
	struct gw_batch b = { 0 };
	(void)s;
	assert_int_equal(unit_msg(c, "rgt", "09", "cn", "l", "removed", 8,
				  NULL), VG_REJ_NONE);
	assert_true(none_counted(c, 1, 9));
	assert_int_equal(gw_core_units(c), 0);
	assert_int_equal(unit_msg(c, "rgt", "09", "cn", "l", "pending", 7,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(gw_core_units(c), 0);
	gw_core_take(c, &b);
	assert_int_equal(b.nrows, 1);
	assert_true(b.rows[0].removed);
	assert_int_equal(b.rows[0].region, 9);
	assert_int_equal(b.rows[0].seq, 8);
	assert_int_equal(b.ntrans, 0); /* nothing was counted, nothing moved */
	/* the site's receipt covers the tombstone's seq */
	assert_true(gw_core_take_receipts(c));
	gw_batch_free(&b);
	gw_core_free(c);
}

/* With an inventory the unit stays in the denominator, as unknown. */
static void test_removed_status_of_a_listed_unit(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	assert_int_equal(gw_core_bind_site(c, "q", 3), VG_REJ_NONE);
	assert_int_equal(gw_core_inventory_unit(c, "q", 0, "u"), VG_OK);
	unit_msg(c, "renir", "03", "q", "u", "migrated", 3, NULL);
	assert_int_equal(unit_msg(c, "renir", "03", "q", "u", "removed", 4,
				  NULL), VG_REJ_NONE);
	assert_int_equal(count(c, 0, 3, VG_STATE_MIGRATED), 0);
	assert_int_equal(count(c, 0, 3, VG_STATE_UNKNOWN), 1);
	assert_int_equal(unit_msg(c, "renir", "03", "q", "u", "migrated", 3,
				  NULL), VG_REJ_STALE_SEQ);
	assert_int_equal(unit_msg(c, "renir", "03", "q", "x", "removed", 4,
				  NULL), VG_REJ_UNIT_UNKNOWN);
	gw_core_free(c);
}

/* A status of renir in region 06 at site a, with its own ts. */
static enum vg_reject at(struct gw_core *c, const char *unit,
			 const char *state, long seq, const char *ts)
{
	char topic[VG_TOPIC_MAX], payload[512];

	snprintf(topic, sizeof(topic), "vigie/v1/unit/renir/06/a/%s", unit);
	snprintf(payload, sizeof(payload),
		 "{\"v\":1,\"program\":\"renir\",\"region\":\"06\","
		 "\"site\":\"a\",\"unit\":\"%s\",\"state\":\"%s\","
		 "\"seq\":%ld,\"ts\":\"%s\"}", unit, state, seq, ts);
	return gw_kit_feed(c, topic, payload);
}

#define T1 "2026-11-22T10:00:00Z"
#define T2 "2026-11-22T11:00:00Z"
#define T3 "2026-11-22T12:00:00Z"
#define T4 "2026-11-22T13:00:00Z"
static const int64_t t1 = 1795341600, t2 = t1 + 3600, t3 = t2 + 3600,
		     t4 = t3 + 3600;

/*
 * A summary's date is the newest ts of its scope's records: it follows
 * the records as they are, up when a newer status lands, back down when
 * the newest is cleared by an empty payload, never the gateway's clock.
 */
static void test_newest_follows_the_records(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	assert_int_equal(gw_core_newest(c, 0, 6), 0);
	assert_int_equal(gw_core_data_time(c), 0);
	at(c, "u1", "pending", 1, T1);
	at(c, "u2", "pending", 2, T3);
	assert_int_equal(gw_core_newest(c, 0, 6), t3);
	assert_int_equal(gw_core_newest(c, 0, VG_REGION_ALL), t3);
	assert_int_equal(gw_core_newest(c, 1, 6), 0);
	assert_int_equal(gw_core_newest(c, 0, 7), 0);
	/* u2's newer status, dated earlier (the agent's clock went back):
	 * the newest is found among the records again */
	at(c, "u2", "migrated", 3, T2);
	assert_int_equal(gw_core_newest(c, 0, 6), t2);
	/* a removed status dates its tombstone; an empty payload clears */
	at(c, "u1", "removed", 4, T4);
	assert_int_equal(gw_core_newest(c, 0, 6), t4);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/unit/renir/06/a/u1", ""),
			 VG_REJ_NONE);
	assert_int_equal(gw_core_newest(c, 0, 6), t2);
	assert_int_equal(gw_core_data_time(c), t2);
	/* a change of date alone makes the summary due again */
	gw_core_take_dirty(c, 0);
	at(c, "u2", "migrated", 5, T3);
	assert_int_equal(gw_core_take_dirty(c, 0), (1u << 6) | 1u);
	gw_core_free(c);
}

/*
 * Two gateways on one stream: one saw every message, the other started
 * late and read only what the broker retains (the last status of each
 * unit, tombstones as removed statuses, nothing of an empty payload).
 * Counts, dates, receipts and the unit that flipped a target agree.
 */
static void test_two_histories_one_state(void **s)
{
	struct gw_core *a = gw_core_new(), *b = gw_core_new();
	struct gw_trigger ta, tb;
	struct vg_counts ka, kb;
	(void)s;
	gw_core_set_target(a, 0, 5000);
	gw_core_set_target(b, 0, 5000);
	at(a, "u1", "pending", 1, T1);
	at(a, "u2", "migrated", 2, T2);
	at(a, "u3", "pending", 3, T4);
	gw_kit_feed(a, "vigie/v1/unit/renir/06/a/u3", "");
	at(a, "u4", "migrating", 5, T2);
	at(a, "u4", "removed", 6, T3);
	at(a, "u1", "migrated", 7, T1);
	/* the retained state, in another order */
	at(b, "u1", "migrated", 7, T1);
	at(b, "u4", "removed", 6, T3);
	at(b, "u2", "migrated", 2, T2);
	for (int r = 0; r <= 7; r += 6) {
		gw_core_counts(a, 0, r, &ka);
		gw_core_counts(b, 0, r, &kb);
		assert_memory_equal(&ka, &kb, sizeof(ka));
		assert_int_equal(gw_core_newest(a, 0, r), gw_core_newest(b, 0, r));
	}
	assert_int_equal(gw_core_newest(a, 0, 6), t3);
	assert_int_equal(gw_core_data_time(a), gw_core_data_time(b));
	/* the receipt: the highest seq, dated by its status, not the clock */
	assert_int_equal(gw_units_site(gw_core_table(a), 0)->receipt_seq, 7);
	assert_int_equal(gw_units_site(gw_core_table(a), 0)->receipt_ts, t1);
	assert_int_equal(gw_units_site(gw_core_table(b), 0)->receipt_ts, t1);
	/* from here both see the same messages: the status that flips the
	 * target (2 of 2, then 2 of 3 at 70 %) is the same in both */
	gw_core_set_target(a, 0, 7000);
	gw_core_set_target(b, 0, 7000);
	at(a, "u5", "pending", 9, T2);
	at(b, "u5", "pending", 9, T2);
	assert_true(gw_core_trigger(a, 0, 6, &ta));
	assert_true(gw_core_trigger(b, 0, VG_REGION_ALL, &tb));
	assert_string_equal(ta.unit, "u5");
	assert_int_equal(ta.seq, 9);
	assert_string_equal(tb.site, "a");
	assert_string_equal(tb.unit, "u5");
	assert_int_equal(tb.seq, 9);
	gw_core_free(a);
	gw_core_free(b);
}

/* The unit whose status last flipped the met state is the trigger; a
 * change of target starts afresh, with none. */
static void test_trigger_is_the_last_flip(void **s)
{
	struct gw_core *c = gw_core_new();
	struct gw_trigger t;
	(void)s;
	at(c, "u1", "migrated", 1, T1);
	assert_false(gw_core_trigger(c, 0, 6, &t)); /* no target yet */
	gw_core_set_target(c, 0, 5000);
	assert_false(gw_core_trigger(c, 0, 6, &t)); /* met, not flipped */
	at(c, "u2", "pending", 2, T1);               /* 1 of 2: still met */
	assert_false(gw_core_trigger(c, 0, 6, &t));
	at(c, "u3", "pending", 3, T1);               /* 1 of 3: lost */
	assert_true(gw_core_trigger(c, 0, 6, &t));
	assert_string_equal(t.unit, "u3");
	at(c, "u2", "migrated", 4, T1);              /* 2 of 3: met */
	at(c, "u1", "migrated", 5, T2);              /* still met */
	assert_true(gw_core_trigger(c, 0, 6, &t));
	assert_string_equal(t.unit, "u2");
	assert_int_equal(t.seq, 4);
	gw_core_set_target(c, 0, 5000);              /* the same: kept */
	assert_true(gw_core_trigger(c, 0, 6, &t));
	gw_core_set_target(c, 0, 7000);
	assert_false(gw_core_trigger(c, 0, 6, &t));
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

/* A region cut off behind its bridge: its sites' healthy units are stale
 * until the bridge is back, whatever their presence said before the cut;
 * a site whose will came meanwhile stays stale after it. */
static void test_stale_while_a_regions_bridge_is_down(void **s)
{
	struct gw_core *c = gw_core_new();
	(void)s;
	unit_msg(c, "renir", "03", "q", "u1", "migrated", 1, NULL);
	unit_msg(c, "renir", "03", "q", "u2", "pending", 1,
		 ",\"fault\":\"timeout\"");
	unit_msg(c, "renir", "03", "r", "u3", "pending", 1, NULL);
	unit_msg(c, "rgt", "06", "m", "l1", "pending", 1, NULL);
	assert_int_equal(count(c, 0, 3, -1), 1); /* the fault */
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/03", "0"),
			 VG_REJ_NONE);
	assert_true(gw_core_bridge_down(c, 3));
	assert_int_equal(count(c, 0, 3, -1), 3);
	assert_int_equal(count(c, 1, 6, -1), 0); /* another region */
	/* a duplicate changes nothing; counts stay as last known */
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/03", "0"),
			 VG_REJ_NONE);
	assert_int_equal(count(c, 0, 3, -1), 3);
	assert_int_equal(count(c, 0, 3, VG_STATE_MIGRATED), 1);
	/* a unit that arrives during the cut (from a later replay) is stale */
	unit_msg(c, "renir", "03", "r", "u4", "migrated", 1, NULL);
	assert_int_equal(count(c, 0, 3, -1), 4);
	/* site r's will arrives through the bridge as it comes back */
	assert_int_equal(gw_kit_feed(c, "vigie/v1/agent/r",
			     "{\"v\":1,\"site\":\"r\",\"region\":\"03\","
			     "\"online\":false,\"ts\":\"2026-11-22T18:00:00Z\"}"),
			 VG_REJ_NONE);
	assert_int_equal(count(c, 0, 3, -1), 4);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/03", "1"),
			 VG_REJ_NONE);
	assert_false(gw_core_bridge_down(c, 3));
	assert_int_equal(count(c, 0, 3, -1), 3); /* u2's fault, r's two */
	/* no notification at all is no news of a cut; junk is refused */
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/03", ""),
			 VG_REJ_NONE);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/03", "down"),
			 VG_REJ_MALFORMED);
	assert_int_equal(gw_kit_feed(c, "vigie/v1/bridge/18", "0"),
			 VG_REJ_TOPIC);
	assert_int_equal(count(c, 0, 3, -1), 3);
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
		cmocka_unit_test(test_removed_status_removes_in_order),
		cmocka_unit_test(test_removed_status_of_an_unseen_unit),
		cmocka_unit_test(test_removed_status_of_a_listed_unit),
		cmocka_unit_test(test_newest_follows_the_records),
		cmocka_unit_test(test_two_histories_one_state),
		cmocka_unit_test(test_trigger_is_the_last_flip),
		cmocka_unit_test(test_stale_follows_presence_and_faults),
		cmocka_unit_test(test_stale_while_a_regions_bridge_is_down),
		cmocka_unit_test(test_batch_coalesces_rows_and_keeps_transitions),
		cmocka_unit_test(test_transition_is_dated_by_arrival_not_payload),
		cmocka_unit_test(test_dirty_regions),
		cmocka_unit_test(test_many_units_grow_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
