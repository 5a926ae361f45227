/* Regions (official codes and names), domain vocabularies, identifiers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vigie/domain.h"
#include "vigie/err.h"
#include "vigie/ident.h"
#include "vigie/msg.h"
#include "vigie/region.h"

static int rparse(const char *s)
{
	return vg_region_parse(s, strlen(s));
}

static void test_region_names(void **state)
{
	static const char *const want[VG_REGION_COUNT + 1] = {
		"Ensemble du Québec",
		"Bas-Saint-Laurent", "Saguenay–Lac-Saint-Jean",
		"Capitale-Nationale", "Mauricie", "Estrie", "Montréal",
		"Outaouais", "Abitibi-Témiscamingue", "Côte-Nord",
		"Nord-du-Québec", "Gaspésie–Îles-de-la-Madeleine",
		"Chaudière-Appalaches", "Laval", "Lanaudière", "Laurentides",
		"Montérégie", "Centre-du-Québec"
	};

	(void)state;
	for (int r = 0; r <= VG_REGION_COUNT; r++)
		assert_string_equal(vg_region_name(r), want[r]);
	/* UTF-8 en dash (U+2013), not a hyphen, in two names */
	assert_non_null(strstr(vg_region_name(2), "\xe2\x80\x93"));
	assert_non_null(strstr(vg_region_name(11), "\xe2\x80\x93"));
	assert_string_equal(vg_region_name(6), "Montr\xc3\xa9" "al");
	assert_null(vg_region_name(-1));
	assert_null(vg_region_name(18));
	assert_string_equal(vg_region_name_en(VG_REGION_ALL),
			    "All of Quebec");
	assert_string_equal(vg_region_name_en(6), "Montréal");
	assert_null(vg_region_name_en(18));
}

static void test_region_codes(void **state)
{
	char want[16];

	(void)state;
	assert_string_equal(vg_region_code(VG_REGION_ALL), "all");
	for (int r = 1; r <= VG_REGION_COUNT; r++) {
		snprintf(want, sizeof(want), "%02d", r);
		assert_string_equal(vg_region_code(r), want);
		assert_int_equal(rparse(want), r);
		assert_int_equal(vg_region_parse_or_all(want, 2), r);
	}
	assert_null(vg_region_code(-1));
	assert_null(vg_region_code(18));
}

static void test_region_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"00", "18", "19", "20", "99", "1", "001", "017", "all", "ALL",
		"", "1a", "a1", " 1", "-1", "+1", "01 "
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (rparse(bad[i]) != -1)
			fail_msg("accepted region \"%s\"", bad[i]);
	}
	assert_int_equal(vg_region_parse_or_all("all", 3), VG_REGION_ALL);
	assert_int_equal(vg_region_parse_or_all("alll", 4), -1);
	assert_int_equal(vg_region_parse_or_all("al", 2), -1);
	assert_int_equal(vg_region_parse_or_all("18", 2), -1);
	/* length-delimited: "17" followed by more text */
	assert_int_equal(vg_region_parse("17/x", 2), 17);
	assert_int_equal(vg_region_parse_or_all("all/x", 3), VG_REGION_ALL);
}

static void test_domain(void **state)
{
	(void)state;
	assert_string_equal(vg_program_name(VG_PROG_RENIR), "renir");
	assert_string_equal(vg_program_name(VG_PROG_RGT), "rgt");
	assert_null(vg_program_name(VG_PROG_COUNT));
	assert_int_equal(vg_program_parse("renir", 5), VG_PROG_RENIR);
	assert_int_equal(vg_program_parse("rgt", 3), VG_PROG_RGT);
	assert_int_equal(vg_program_parse("RENIR", 5), -1);
	assert_int_equal(vg_program_parse("reni", 4), -1);
	assert_int_equal(vg_program_parse("renirx", 6), -1);
	assert_int_equal(vg_program_parse("", 0), -1);
	assert_int_equal(vg_program_parse("renir", 4), -1);

	static const char *const st[] = { "pending", "migrating", "migrated",
					  "retired", "unknown" };
	for (int i = 0; i < VG_STATE_COUNT; i++) {
		assert_string_equal(vg_state_name((enum vg_state)i), st[i]);
		assert_int_equal(vg_state_parse(st[i], strlen(st[i])), i);
	}
	assert_int_equal(VG_STATE_PENDING, 0);
	assert_int_equal(VG_STATE_UNKNOWN, 4);
	assert_null(vg_state_name(VG_STATE_COUNT));
	assert_int_equal(vg_state_parse("done", 4), -1);
	assert_int_equal(vg_state_parse("Migrated", 8), -1);

	assert_null(vg_source_name(VG_SOURCE_NONE));
	assert_string_equal(vg_source_name(VG_SOURCE_MODBUS), "modbus");
	assert_string_equal(vg_source_name(VG_SOURCE_MANUAL), "manual");
	assert_null(vg_source_name((enum vg_source)3));
	assert_int_equal(vg_source_parse("modbus", 6), VG_SOURCE_MODBUS);
	assert_int_equal(vg_source_parse("manual", 6), VG_SOURCE_MANUAL);
	assert_int_equal(vg_source_parse("", 0), -1);
	assert_int_equal(vg_source_parse("tcp", 3), -1);
}

static void test_ident(void **state)
{
	char s[64];

	(void)state;
	assert_true(vg_ident_valid("a", 1));
	assert_true(vg_ident_valid("SQ-RIM.01_radio", 15));
	assert_true(vg_ident_valid("0", 1));
	memset(s, 'x', sizeof(s));
	assert_true(vg_ident_valid(s, 48));
	assert_false(vg_ident_valid(s, 49));
	assert_false(vg_ident_valid("", 0));
	static const char *const bad[] = {
		"a+b", "a#b", "a/b", "a b", "é", "a\tb", "a:b", "a*b",
		"a\"b", "a\\b", "+", "#"
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vg_ident_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted identifier \"%s\"", bad[i]);
	}
	/* an embedded NUL is not part of the charset */
	assert_false(vg_ident_valid("ab\0c", 4));
}

static void test_err_and_reject_names(void **state)
{
	(void)state;
	assert_string_equal(vg_strerror(VG_OK), "success");
	assert_string_equal(vg_strerror(VG_ERR_PARSE), "parse error");
	assert_string_equal(vg_strerror(12345), "unknown error");
	/* metric labels are stable */
	assert_string_equal(vg_reject_name(VG_REJ_NONE), "none");
	assert_string_equal(vg_reject_name(VG_REJ_OVERSIZE), "oversize");
	assert_string_equal(vg_reject_name(VG_REJ_MISMATCH), "mismatch");
	assert_string_equal(vg_reject_name(VG_REJ_SITE_REGION),
			    "site_region");
	assert_string_equal(vg_reject_name(VG_REJ_COUNT), "invalid");
	for (int i = 0; i < VG_REJ_COUNT; i++) {
		const char *n = vg_reject_name((enum vg_reject)i);
		assert_non_null(n);
		assert_string_not_equal(n, "invalid");
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, vg_reject_name(
						   (enum vg_reject)j));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_names),
		cmocka_unit_test(test_region_codes),
		cmocka_unit_test(test_region_parse_rejects),
		cmocka_unit_test(test_domain),
		cmocka_unit_test(test_ident),
		cmocka_unit_test(test_err_and_reject_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
