/*
 * The indicator's integer arithmetic (docs/protocol.md): percent rounded half up in
 * basis points, "met", units still needed, and the percentage text format
 * used by the targets file and the summaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vigie/arith.h"
#include "vigie/err.h"

static uint32_t pct(uint64_t m, uint64_t e)
{
	uint32_t bp = 0xdeadbeef;

	assert_true(vg_percent_bp(m, e, &bp));
	return bp;
}

static void test_percent_zero_eligible(void **state)
{
	uint32_t bp = 4242;

	(void)state;
	assert_false(vg_percent_bp(0, 0, &bp));
	assert_int_equal(bp, 4242); /* left alone */
	/* nothing to migrate: every target is met, nobody is needed */
	assert_true(vg_target_met(0, 0, 7500));
	assert_true(vg_target_met(0, 0, 10000));
	assert_int_equal(vg_units_needed(0, 0, 7500), 0);
	assert_int_equal(vg_units_needed(0, 0, 10000), 0);
}

static void test_percent_exact(void **state)
{
	(void)state;
	assert_int_equal(pct(0, 1), 0);
	assert_int_equal(pct(1, 1), 10000);
	assert_int_equal(pct(1, 2), 5000);
	assert_int_equal(pct(70, 100), 7000);
	assert_int_equal(pct(51, 100), 5100);
	assert_int_equal(pct(1, 8), 1250);    /* 12.5 % */
	assert_int_equal(pct(1, 16), 625);    /* 6.25 % */
	assert_int_equal(pct(1000000, 1000000), 10000);
}

static void test_percent_rounding(void **state)
{
	(void)state;
	assert_int_equal(pct(1, 3), 3333);    /* 33.333… down */
	assert_int_equal(pct(2, 3), 6667);    /* 66.666… up */
	/* exact half basis points round up */
	assert_int_equal(pct(1, 32), 313);    /* 3.125 % */
	assert_int_equal(pct(1, 160), 63);    /* 0.625 % */
	assert_int_equal(pct(3, 32), 938);    /* 9.375 % */
	assert_int_equal(pct(1, 20000), 1);   /* 0.005 % */
	assert_int_equal(pct(1, 20001), 0);   /* just under half */
	assert_int_equal(pct(19999, 20000), 10000); /* 99.995 % → 100.00 */
	assert_int_equal(pct(1, 7), 1429);    /* 14.2857 */
	assert_int_equal(pct(707, 1000), 7070);
	/* large counts do not overflow */
	assert_int_equal(pct(2000000, 3000000), 6667);
	assert_int_equal(pct(999999, 1000000), 10000);
	assert_int_equal(pct(999949, 1000000), 9999);
}

static void test_target_met(void **state)
{
	(void)state;
	assert_true(vg_target_met(70, 100, 7000));   /* exactly on target */
	assert_false(vg_target_met(69, 100, 7000));
	assert_true(vg_target_met(71, 100, 7000));
	/* 70.7 units needed of 101: 70 is not enough, 71 is */
	assert_false(vg_target_met(70, 101, 7000));
	assert_true(vg_target_met(71, 101, 7000));
	assert_true(vg_target_met(0, 10, 0));
	assert_true(vg_target_met(10, 10, 10000));
	assert_false(vg_target_met(9, 10, 10000));
	/* met uses the exact ratio, not the rounded percent: 2/3 rounds to
	 * 66.67 % but is below a 66.67 % target */
	assert_false(vg_target_met(2, 3, 6667));
	assert_true(vg_target_met(2, 3, 6666));
}

static void test_units_needed(void **state)
{
	(void)state;
	assert_int_equal(vg_units_needed(0, 100, 7000), 70);
	assert_int_equal(vg_units_needed(69, 100, 7000), 1);
	assert_int_equal(vg_units_needed(70, 100, 7000), 0);
	assert_int_equal(vg_units_needed(99, 100, 7000), 0); /* never < 0 */
	assert_int_equal(vg_units_needed(0, 101, 7000), 71);  /* ⌈70.7⌉ */
	assert_int_equal(vg_units_needed(70, 101, 7000), 1);
	assert_int_equal(vg_units_needed(71, 101, 7000), 0);
	assert_int_equal(vg_units_needed(0, 3, 6667), 3);     /* ⌈2.0001⌉ */
	assert_int_equal(vg_units_needed(0, 3, 6666), 2);     /* ⌈1.9998⌉ */
	assert_int_equal(vg_units_needed(5, 10, 0), 0);
	assert_int_equal(vg_units_needed(0, 1000000, 7500), 750000);
	assert_int_equal(vg_units_needed(0, 1000001, 7500), 750001);
	/* consistent with met: needed == 0 exactly when met */
	for (uint64_t e = 0; e <= 60; e++) {
		for (uint64_t m = 0; m <= e; m++) {
			static const uint32_t tg[] = { 0, 1, 1500, 3333,
						       7000, 7500, 10000 };
			for (size_t i = 0; i < sizeof(tg) / sizeof(tg[0]);
			     i++) {
				uint64_t need = vg_units_needed(m, e, tg[i]);
				assert_int_equal(need == 0,
						 vg_target_met(m, e, tg[i]));
				if (need > 0)
					assert_true(vg_target_met(
						m + need, e, tg[i]));
				if (need > 1)
					assert_false(vg_target_met(
						m + need - 1, e, tg[i]));
			}
		}
	}
}

