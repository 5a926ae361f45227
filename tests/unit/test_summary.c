/*
 * Summaries: docs/protocol.md's arithmetic over counts and the plan, the retained
 * payload, and the strict decoder rollups rely on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/summary.h"
#include "vigie/topic.h"

#define TS 1795370400 /* 2026-11-22T18:00:00Z */

static struct vg_counts counts(uint64_t pending, uint64_t migrating,
			       uint64_t migrated, uint64_t retired,
			       uint64_t unknown, uint64_t stale)
{
	struct vg_counts c;

	memset(&c, 0, sizeof(c));
	c.n[VG_STATE_PENDING] = pending;
	c.n[VG_STATE_MIGRATING] = migrating;
	c.n[VG_STATE_MIGRATED] = migrated;
	c.n[VG_STATE_RETIRED] = retired;
	c.n[VG_STATE_UNKNOWN] = unknown;
	c.stale = stale;
	return c;
}

static void compute(struct vg_summary *s, enum vg_program p, int region,
		    const struct vg_counts *c, int fy)
{
	struct vg_targets tg;

	vg_targets_default(&tg);
	vg_summary_compute(s, p, region, c, &tg.plan[p], fy, TS);
}

static void assert_summary_equal(const struct vg_summary *a,
				 const struct vg_summary *b)
{
	assert_int_equal(a->program, b->program);
	assert_int_equal(a->region, b->region);
	for (int i = 0; i < VG_STATE_COUNT; i++)
		assert_int_equal(a->counts.n[i], b->counts.n[i]);
	assert_int_equal(a->counts.stale, b->counts.stale);
	assert_int_equal(a->eligible, b->eligible);
	assert_int_equal(a->migrated, b->migrated);
	assert_int_equal(a->has_percent, b->has_percent);
	if (a->has_percent)
		assert_int_equal(a->percent_bp, b->percent_bp);
	assert_int_equal(a->baseline_bp, b->baseline_bp);
	assert_int_equal(a->current, b->current);
	assert_int_equal(a->plan_ended, b->plan_ended);
	assert_int_equal(a->ntargets, b->ntargets);
	for (int i = 0; i < a->ntargets; i++) {
		assert_int_equal(a->targets[i].fy, b->targets[i].fy);
		assert_int_equal(a->targets[i].bp, b->targets[i].bp);
		assert_int_equal(a->targets[i].met, b->targets[i].met);
		assert_int_equal(a->targets[i].units_needed,
				 b->targets[i].units_needed);
	}
	assert_int_equal(a->ts, b->ts);
}

static enum vg_reject decode(const char *p, size_t len,
			     const struct vg_topic *t, struct vg_summary *out)
{
	char *copy = malloc(len ? len : 1);
	enum vg_reject r;

	assert_non_null(copy);
	memcpy(copy, p, len);
	r = vg_summary_decode(copy, len, t, out);
	free(copy);
	return r;
}

