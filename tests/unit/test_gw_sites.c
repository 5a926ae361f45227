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

static enum vg_reject unit(struct gw_core *c, const char *region,
			   const char *site)
{
	char t[128], p[512];
	struct gw_msg m;
	enum vg_reject r;

	snprintf(t, sizeof(t), "vigie/v1/unit/renir/%s/%s/u", region, site);
	snprintf(p, sizeof(p),
		 "{\"v\":1,\"program\":\"renir\",\"region\":\"%s\","
		 "\"site\":\"%s\",\"unit\":\"u\",\"state\":\"migrated\","
		 "\"seq\":1,\"ts\":\"2026-11-22T18:00:00Z\"}", region, site);
	r = gw_core_decode("", t, p, strlen(p), &m);
	return r != VG_REJ_NONE ? r : gw_core_apply(c, &m);
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
		{ "a 06\nb\n", ":2: expected: SITE REGION" },
		{ "a+b 06\n", ":1: site must be" },
		{ "a 06 x\n", ":1: expected" },
		{ "a 06\na 07\n", "site a is listed in regions 06 and 07" },
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