/* What /metrics exports as vigie_target_units: the count the target asks
 * for, so that target - migrated is the shortfall when behind. */
static void test_target_units(void **state)
{
	(void)state;
	assert_int_equal(vg_target_units(0, 7500), 0);
	assert_int_equal(vg_target_units(100, 7000), 70);
	assert_int_equal(vg_target_units(101, 7000), 71);     /* ⌈70.7⌉ */
	assert_int_equal(vg_target_units(3, 6667), 3);        /* ⌈2.0001⌉ */
	assert_int_equal(vg_target_units(1000001, 7500), 750001);
	for (uint64_t e = 0; e <= 60; e++)
		for (uint64_t m = 0; m <= e; m++)
			assert_int_equal(vg_units_needed(m, e, 7500),
					 vg_target_units(e, 7500) > m ?
					 vg_target_units(e, 7500) - m : 0);
}

static void test_all_retired(void **state)
{
	/* every unit retired: eligible is 0, as for an empty region */
	uint32_t bp = 1;

	(void)state;
	assert_false(vg_percent_bp(0, 0, &bp));
	assert_true(vg_target_met(0, 0, 7000));
	assert_int_equal(vg_units_needed(0, 0, 7000), 0);
}

static void test_bp_format(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(vg_bp_format(5125, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "51.25");
	assert_int_equal(vg_bp_format(0, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "0.00");
	assert_int_equal(vg_bp_format(10000, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "100.00");
	vg_bp_format(7, buf, sizeof(buf));
	assert_string_equal(buf, "0.07");
	vg_bp_format(7050, buf, sizeof(buf));
	assert_string_equal(buf, "70.50");
	vg_bp_format(313, buf, sizeof(buf));
	assert_string_equal(buf, "3.13");
	/* too small: refused, never truncated silently */
	assert_int_equal(vg_bp_format(5125, buf, 5), VG_ERR_RANGE);
	assert_int_equal(vg_bp_format(5125, buf, 6), 5);
}

static void test_bp_format_ratio(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(vg_bp_format_ratio(5125, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "0.5125");
	vg_bp_format_ratio(0, buf, sizeof(buf));
	assert_string_equal(buf, "0.0000");
	vg_bp_format_ratio(10000, buf, sizeof(buf));
	assert_string_equal(buf, "1.0000");
	vg_bp_format_ratio(7, buf, sizeof(buf));
	assert_string_equal(buf, "0.0007");
	vg_bp_format_ratio(7050, buf, sizeof(buf));
	assert_string_equal(buf, "0.7050");
	assert_int_equal(vg_bp_format_ratio(5125, buf, 6), VG_ERR_RANGE);
}

static void test_bp_parse(void **state)
{
	uint32_t bp;

	(void)state;
	assert_int_equal(vg_bp_parse("51", &bp), VG_OK);
	assert_int_equal(bp, 5100);
	assert_int_equal(vg_bp_parse("51.5", &bp), VG_OK);
	assert_int_equal(bp, 5150);
	assert_int_equal(vg_bp_parse("51.25", &bp), VG_OK);
	assert_int_equal(bp, 5125);
	assert_int_equal(vg_bp_parse("0", &bp), VG_OK);
	assert_int_equal(bp, 0);
	assert_int_equal(vg_bp_parse("0.05", &bp), VG_OK);
	assert_int_equal(bp, 5);
	assert_int_equal(vg_bp_parse("100", &bp), VG_OK);
	assert_int_equal(bp, 10000);
	assert_int_equal(vg_bp_parse("100.00", &bp), VG_OK);
	assert_int_equal(bp, 10000);
}

static void test_bp_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"100.01", "101", "1.234", "", "abc", "-1", "50.", ".5",
		"+5", " 5", "5 ", "5%", "1e2", "50,5", "10000", "0x10",
		"1..2", "5.5.5"
	};
	uint32_t bp = 777;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = vg_bp_parse(bad[i], &bp);
		if (rc >= 0)
			fail_msg("vg_bp_parse accepted \"%s\"", bad[i]);
		assert_int_equal(bp, 777); /* untouched on error */
	}
	assert_int_equal(vg_bp_parse("100.01", &bp), VG_ERR_RANGE);
	assert_int_equal(vg_bp_parse("abc", &bp), VG_ERR_PARSE);
}

static void test_bp_round_trip(void **state)
{
	char buf[16];
	uint32_t back;

	(void)state;
	for (uint32_t bp = 0; bp <= VG_BP_MAX; bp++) {
		assert_true(vg_bp_format(bp, buf, sizeof(buf)) > 0);
		assert_int_equal(vg_bp_parse(buf, &back), VG_OK);
		assert_int_equal(back, bp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percent_zero_eligible),
		cmocka_unit_test(test_percent_exact),
		cmocka_unit_test(test_percent_rounding),
		cmocka_unit_test(test_target_met),
		cmocka_unit_test(test_units_needed),
		cmocka_unit_test(test_target_units),
		cmocka_unit_test(test_all_retired),
		cmocka_unit_test(test_bp_format),
		cmocka_unit_test(test_bp_format_ratio),
		cmocka_unit_test(test_bp_parse),
		cmocka_unit_test(test_bp_parse_rejects),
		cmocka_unit_test(test_bp_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
