/*
 * The sites file: bindings before first sight, unlisted sites refused,
 * and a bad file (with its file:line) changing nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_core.h"
#include "gw_sites.h"

static void write_tmp(char *path, const char *text)
{
	int fd = mkstemp(path);
	FILE *f;

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static enum vg_reject unit_id(struct gw_core *c, const char *region,
			      const char *site, const char *id)
{
	char t[128], p[512];
	struct gw_msg m;
	enum vg_reject r;

	snprintf(t, sizeof(t), "vigie/v1/unit/renir/%s/%s/%s", region, site,
		 id);
	snprintf(p, sizeof(p),
		 "{\"v\":1,\"program\":\"renir\",\"region\":\"%s\","
		 "\"site\":\"%s\",\"unit\":\"%s\",\"state\":\"migrated\","
		 "\"seq\":1,\"ts\":\"2026-11-22T18:00:00Z\"}", region, site,
		 id);
	r = gw_core_decode("", t, p, strlen(p), &m);
	return r != VG_REJ_NONE ? r : gw_core_apply(c, &m);
}

static enum vg_reject unit(struct gw_core *c, const char *region,
			   const char *site)
{
	return unit_id(c, region, site, "u");
}

static struct gw_core *load(const char *text)
{
	char path[] = "/tmp/vg-inv-XXXXXX", err[256] = "";
	struct gw_core *c = gw_core_new();

	assert_non_null(c);
	write_tmp(path, text);
	if (gw_sites_load(c, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	unlink(path);
	return c;
}

/* The inventory fixes the denominator: listed units count before they
 * report, and nothing else of that site is accepted. */
static void test_inventory_is_authoritative(void **s)
{
	struct gw_core *c = load("site a 06\nunit a renir u1 u2 u3\n"
				 "unit a rgt l1\nb 03\n");
	struct vg_counts k;
	struct gw_msg m;
	static const char rm[] = "vigie/v1/unit/renir/06/a/u2";

	(void)s;
	gw_core_counts(c, VG_PROG_RENIR, 6, &k);
	assert_int_equal(k.n[VG_STATE_UNKNOWN], 3);
	assert_int_equal(unit_id(c, "06", "a", "u1"), VG_REJ_NONE);
	assert_int_equal(unit_id(c, "06", "a", "made-up"),
			 VG_REJ_UNIT_UNKNOWN);
	gw_core_counts(c, VG_PROG_RENIR, 6, &k);
	assert_int_equal(k.n[VG_STATE_MIGRATED], 1);
	assert_int_equal(k.n[VG_STATE_UNKNOWN], 2);
	/* removing a listed unit cannot shrink the denominator */
	assert_int_equal(unit_id(c, "06", "a", "u2"), VG_REJ_NONE);
	assert_int_equal(gw_core_decode("", rm, "", 0, &m), VG_REJ_NONE);
	assert_int_equal(gw_core_apply(c, &m), VG_REJ_NONE);
	gw_core_counts(c, VG_PROG_RENIR, 6, &k);
	assert_int_equal(k.n[VG_STATE_MIGRATED], 1);
	assert_int_equal(k.n[VG_STATE_UNKNOWN], 2);
	/* a site without a unit list takes units up to the cap */
	assert_int_equal(unit_id(c, "03", "b", "anything"), VG_REJ_NONE);
	gw_core_free(c);
}

static void test_cap_bounds_invented_units(void **s)
{
	struct gw_core *c = load("site a 06 max 3\nb 03\n");
	char id[16];

	(void)s;
	for (int i = 0; i < 3; i++) {
		snprintf(id, sizeof(id), "u%d", i);
		assert_int_equal(unit_id(c, "06", "a", id), VG_REJ_NONE);
	}
	assert_int_equal(unit_id(c, "06", "a", "u3"), VG_REJ_UNIT_UNKNOWN);
	/* known units still update */
	assert_int_equal(unit_id(c, "06", "a", "u0"), VG_REJ_NONE);
	gw_core_set_site_cap(c, 2);
	assert_int_equal(unit_id(c, "03", "b", "x"), VG_REJ_NONE);
	assert_int_equal(unit_id(c, "03", "b", "y"), VG_REJ_NONE);
	assert_int_equal(unit_id(c, "03", "b", "z"), VG_REJ_UNIT_UNKNOWN);
	assert_int_equal(gw_core_units(c), 5);
	gw_core_free(c);
}

static void test_bound_before_first_sight(void **s)
{
	char path[] = "/tmp/vg-sites-XXXXXX", err[256] = "";
	struct gw_core *c = gw_core_new();

	(void)s;
	write_tmp(path, "# site region\nmtl-042 06\n\nqc-1\t03 # comment\n");
	assert_int_equal(gw_sites_load(c, path, err, sizeof(err)), 0);
	/* the very first message claiming another region is refused */
	assert_int_equal(unit(c, "06", "qc-1"), VG_REJ_SITE_REGION);
	assert_int_equal(unit(c, "03", "qc-1"), VG_REJ_NONE);
	assert_int_equal(unit(c, "06", "intruder"), VG_REJ_SITE_UNKNOWN);
	assert_int_equal(gw_core_units(c), 1);
	unlink(path);
	gw_core_free(c);
}

static void test_bad_file_changes_nothing(void **s)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "a 06\nb 18\n", ":2: region must be 01..17" },
		{ "a 06\nb\n", ":2: expected: site SITE REGION" },
		{ "a+b 06\n", ":1: site must be" },
		{ "a 06 x\n", ":1: expected" },
		{ "a 06\na 07\n", ":2: site a is in region 06 at line 1" },
		{ "site a 06 max 0\n", ":1: max must be 1..1000000" },
		{ "site a 06 max\n", ":1: expected: site SITE REGION" },
		{ "unit a renir u1\n", ":1: site a has no site line" },
		{ "site a 06\nunit a radio u1\n", ":2: program must be" },
		{ "site a 06\nunit a renir u/1\n", ":2: unit ids are" },
		{ "site a 06 max 5\nunit a renir u1\n",
		  ":2: site a has a max at line 1" },
	};
	(void)s;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char path[] = "/tmp/vg-sites-XXXXXX", err[256] = "";
		struct gw_core *c = gw_core_new();

		write_tmp(path, bad[i].text);
		assert_int_not_equal(gw_sites_load(c, path, err, sizeof(err)),
				     0);
		if (!strstr(err, bad[i].want) || !strstr(err, path))
			fail_msg("got \"%s\", want \"%s\"", err, bad[i].want);
		/* nothing bound, list not closed: first sight still works */
		assert_int_equal(unit(c, "07", "a"), VG_REJ_NONE);
		unlink(path);
		gw_core_free(c);
	}
}

static void test_missing_file(void **s)
{
	char err[256] = "";
	struct gw_core *c = gw_core_new();

	(void)s;
	assert_int_not_equal(gw_sites_load(c, "/nonexistent/sites", err,
					   sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/sites"));
	gw_core_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bound_before_first_sight),
		cmocka_unit_test(test_bad_file_changes_nothing),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_inventory_is_authoritative),
		cmocka_unit_test(test_cap_bounds_invented_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
