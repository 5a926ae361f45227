/*
 * What one site's credential must not be able to do to the NOC's picture,
 * at the gateway core: freeze a unit or a site with a far-future seq or
 * session, pass a service account off as a site, leave a trace with a
 * refused site, or keep a frozen agent "online" with its birth.  Receipts
 * follow what the gateway has processed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "gw_core.h"
#include "gw_units.h"
#include "vigie/topic.h"

#define NOW_MS 1795370400000LL /* 2026-11-22T18:00:00Z */

static int64_t fixed_clock(void)
{
	return NOW_MS;
}

static struct gw_core *core(void)
{
	struct gw_core *c = gw_core_new();

	assert_non_null(c);
	gw_core_set_clock(c, fixed_clock);
	return c;
}

static enum vg_reject raw(struct gw_core *c, const char *topic,
			  const char *payload)
{
	struct gw_msg m;
	enum vg_reject r = gw_core_decode("", topic, payload, strlen(payload),
					  &m);
	return r != VG_REJ_NONE ? r : gw_core_apply(c, &m);
}

static enum vg_reject unit(struct gw_core *c, const char *site,
			   const char *state, long long seq)
{
	char t[VG_TOPIC_MAX], p[512];

	snprintf(t, sizeof(t), "vigie/v1/unit/renir/06/%s/u", site);
	snprintf(p, sizeof(p),
		 "{\"v\":1,\"program\":\"renir\",\"region\":\"06\","
		 "\"site\":\"%s\",\"unit\":\"u\",\"state\":\"%s\",\"seq\":%lld,"
		 "\"ts\":\"2026-11-22T18:00:00Z\"}", site, state, seq);
	return raw(c, t, p);
}

static enum vg_reject presence(struct gw_core *c, bool online,
			       long long session, const char *ts)
{
	char p[512];

	snprintf(p, sizeof(p),
		 "{\"v\":1,\"site\":\"a\",\"region\":\"06\",\"online\":%s,"
		 "\"session\":%lld,\"ts\":\"%s\",\"outbox\":3}",
		 online ? "true" : "false", session, ts);
	return raw(c, "vigie/v1/agent/a", p);
}

static uint64_t stale(struct gw_core *c)
{
	struct vg_counts k;

	gw_core_counts(c, VG_PROG_RENIR, 6, &k);
	return k.stale;
}

static void test_future_seq_cannot_freeze_a_unit(void **s)
{
	struct gw_core *c = core();

	(void)s;
	assert_int_equal(unit(c, "a", "pending", NOW_MS), VG_REJ_NONE);
	assert_int_equal(unit(c, "a", "migrated", 9007199254740991LL),
			 VG_REJ_FUTURE);
	/* within the margin: a field unit's clock may be a little ahead */
	assert_int_equal(unit(c, "a", "migrating", NOW_MS + 4 * 60 * 1000),
			 VG_REJ_NONE);
	assert_int_equal(unit(c, "a", "migrated", NOW_MS + 6 * 60 * 1000),
			 VG_REJ_FUTURE);
	/* the real agent can still move it on */
	assert_int_equal(unit(c, "a", "migrated", NOW_MS + 4 * 60 * 1000 + 1),
			 VG_REJ_NONE);
	assert_int_equal(gw_core_stats(c)->rejected[VG_REJ_FUTURE], 2);
	gw_core_free(c);
}

static void test_future_presence_cannot_freeze_a_site(void **s)
{
	struct gw_core *c = core();

	(void)s;
	assert_int_equal(presence(c, true, 9007199254740991LL,
				  "2026-11-22T18:00:00Z"), VG_REJ_FUTURE);
	assert_int_equal(presence(c, true, NOW_MS, "2099-01-01T00:00:00Z"),
			 VG_REJ_FUTURE);
	assert_int_equal(presence(c, true, NOW_MS, "2026-11-22T18:00:00Z"),
			 VG_REJ_NONE);
	gw_core_free(c);
}

/* The will of the current session wins whatever the clocks say; an
 * older session changes nothing; a newer one brings the site back. */
