/* Civil dates and strict RFC 3339 UTC timestamps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vigie/err.h"
#include "vigie/timeutil.h"

static int64_t parse_ok(const char *s)
{
	int64_t t = -12345;

	if (vg_time_parse(s, strlen(s), &t) != VG_OK)
		fail_msg("rejected \"%s\"", s);
	return t;
}

static void test_civil(void **state)
{
	struct vg_date d;

	(void)state;
	assert_int_equal(vg_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(vg_days_from_civil(1970, 1, 2), 1);
	assert_int_equal(vg_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(vg_days_from_civil(2000, 1, 1), 10957);
	assert_int_equal(vg_days_from_civil(2024, 3, 1) -
			 vg_days_from_civil(2024, 2, 28), 2); /* leap */
	assert_int_equal(vg_days_from_civil(2023, 3, 1) -
			 vg_days_from_civil(2023, 2, 28), 1);
	assert_int_equal(vg_days_from_civil(2100, 3, 1) -
			 vg_days_from_civil(2100, 2, 28), 1); /* not leap */
	assert_int_equal(vg_days_from_civil(2000, 3, 1) -
			 vg_days_from_civil(2000, 2, 28), 2); /* leap */
	/* days → civil → days, across several centuries */
	for (int64_t z = -800000; z <= 800000; z += 37) {
		vg_civil_from_days(z, &d);
		assert_true(d.m >= 1 && d.m <= 12 && d.d >= 1 && d.d <= 31);
		assert_int_equal(vg_days_from_civil(d.y, d.m, d.d), z);
	}
	vg_civil_from_days(19782, &d);
	assert_int_equal(d.y, 2024);
	assert_int_equal(d.m, 2);
	assert_int_equal(d.d, 29);
}

static void test_date_of_time(void **state)
{
	struct vg_date d;

	(void)state;
	vg_date_of_time(1795370400, &d); /* 2026-11-22T18:00:00Z */
	assert_int_equal(d.y, 2026);
	assert_int_equal(d.m, 11);
	assert_int_equal(d.d, 22);
	vg_date_of_time(-1, &d);
	assert_int_equal(d.y, 1969);
	assert_int_equal(d.m, 12);
	assert_int_equal(d.d, 31);
	vg_date_of_time(-86400, &d);
	assert_int_equal(d.d, 31);
	vg_date_of_time(-86401, &d);
	assert_int_equal(d.d, 30);
	vg_date_of_time(0, &d);
	assert_int_equal(d.y, 1970);
	assert_int_equal(d.d, 1);
}

static void test_format(void **state)
{
	char buf[VG_TIME_LEN];

	(void)state;
	assert_int_equal(vg_time_format(1795370400, buf, sizeof(buf)), 20);
	assert_string_equal(buf, "2026-11-22T18:00:00Z");
	vg_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	vg_time_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59Z");
	vg_time_format(1709164800 + 86399, buf, sizeof(buf));
	assert_string_equal(buf, "2024-02-29T23:59:59Z");
	assert_int_equal(vg_time_format(0, buf, VG_TIME_LEN - 1),
			 VG_ERR_RANGE);
	/* year 10000 does not fit the format */
	assert_int_equal(vg_time_format(253402300800LL, buf, sizeof(buf)),
			 VG_ERR_RANGE);
	assert_int_equal(vg_time_format(253402300799LL, buf, sizeof(buf)),
			 20);
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	assert_int_equal(vg_time_format(VG_TIME_MIN, buf, sizeof(buf)), 20);
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
	/* out of range, down to INT64_MIN, without overflow (UBSan) */
	assert_int_equal(vg_time_format(VG_TIME_MIN - 1, buf, sizeof(buf)),
			 VG_ERR_RANGE);
	assert_int_equal(vg_time_format(INT64_MIN, buf, sizeof(buf)),
			 VG_ERR_RANGE);
	assert_int_equal(vg_time_format(INT64_MAX, buf, sizeof(buf)),
			 VG_ERR_RANGE);
}