/* encode → decode (with the matching topic) → the same summary */
static void round_trip(const struct vg_summary *s)
{
	char buf[VG_PAYLOAD_MAX + 1], topic[VG_TOPIC_MAX];
	struct vg_summary back;
	struct vg_topic t;
	int n;

	n = vg_summary_encode(s, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	assert_true(vg_topic_summary(topic, sizeof(topic), NULL, s->program,
				     s->region) > 0);
	assert_int_equal(vg_topic_parse(NULL, topic, strlen(topic), &t), 0);
	if (decode(buf, (size_t)n, &t, &back) != VG_REJ_NONE)
		fail_msg("own payload rejected: %s", buf);
	assert_summary_equal(s, &back);
}

static void test_compute_typical(void **state)
{
	struct vg_counts c = counts(20, 5, 70, 10, 5, 3);
	struct vg_summary s;

	(void)state;
	compute(&s, VG_PROG_RENIR, 6, &c, 2024);
	assert_int_equal(s.program, VG_PROG_RENIR);
	assert_int_equal(s.region, 6);
	assert_memory_equal(&s.counts, &c, sizeof(c));
	assert_int_equal(s.eligible, 100);  /* 110 known − 10 retired */
	assert_int_equal(s.migrated, 70);
	assert_true(s.has_percent);
	assert_int_equal(s.percent_bp, 7000);
	assert_int_equal(s.baseline_bp, 5100);
	assert_int_equal(s.ntargets, 2);
	assert_int_equal(s.current, 1);
	assert_false(s.plan_ended);
	assert_int_equal(s.targets[0].fy, 2023);
	assert_int_equal(s.targets[0].bp, 7000);
	assert_true(s.targets[0].met);      /* exactly 70 % */
	assert_int_equal(s.targets[0].units_needed, 0);
	assert_int_equal(s.targets[1].fy, 2024);
	assert_int_equal(s.targets[1].bp, 7500);
	assert_false(s.targets[1].met);
	assert_int_equal(s.targets[1].units_needed, 5);
	assert_int_equal(s.ts, TS);
	round_trip(&s);
}

static void test_compute_ceil_and_rounding(void **state)
{
	/* 70 of 101 eligible: 69.31 %, 70.7 → 71 needed for 70 % */
	struct vg_counts c = counts(31, 0, 70, 0, 0, 0);
	struct vg_summary s;

	(void)state;
	compute(&s, VG_PROG_RENIR, 1, &c, 2023);
	assert_int_equal(s.eligible, 101);
	assert_int_equal(s.percent_bp, 6931);
	assert_int_equal(s.current, 0);
	assert_false(s.targets[0].met);
	assert_int_equal(s.targets[0].units_needed, 1);
	assert_int_equal(s.targets[1].units_needed, 6); /* ⌈75.75⌉ − 70 */
	round_trip(&s);

	/* 1 of 32: 3.125 % rounds half up to 3.13 */
	c = counts(31, 0, 1, 0, 0, 0);
	compute(&s, VG_PROG_RGT, 17, &c, 2024);
	assert_int_equal(s.percent_bp, 313);
	assert_int_equal(s.baseline_bp, 1100);
	assert_int_equal(s.targets[s.current].bp, 4000);
	assert_int_equal(s.targets[0].units_needed, 4);  /* ⌈4.8⌉ − 1 */
	assert_int_equal(s.targets[1].units_needed, 12); /* ⌈12.8⌉ − 1 */
	round_trip(&s);

	/* 2 of 3: 66.67 % */
	c = counts(0, 1, 2, 0, 0, 0);
	compute(&s, VG_PROG_RGT, 5, &c, 2024);
	assert_int_equal(s.percent_bp, 6667);
	assert_true(s.targets[1].met);
	round_trip(&s);
}

static void test_compute_zero_eligible(void **state)
{
	struct vg_counts empty = counts(0, 0, 0, 0, 0, 0);
	struct vg_counts retired = counts(0, 0, 0, 12, 0, 2);
	struct vg_summary s;
	char buf[VG_PAYLOAD_MAX];

	(void)state;
	compute(&s, VG_PROG_RENIR, 9, &empty, 2024);
	assert_int_equal(s.eligible, 0);
	assert_int_equal(s.migrated, 0);
	assert_false(s.has_percent);
	for (int i = 0; i < s.ntargets; i++) {
		assert_true(s.targets[i].met);
		assert_int_equal(s.targets[i].units_needed, 0);
	}
	assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"percent\":null"));
	round_trip(&s);

	compute(&s, VG_PROG_RGT, VG_REGION_ALL, &retired, 2024);
	assert_int_equal(s.eligible, 0);
	assert_false(s.has_percent);
	assert_int_equal(s.counts.n[VG_STATE_RETIRED], 12);
	assert_int_equal(s.counts.stale, 2);
	assert_true(s.targets[s.current].met);
	assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"percent\":null"));
	assert_non_null(strstr(buf, "\"region\":\"all\""));
	assert_non_null(strstr(buf, "\"region_name\":\"Ensemble du Qu\xc3\xa9"
				    "bec\""));
	round_trip(&s);
}