static void test_presence_ordered_by_session(void **s)
{
	struct gw_core *c = core();
	struct gw_units *t;

	(void)s;
	assert_int_equal(unit(c, "a", "pending", NOW_MS - 10), VG_REJ_NONE);
	assert_int_equal(presence(c, true, 1000, "2026-11-22T18:00:05Z"),
			 VG_REJ_NONE);
	assert_int_equal(stale(c), 0);
	/* will stamped earlier than its birth (slow CONNACK): still wins */
	assert_int_equal(presence(c, false, 1000, "2026-11-22T18:00:00Z"),
			 VG_REJ_NONE);
	assert_int_equal(stale(c), 1);
	/* a late birth of the same session cannot undo its own will */
	assert_int_equal(presence(c, true, 1000, "2026-11-22T18:00:09Z"),
			 VG_REJ_STALE_SEQ);
	assert_int_equal(stale(c), 1);
	/* an older session changes nothing */
	assert_int_equal(presence(c, true, 999, "2026-11-22T18:00:10Z"),
			 VG_REJ_STALE_SEQ);
	assert_int_equal(presence(c, true, 1001, "2026-11-22T17:00:00Z"),
			 VG_REJ_NONE);
	assert_int_equal(stale(c), 0);
	t = gw_core_table(c);
	assert_int_equal(gw_units_site(t, 0)->health.outbox, 3);
	assert_int_equal(gw_units_site(t, 0)->session, 1001);
	gw_core_free(c);
}

static void test_service_accounts_are_not_sites(void **s)
{
	struct gw_core *c = core();

	(void)s;
	assert_int_equal(unit(c, "vigie-dashboard", "migrated", NOW_MS),
			 VG_REJ_NOT_SITE);
	assert_int_equal(gw_core_units(c), 0);
	assert_int_equal(gw_core_sites(c), 0);
	gw_core_free(c);
}

static void test_refused_site_leaves_no_trace(void **s)
{
	struct gw_core *c = core();

	(void)s;
	assert_int_equal(gw_core_bind_site(c, "a", 6), VG_REJ_NONE);
	gw_core_close_sites(c);
	assert_int_equal(unit(c, "intruder", "migrated", NOW_MS),
			 VG_REJ_SITE_UNKNOWN);
	assert_int_equal(gw_core_sites(c), 1);
	assert_int_equal(gw_core_stats(c)->rejected[VG_REJ_SITE_UNKNOWN], 1);
	gw_core_free(c);
}

static void test_receipt_follows_processed_seq(void **s)
{
	struct gw_core *c = core();
	struct gw_site *site;

	(void)s;
	assert_false(gw_core_take_receipts(c));
	assert_int_equal(unit(c, "a", "pending", NOW_MS - 100), VG_REJ_NONE);
	assert_true(gw_core_take_receipts(c));
	site = gw_units_site(gw_core_table(c), 0);
	assert_int_equal(site->receipt_seq, NOW_MS - 100);
	/* dated by the status (its ts), not by the gateway's clock */
	assert_int_equal(site->receipt_ts, NOW_MS / 1000);
	/* an older message is processed too, but moves nothing */
	assert_int_equal(unit(c, "a", "migrated", NOW_MS - 200),
			 VG_REJ_STALE_SEQ);
	assert_false(gw_core_take_receipts(c));
	/* a refused one is not the NOC's */
	assert_int_equal(unit(c, "a", "migrated", NOW_MS + 3600000),
			 VG_REJ_FUTURE);
	assert_false(gw_core_take_receipts(c));
	assert_int_equal(site->receipt_seq, NOW_MS - 100);
	gw_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_future_seq_cannot_freeze_a_unit),
		cmocka_unit_test(test_future_presence_cannot_freeze_a_site),
		cmocka_unit_test(test_presence_ordered_by_session),
		cmocka_unit_test(test_service_accounts_are_not_sites),
		cmocka_unit_test(test_refused_site_leaves_no_trace),
		cmocka_unit_test(test_receipt_follows_processed_seq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
