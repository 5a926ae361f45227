/*
 * The projection's arithmetic (gateway/gw_project.c): least squares over
 * the percentage sampled at evenly spaced instants, projected to the due
 * date, clamped, and refused when history is too short or the due date is
 * past.  The module is compiled into this test directly: it is pure and is
 * not part of libgw (the core the benches link).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gateway/gw_project.c"

#define DAY 86400

/* Points exactly at the 64 sample instants, on the line a + b*t (bp/day):
 * the fit must then find the line itself. */
static void test_exact_line(void **state)
{
	struct gw_hist_pt pts[GW_PROJECT_SAMPLES];
	struct gw_projection pj;
	int64_t now = 1700000000, window = 30 * DAY, start = now - window;

	(void)state;
	for (int i = 0; i < GW_PROJECT_SAMPLES; i++) {
		int64_t t = start + window * i / (GW_PROJECT_SAMPLES - 1);
		/* 40 % rising 10 points over the window: eligible 3000 makes
		 * every sample an exact basis point */
		pts[i].at = t;
		pts[i].eligible = 3000;
		pts[i].migrated = 1200 + (uint64_t)(300 * (t - start) / window);
	}
	gw_project_fit(pts, GW_PROJECT_SAMPLES, now, window, now + 60 * DAY,
		       7500, &pj);
	assert_true(pj.ok);
	assert_int_equal(pj.samples, GW_PROJECT_SAMPLES);
	assert_int_equal(pj.from, start);
	/* 50 % now, +1/3 point a day: 70 % sixty days on */
	/* migrated counts are whole units: a few basis points of slack */
	assert_true(pj.bp >= 6995 && pj.bp <= 7005);
	assert_false(pj.on_track);
	assert_true(pj.slope_bp_day > 33.2 && pj.slope_bp_day < 33.4);
	gw_project_fit(pts, GW_PROJECT_SAMPLES, now, window, now + 60 * DAY,
		       7000, &pj);
	assert_true(pj.on_track == (pj.bp >= 7000));
}

static void test_flat_history_projects_itself(void **state)
{
	struct gw_hist_pt pts[] = { { 1000, 51, 100 } };
	struct gw_projection pj;

	(void)state;
	gw_project_fit(pts, 1, 1000 + 10 * DAY, 30 * DAY, 1000 + 100 * DAY,
		       5100, &pj);
	assert_true(pj.ok);
	assert_int_equal(pj.bp, 5100);
	assert_true(pj.on_track);
	assert_int_equal(pj.from, 1000); /* history starts after the window */
}

/* A point before the window gives the value in force at its start. */
static void test_prior_point_and_clamp(void **state)
{
	struct gw_hist_pt pts[] = { { 0, 0, 10 }, { 20 * DAY, 10, 10 } };
	struct gw_projection pj;
	int64_t now = 30 * DAY;

	(void)state;
	gw_project_fit(pts, 2, now, 20 * DAY, now + 365 * DAY, 7500, &pj);
	assert_true(pj.ok);
	assert_int_equal(pj.from, 10 * DAY);
	assert_int_equal(pj.bp, 10000); /* steep rise: clamped at 100 % */
	pts[0].migrated = 10;
	pts[1].migrated = 0;
	gw_project_fit(pts, 2, now, 20 * DAY, now + 365 * DAY, 7500, &pj);
	assert_int_equal(pj.bp, 0); /* and at 0 % */
	assert_false(pj.on_track);
}

static void test_refusals(void **state)
{
	struct gw_hist_pt pts[] = { { 1000, 5, 10 }, { 2000, 6, 10 } };
	struct gw_hist_pt empty[] = { { 1000, 0, 0 } };
	struct gw_projection pj;

	(void)state;
	/* less than an hour of history */
	gw_project_fit(pts, 2, 1000 + 1800, DAY, 10 * DAY, 5000, &pj);
	assert_false(pj.ok);
	/* due date already past */
	gw_project_fit(pts, 2, 10 * DAY, 30 * DAY, 5 * DAY, 5000, &pj);
	assert_false(pj.ok);
	/* nothing ever eligible: no percentage to fit */
	gw_project_fit(empty, 1, 10 * DAY, 30 * DAY, 50 * DAY, 5000, &pj);
	assert_false(pj.ok);
	gw_project_fit(pts, 0, 10 * DAY, 30 * DAY, 50 * DAY, 5000, &pj);
	assert_false(pj.ok);
}