static void test_compute_plan_position(void **state)
{
	struct vg_counts c = counts(10, 0, 90, 0, 0, 0);
	struct vg_summary s;
	char buf[VG_PAYLOAD_MAX];

	(void)state;
	/* before the plan: the first target */
	compute(&s, VG_PROG_RENIR, 3, &c, 2020);
	assert_int_equal(s.current, 0);
	assert_false(s.plan_ended);
	round_trip(&s);
	/* after the plan: the last, and plan_ended */
	compute(&s, VG_PROG_RENIR, 3, &c, 2026);
	assert_int_equal(s.current, 1);
	assert_true(s.plan_ended);
	assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"plan_ended\":true"));
	assert_non_null(strstr(buf, "\"target\":{\"fiscal_year\":"
				    "\"2024-2025\",\"due\":\"2025-03-31\","
				    "\"percent\":75.00,\"met\":true,"
				    "\"units_needed\":0}"));
	round_trip(&s);

	/* an empty plan: no current target */
	{
		struct vg_plan empty;
		memset(&empty, 0, sizeof(empty));
		vg_summary_compute(&s, VG_PROG_RGT, 4, &c, &empty, 2024, TS);
		assert_int_equal(s.current, -1);
		assert_int_equal(s.ntargets, 0);
		assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
		assert_non_null(strstr(buf, "\"target\":null"));
		assert_non_null(strstr(buf, "\"targets\":[]"));
		round_trip(&s);
	}
	/* a full plan still fits in a payload */
	{
		struct vg_plan full;
		memset(&full, 0, sizeof(full));
		full.n = VG_TARGETS_MAX;
		for (int i = 0; i < VG_TARGETS_MAX; i++)
			full.t[i] = (struct vg_target){ 2023 + i,
							(uint32_t)(5000 +
								   i * 333) };
		c = counts(999999, 999999, 999999, 999999, 999999, 999999);
		vg_summary_compute(&s, VG_PROG_RENIR, 2, &c, &full, 2030, TS);
		assert_int_equal(s.ntargets, VG_TARGETS_MAX);
		assert_int_equal(s.current, 7);
		round_trip(&s);
	}
}

static void test_encode_exact(void **state)
{
	struct vg_counts c = counts(20, 5, 70, 10, 5, 3);
	struct vg_summary s;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)state;
	compute(&s, VG_PROG_RENIR, 6, &c, 2024);
	n = vg_summary_encode(&s, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
		"{\"v\":1,\"program\":\"renir\",\"region\":\"06\","
		"\"region_name\":\"Montr\xc3\xa9" "al\","
		"\"counts\":{\"pending\":20,\"migrating\":5,\"migrated\":70,"
		"\"retired\":10,\"unknown\":5},"
		"\"eligible\":100,\"migrated\":70,\"percent\":70.00,"
		"\"baseline\":51.00,"
		"\"target\":{\"fiscal_year\":\"2024-2025\",\"due\":"
		"\"2025-03-31\",\"percent\":75.00,\"met\":false,"
		"\"units_needed\":5},"
		"\"targets\":[{\"fiscal_year\":\"2023-2024\",\"due\":"
		"\"2024-03-31\",\"percent\":70.00,\"met\":true,"
		"\"units_needed\":0},{\"fiscal_year\":\"2024-2025\",\"due\":"
		"\"2025-03-31\",\"percent\":75.00,\"met\":false,"
		"\"units_needed\":5}],"
		"\"plan_ended\":false,\"stale\":3,"
		"\"ts\":\"2026-11-22T18:00:00Z\"}");
	/* too small: refused at every size short of enough */
	for (size_t size = 0; size <= (size_t)n; size += 7)
		assert_int_equal(vg_summary_encode(&s, buf, size),
				 VG_ERR_RANGE);
	assert_int_equal(vg_summary_encode(&s, buf, (size_t)n), VG_ERR_RANGE);
	assert_int_equal(vg_summary_encode(&s, buf, (size_t)n + 1), n);
	/* fields outside the contract */
	s.region = 18;
	assert_int_equal(vg_summary_encode(&s, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	s.region = 6;
	s.program = VG_PROG_COUNT;
	assert_int_equal(vg_summary_encode(&s, buf, sizeof(buf)),
			 VG_ERR_INVAL);
}

/* Encode a typical summary, replace `from` by `to`, decode. */
static enum vg_reject tampered(const char *from, const char *to)
{
	struct vg_counts c = counts(20, 5, 70, 10, 5, 3);
	struct vg_summary s, back;
	char buf[VG_PAYLOAD_MAX], out[VG_PAYLOAD_MAX + 64];
	const char *at;

	compute(&s, VG_PROG_RENIR, 6, &c, 2024);
	assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
	at = strstr(buf, from);
	if (!at)
		fail_msg("\"%s\" not in %s", from, buf);
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - buf), buf, to,
		 at + strlen(from));
	return decode(out, strlen(out), NULL, &back);
}