static void test_parse(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("2026-11-22T18:00:00Z"), 1795370400);
	assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
	assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), 1709164800);
	assert_int_equal(parse_ok("2000-02-29T12:00:00Z"),
			 951782400 + 43200);
	/* fractions are accepted and dropped */
	assert_int_equal(parse_ok("2026-11-22T18:00:00.5Z"), 1795370400);
	assert_int_equal(parse_ok("2026-11-22T18:00:00.999999999Z"),
			 1795370400);
	assert_int_equal(parse_ok("2026-11-22T18:00:00.000Z"), 1795370400);
	/* a leap second folds onto :59 */
	assert_int_equal(parse_ok("2016-12-31T23:59:60Z"),
			 parse_ok("2016-12-31T23:59:59Z"));
	assert_int_equal(parse_ok("2015-06-30T23:59:60.5Z"),
			 parse_ok("2015-06-30T23:59:59Z"));
	/* the length is honoured: no NUL needed after it */
	{
		static const char s[] = "2026-11-22T18:00:00Zjunk";
		int64_t t = 0;
		assert_int_equal(vg_time_parse(s, 20, &t), VG_OK);
		assert_int_equal(t, 1795370400);
		assert_true(vg_time_parse(s, 21, &t) < 0);
	}
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"2023-02-29T00:00:00Z",   /* not a leap year */
		"2100-02-29T00:00:00Z",   /* century, not a leap year */
		"2024-02-30T00:00:00Z",
		"2024-04-31T00:00:00Z",
		"2024-13-01T00:00:00Z",
		"2024-00-01T00:00:00Z",
		"2024-01-00T00:00:00Z",
		"2024-01-32T00:00:00Z",
		"2024-01-01T24:00:00Z",
		"2024-01-01T23:60:00Z",
		"2024-01-01T23:59:61Z",
		"2024-01-01T12:00:60Z",      /* :60 only as a leap second, */
		"2024-01-01T23:59:60Z",      /* at 23:59:60 on a month's end */
		"2016-12-30T23:59:60Z",
		"2026-11-22T18:00:00+00:00", /* offsets other than Z */
		"2026-11-22T13:00:00-05:00",
		"2026-11-22T18:00:00",       /* no zone at all */
		"2026-11-22T18:00:00z",
		"2026-11-22t18:00:00Z",
		"2026-11-22 18:00:00Z",
		"2026-11-22T18:00:00ZZ",     /* trailing garbage */
		"2026-11-22T18:00:00Z ",
		"2026-11-22T18:00:00.Z",     /* empty fraction */
		"2026-11-22T18:00:00.5xZ",
		"2026-11-22T18:00Z",
		"2026-11-22",
		"26-11-22T18:00:00Z",
		"2026/11/22T18:00:00Z",
		"2026-1-22T18:00:00Z",
		"-026-11-22T18:00:00Z",
		"2026-11-22T18:00:00.1234567890123456789012345Z", /* > 40 */
		"",
	};
	int64_t t = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vg_time_parse(bad[i], strlen(bad[i]), &t) >= 0)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(t, 77);
	}
}

static void test_round_trip(void **state)
{
	char buf[VG_TIME_LEN];
	int64_t back;

	(void)state;
	for (int64_t t = -2000000000LL; t < 4102444800LL; t += 7777777) {
		assert_int_equal(vg_time_format(t, buf, sizeof(buf)), 20);
		assert_int_equal(vg_time_parse(buf, 20, &back), VG_OK);
		assert_int_equal(back, t);
	}
	/* every second of a day boundary and Feb 29 */
	for (int64_t t = 1709164800 - 5; t < 1709164800 + 5; t++) {
		vg_time_format(t, buf, sizeof(buf));
		assert_int_equal(vg_time_parse(buf, 20, &back), VG_OK);
		assert_int_equal(back, t);
	}
}

static void test_date_parse(void **state)
{
	struct vg_date d = { 0, 0, 0 };

	(void)state;
	assert_int_equal(vg_date_parse("2024-02-29", &d), VG_OK);
	assert_int_equal(d.y, 2024);
	assert_int_equal(d.m, 2);
	assert_int_equal(d.d, 29);
	assert_true(vg_date_parse("2023-02-29", &d) < 0);
	assert_true(vg_date_parse("2024-02-29T00:00:00Z", &d) < 0);
	assert_true(vg_date_parse("2024-02-2", &d) < 0);
	assert_true(vg_date_parse("2024-02-299", &d) < 0);
	assert_true(vg_date_parse("2024/02/29", &d) < 0);
	assert_true(vg_date_parse("", &d) < 0);
	assert_int_equal(d.y, 2024);
}

static void test_clocks(void **state)
{
	int64_t a, b;

	(void)state;
	/* after 2020-01-01 and ms consistent with s */
	a = vg_now();
	b = vg_now_ms();
	assert_true(a > 1577836800);
	assert_true(b / 1000 >= a && b / 1000 <= a + 2);
	a = vg_mono_ms();
	b = vg_mono_ms();
	assert_true(b >= a);
}

static int64_t ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* A deadline is normalized and ms past the moment of the call (read
 * between two readings of the same clock: no timing assumed). */
static void test_deadline(void **state)
{
	struct timespec before, d, after;

	(void)state;
	for (int64_t ms = 0; ms <= 2500; ms += 137) {
		clock_gettime(CLOCK_MONOTONIC, &before);
		vg_deadline(CLOCK_MONOTONIC, ms, &d);
		clock_gettime(CLOCK_MONOTONIC, &after);
		assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		assert_true(ns_of(&d) - ns_of(&before) >= ms * 1000000);
		assert_true(ns_of(&d) - ns_of(&after) <= ms * 1000000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_civil),
		cmocka_unit_test(test_date_of_time),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_date_parse),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