static void test_json(void **state)
{
	struct gw_projection pj;
	char buf[512];

	(void)state;
	memset(&pj, 0, sizeof(pj));
	assert_int_equal(gw_project_json(&pj, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	pj.ok = true;
	pj.fy = 2024;
	pj.bp = 7235;
	pj.target_bp = 7500;
	pj.samples = 64;
	pj.window_days = 30;
	pj.slope_bp_day = 12.5;
	pj.from = 1700000000;
	assert_true(gw_project_json(&pj, buf, sizeof(buf)) > 0);
	assert_string_equal(buf,
		",\"projection\":{\"method\":\"least_squares\",\"window_days\":30,"
		"\"from\":\"2023-11-14T22:13:20Z\",\"samples\":64,"
		"\"slope_per_day\":0.1250,\"fiscal_year\":\"2024-2025\","
		"\"due\":\"2025-03-31\",\"percent\":72.35,\"target\":75.00,"
		"\"on_track\":false}");
	assert_true(gw_project_json(&pj, buf, 20) < 0);
}

/* After the plan: 10 units a day over the window, 300 short of 75 %:
 * the last target is reached 30 days on at that pace. */
static void test_pace_after_the_plan(void **state)
{
	struct gw_hist_pt pts[GW_PROJECT_SAMPLES];
	struct gw_projection pj;
	int64_t now = 1700000000, window = 30 * DAY, start = now - window;
	char buf[512];

	(void)state;
	for (int i = 0; i < GW_PROJECT_SAMPLES; i++) {
		int64_t t = start + window * i / (GW_PROJECT_SAMPLES - 1);
		pts[i].at = t;
		pts[i].eligible = 2000;
		pts[i].migrated = 900 + (uint64_t)(300 * (t - start) / window);
	}
	memset(&pj, 0, sizeof(pj));
	gw_project_pace(pts, GW_PROJECT_SAMPLES, now, window, 7500, &pj);
	assert_true(pj.pace_ok);
	assert_false(pj.ok);
	assert_true(pj.units_day > 9.9 && pj.units_day < 10.1);
	assert_int_equal(pj.needed, 300); /* 1500 of 2000, 1200 migrated */
	assert_true(pj.reach_at > now + 29 * DAY &&
		    pj.reach_at < now + 31 * DAY);
	pj.fy = 2024;
	assert_true(gw_project_json(&pj, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, ",\"pace\":{"));
	assert_non_null(strstr(buf, "\"units_per_week\":70.0"));
	assert_non_null(strstr(buf, "\"units_needed\":300"));
	/* no progress: never at this pace; met: nothing needed */
	for (int i = 0; i < GW_PROJECT_SAMPLES; i++)
		pts[i].migrated = 1200;
	gw_project_pace(pts, GW_PROJECT_SAMPLES, now, window, 7500, &pj);
	assert_true(pj.pace_ok && pj.reach_at == 0 && pj.needed == 300);
	assert_true(gw_project_json(&pj, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"reached_by\":null"));
	gw_project_pace(pts, GW_PROJECT_SAMPLES, now, window, 5000, &pj);
	assert_true(pj.pace_ok && pj.needed == 0 && pj.reach_at == 0);
}

/* A target is due at the end of March 31 in Quebec, on a Tokyo server
 * too: 2025-04-01T04:00:00Z (midnight EDT), not the server's midnight. */
static void test_due_time_is_quebec_midnight(void **state)
{
	(void)state;
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	assert_int_equal(gw_project_due_time(2024), 1743480000);
	assert_int_equal(gw_project_due_time(2023), 1711944000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pace_after_the_plan),
		cmocka_unit_test(test_exact_line),
		cmocka_unit_test(test_flat_history_projects_itself),
		cmocka_unit_test(test_prior_point_and_clamp),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_due_time_is_quebec_midnight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