static void test_decode_rejects(void **state)
{
	(void)state;
	/* the untampered payload decodes */
	assert_int_equal(tampered("\"v\":1", "\"v\":1"), VG_REJ_NONE);
	/* derived fields must agree with the counts */
	assert_int_equal(tampered("\"eligible\":100", "\"eligible\":110"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"eligible\":100", "\"eligible\":99"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"eligible\":100,\"migrated\":70",
				  "\"eligible\":100,\"migrated\":71"),
			 VG_REJ_MISMATCH);
	/* migrated and percent agreeing with each other, not the counts */
	assert_int_equal(tampered("\"migrated\":70,\"percent\":70.00",
				  "\"migrated\":71,\"percent\":71.00"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"migrated\":70,\"percent\":70.00",
				  "\"migrated\":70,\"percent\":70.01"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"migrated\":70,\"percent\":70.00",
				  "\"migrated\":70,\"percent\":null"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"migrated\":70,\"percent\":70.00",
				  "\"migrated\":70,\"percent\":70"),
			 VG_REJ_NONE);
	/* retired units are outside eligible: changing them is consistent */
	assert_int_equal(tampered("\"retired\":10", "\"retired\":11"),
			 VG_REJ_NONE);
	assert_int_equal(tampered("\"migrating\":5", "\"migrating\":6"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"unknown\":5", "\"unknown\":4"),
			 VG_REJ_MISMATCH);
	assert_int_equal(tampered("\"pending\":20", "\"pending\":21"),
			 VG_REJ_MISMATCH);
	/* missing and mistyped fields */
	assert_int_equal(tampered("\"unknown\":5", "\"unknow\":5"),
			 VG_REJ_MISSING);
	assert_int_equal(tampered("\"counts\":", "\"count\":"),
			 VG_REJ_MISSING);
	assert_int_equal(tampered("\"eligible\":100", "\"eligibl\":100"),
			 VG_REJ_MISSING);
	assert_int_equal(tampered("\"stale\":3", "\"stale\":-3"),
			 VG_REJ_TYPE);
	assert_int_equal(tampered("\"pending\":20", "\"pending\":\"20\""),
			 VG_REJ_TYPE);
	assert_int_equal(tampered("\"baseline\":51.00",
				  "\"baseline\":100.01"), VG_REJ_TYPE);
	assert_int_equal(tampered("\"baseline\":51.00",
				  "\"baseline\":51.001"), VG_REJ_TYPE);
	assert_int_equal(tampered("\"v\":1", "\"v\":2"), VG_REJ_VERSION);
	assert_int_equal(tampered("\"program\":\"renir\"",
				  "\"program\":\"x\""), VG_REJ_PROGRAM);
	assert_int_equal(tampered("\"region\":\"06\"", "\"region\":\"18\""),
			 VG_REJ_REGION);
	assert_int_equal(tampered("\"ts\":\"2026-11-22T18:00:00Z\"",
				  "\"ts\":\"2026-11-22T18:00:00\""),
			 VG_REJ_TIME);
	assert_int_equal(tampered("\"plan_ended\":false",
				  "\"plan_ended\":0"), VG_REJ_TYPE);
	/* the current target must be one of the listed targets */
	assert_int_equal(tampered("\"target\":{\"fiscal_year\":\"2024-2025\"",
				  "\"target\":{\"fiscal_year\":\"2030-2031\""),
			 VG_REJ_TYPE);
	assert_int_equal(tampered("\"fiscal_year\":\"2023-2024\"",
				  "\"fiscal_year\":\"2023-2025\""),
			 VG_REJ_TYPE);
	assert_int_equal(tampered("\"targets\":[", "\"targets\":[1,"),
			 VG_REJ_MISSING);
	/* at most VG_TARGETS_MAX targets: 2 + 14 fit, 2 + 15 do not */
	{
		static const char one[] =
			"{\"fiscal_year\":\"2030-2031\",\"due\":"
			"\"2031-03-31\",\"percent\":80.00,\"met\":false,"
			"\"units_needed\":10},";
		char more[16 * sizeof(one) + 16];
		strcpy(more, "\"targets\":[");
		for (int i = 0; i < VG_TARGETS_MAX - 2; i++)
			strcat(more, one);
		assert_int_equal(tampered("\"targets\":[", more),
				 VG_REJ_NONE);
		strcat(more, one);
		assert_int_equal(tampered("\"targets\":[", more),
				 VG_REJ_TYPE);
	}
	/* shape: trailing garbage */
	assert_int_equal(tampered("\"ts\":\"2026-11-22T18:00:00Z\"}",
				  "\"ts\":\"2026-11-22T18:00:00Z\"}}"),
			 VG_REJ_MALFORMED);
}

static void test_decode_zero_eligible_percent(void **state)
{
	struct vg_counts c = counts(0, 0, 0, 4, 0, 0);
	struct vg_summary s, back;
	char buf[VG_PAYLOAD_MAX], out[VG_PAYLOAD_MAX];
	char *at;

	(void)state;
	compute(&s, VG_PROG_RGT, 12, &c, 2024);
	assert_true(vg_summary_encode(&s, buf, sizeof(buf)) > 0);
	assert_int_equal(decode(buf, strlen(buf), NULL, &back), VG_REJ_NONE);
	assert_false(back.has_percent);
	/* a number where the percent is undefined */
	at = strstr(buf, "\"percent\":null");
	assert_non_null(at);
	snprintf(out, sizeof(out), "%.*s\"percent\":0.00%s", (int)(at - buf),
		 buf, at + strlen("\"percent\":null"));
	assert_int_equal(decode(out, strlen(out), NULL, &back),
			 VG_REJ_MISMATCH);
}

static void test_decode_topic(void **state)
{
	struct vg_counts c = counts(1, 2, 3, 4, 5, 6);
	struct vg_summary s, back;
	struct vg_topic t;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)state;
	compute(&s, VG_PROG_RGT, 13, &c, 2024);
	n = vg_summary_encode(&s, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/summary/rgt/13", 23,
					&t), 0);
	assert_int_equal(decode(buf, (size_t)n, &t, &back), VG_REJ_NONE);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/summary/rgt/14", 23,
					&t), 0);
	assert_int_equal(decode(buf, (size_t)n, &t, &back), VG_REJ_MISMATCH);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/summary/renir/13",
					25, &t), 0);
	assert_int_equal(decode(buf, (size_t)n, &t, &back), VG_REJ_MISMATCH);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/summary/rgt/all", 24,
					&t), 0);
	assert_int_equal(decode(buf, (size_t)n, &t, &back), VG_REJ_MISMATCH);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/event/rgt/13", 21,
					&t), 0);
	assert_int_equal(decode(buf, (size_t)n, &t, &back), VG_REJ_MISMATCH);
}

static void test_round_trip_many(void **state)
{
	struct vg_summary s;

	(void)state;
	for (int r = 0; r <= VG_REGION_COUNT; r++) {
		for (int fy = 2021; fy <= 2027; fy++) {
			struct vg_counts c = counts(
				(uint64_t)(r * 7 % 13), (uint64_t)(fy % 3),
				(uint64_t)(r * fy % 101), (uint64_t)(r % 4),
				(uint64_t)(fy % 2), (uint64_t)r);
			compute(&s, (enum vg_program)(r % 2), r, &c, fy);
			round_trip(&s);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute_typical),
		cmocka_unit_test(test_compute_ceil_and_rounding),
		cmocka_unit_test(test_compute_zero_eligible),
		cmocka_unit_test(test_compute_plan_position),
		cmocka_unit_test(test_encode_exact),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_decode_zero_eligible_percent),
		cmocka_unit_test(test_decode_topic),
		cmocka_unit_test(test_round_trip_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
