/*
 * Targets: the compiled-in plan, fiscal years (April 1 .. March 31), the
 * target in force on a given day, and the targets file (strict, file:line
 * errors, all-or-nothing).
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

#include "vigie/err.h"
#include "vigie/targets.h"

static int fy_of(int y, int m, int d)
{
	struct vg_date dt = { y, m, d };
	return vg_fy_of_date(&dt);
}

static int fy_of_str(const char *s)
{
	struct vg_date dt;

	assert_int_equal(vg_date_parse(s, &dt), VG_OK);
	return vg_fy_of_date(&dt);
}

static int parse(struct vg_targets *tg, const char *text, char *err,
		 size_t errlen)
{
	return vg_targets_parse(tg, text, strlen(text), "targets.conf", err,
				errlen);
}

static void test_defaults(void **state)
{
	struct vg_targets tg;
	const struct vg_plan *r, *g;

	(void)state;
	memset(&tg, 0xa5, sizeof(tg));
	vg_targets_default(&tg);
	r = &tg.plan[VG_PROG_RENIR];
	g = &tg.plan[VG_PROG_RGT];
	assert_int_equal(r->baseline_bp, 5100);
	assert_int_equal(r->n, 2);
	assert_int_equal(r->t[0].fy, 2023);
	assert_int_equal(r->t[0].bp, 7000);
	assert_int_equal(r->t[1].fy, 2024);
	assert_int_equal(r->t[1].bp, 7500);
	assert_int_equal(g->baseline_bp, 1100);
	assert_int_equal(g->n, 2);
	assert_int_equal(g->t[0].fy, 2023);
	assert_int_equal(g->t[0].bp, 1500);
	assert_int_equal(g->t[1].fy, 2024);
	assert_int_equal(g->t[1].bp, 4000);
}

static void test_fiscal_year(void **state)
{
	(void)state;
	assert_int_equal(fy_of(2024, 3, 31), 2023);
	assert_int_equal(fy_of(2024, 4, 1), 2024);
	assert_int_equal(fy_of(2024, 1, 1), 2023);
	assert_int_equal(fy_of(2024, 12, 31), 2024);
	assert_int_equal(fy_of(2025, 3, 31), 2024);
	assert_int_equal(fy_of(2025, 4, 1), 2025);
	assert_int_equal(fy_of_str("2024-03-31"), 2023);
	assert_int_equal(fy_of_str("2024-04-01"), 2024);
}

static void test_fy_format_parse(void **state)
{
	char buf[16];
	int fy = 0;
	struct vg_date due;

	(void)state;
	assert_int_equal(vg_fy_format(2024, buf, sizeof(buf)), 9);
	assert_string_equal(buf, "2024-2025");
	assert_int_equal(vg_fy_format(2024, buf, 9), VG_ERR_RANGE);
	assert_int_equal(vg_fy_parse("2024-2025", 9, &fy), VG_OK);
	assert_int_equal(fy, 2024);
	assert_int_equal(vg_fy_parse("2025-2026", 9, &fy), VG_OK);
	assert_int_equal(fy, 2025);
	fy = 1;
	assert_true(vg_fy_parse("2024-2026", 9, &fy) < 0);
	assert_true(vg_fy_parse("2024-2024", 9, &fy) < 0);
	assert_true(vg_fy_parse("2025-2024", 9, &fy) < 0);
	assert_true(vg_fy_parse("2024/2025", 9, &fy) < 0);
	assert_true(vg_fy_parse("2024-25", 7, &fy) < 0);
	assert_true(vg_fy_parse("2024-2025x", 10, &fy) < 0);
	assert_true(vg_fy_parse("20a4-2025", 9, &fy) < 0);
	assert_true(vg_fy_parse("", 0, &fy) < 0);
	assert_int_equal(fy, 1);
	vg_fy_due(2024, &due);
	assert_int_equal(due.y, 2025);
	assert_int_equal(due.m, 3);
	assert_int_equal(due.d, 31);
	/* the due date is the last day of the fiscal year */
	assert_int_equal(vg_fy_of_date(&due), 2024);
}

static void test_plan_current_default(void **state)
{
	struct vg_targets tg;
	const struct vg_plan *r;
	bool ended = true;
	int i;

	(void)state;
	vg_targets_default(&tg);
	r = &tg.plan[VG_PROG_RENIR];

	/* before the first fiscal year: the first target */
	i = vg_plan_current(r, fy_of_str("2022-06-01"), &ended);
	assert_int_equal(i, 0);
	assert_int_equal(r->t[i].bp, 7000);
	assert_false(ended);

	i = vg_plan_current(r, fy_of_str("2024-03-31"), &ended);
	assert_int_equal(r->t[i].bp, 7000);
	assert_false(ended);

	/* within FY 2024-2025 */
	ended = true;
	i = vg_plan_current(r, fy_of_str("2024-04-01"), &ended);
	assert_int_equal(i, 1);
	assert_int_equal(r->t[i].bp, 7500);
	assert_false(ended);
	i = vg_plan_current(r, fy_of_str("2025-03-31"), &ended);
	assert_int_equal(r->t[i].bp, 7500);
	assert_false(ended);

	/* after the plan: the last, and say so */
	i = vg_plan_current(r, fy_of_str("2025-04-01"), &ended);
	assert_int_equal(i, 1);
	assert_true(ended);
	ended = false;
	i = vg_plan_current(r, 2026, &ended);
	assert_int_equal(i, 1);
	assert_int_equal(r->t[i].bp, 7500);
	assert_true(ended);

	i = vg_plan_current(&tg.plan[VG_PROG_RGT], 2024, &ended);
	assert_int_equal(tg.plan[VG_PROG_RGT].t[i].bp, 4000);
	assert_false(ended);
}

static void test_plan_current_gaps_and_empty(void **state)
{
	struct vg_plan p = { .baseline_bp = 0, .n = 3,
			     .t = { { 2023, 1000 }, { 2024, 2000 },
				    { 2027, 5000 } } };
	struct vg_plan empty = { 0 };
	bool ended = true;

	(void)state;
	/* a year with no target of its own: the next one to come */
	assert_int_equal(vg_plan_current(&p, 2025, &ended), 2);
	assert_false(ended);
	assert_int_equal(vg_plan_current(&p, 2027, &ended), 2);
	assert_false(ended);
	assert_int_equal(vg_plan_current(&p, 2028, &ended), 2);
	assert_true(ended);
	assert_int_equal(vg_plan_current(&empty, 2024, &ended), VG_ERR_NOTFOUND);
	assert_false(ended);
}

static void test_file_extends(void **state)
{
	struct vg_targets tg;
	char err[128] = "";
	bool ended;
	int i;

	(void)state;
	vg_targets_default(&tg);
	assert_int_equal(parse(&tg, "renir 2025-2026 80\n", err, sizeof(err)),
			 VG_OK);
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, 3);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[2].fy, 2025);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[2].bp, 8000);
	/* the other program and the baseline are untouched */
	assert_int_equal(tg.plan[VG_PROG_RENIR].baseline_bp, 5100);
	assert_int_equal(tg.plan[VG_PROG_RGT].n, 2);
	/* FY 2025 is no longer past the plan */
	i = vg_plan_current(&tg.plan[VG_PROG_RENIR], 2025, &ended);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[i].bp, 8000);
	assert_false(ended);
	i = vg_plan_current(&tg.plan[VG_PROG_RENIR], 2026, &ended);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[i].bp, 8000);
	assert_true(ended);
}

static void test_file_replace_sort_baseline(void **state)
{
	struct vg_targets tg;
	char err[128] = "";
	const struct vg_plan *g;

	(void)state;
	vg_targets_default(&tg);
	assert_int_equal(parse(&tg,
			       "# later plan\n"
			       "\n"
			       "   \t\n"
			       "rgt 2026-2027 90   # out of order on purpose\n"
			       "rgt\t2024-2025\t42.5\r\n"
			       "rgt 2025-2026 60.25\n"
			       "rgt baseline 12\n"
			       "renir baseline 51.5",
			       err, sizeof(err)),
			 VG_OK);
	g = &tg.plan[VG_PROG_RGT];
	assert_int_equal(g->n, 4);
	assert_int_equal(g->baseline_bp, 1200);
	assert_int_equal(g->t[0].fy, 2023);
	assert_int_equal(g->t[0].bp, 1500);
	assert_int_equal(g->t[1].fy, 2024);
	assert_int_equal(g->t[1].bp, 4250); /* replaced, not duplicated */
	assert_int_equal(g->t[2].fy, 2025);
	assert_int_equal(g->t[2].bp, 6025);
	assert_int_equal(g->t[3].fy, 2026);
	assert_int_equal(g->t[3].bp, 9000);
	assert_int_equal(tg.plan[VG_PROG_RENIR].baseline_bp, 5150);
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, 2);

	/* an earlier year than the plan's goes first */
	assert_int_equal(parse(&tg, "renir 2022-2023 60\n", err, sizeof(err)),
			 VG_OK);
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, 3);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[0].fy, 2022);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[1].fy, 2023);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[2].fy, 2024);

	/* empty and comment-only texts change nothing */
	struct vg_targets before = tg;
	assert_int_equal(parse(&tg, "", err, sizeof(err)), VG_OK);
	assert_int_equal(parse(&tg, "# nothing\n\n#\n", err, sizeof(err)),
			 VG_OK);
	assert_memory_equal(&before, &tg, sizeof(tg));
}

/* Each bad text must fail with "targets.conf:LINE:" and change nothing. */
static void expect_error(const char *text, int line, const char *what)
{
	struct vg_targets tg, before;
	char err[160] = "";
	char want[64];

	vg_targets_default(&tg);
	before = tg;
	if (parse(&tg, text, err, sizeof(err)) >= 0)
		fail_msg("accepted: %s", text);
	snprintf(want, sizeof(want), "targets.conf:%d: ", line);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, want);
	if (what && !strstr(err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
	assert_memory_equal(&before, &tg, sizeof(tg));
}

static void test_file_errors(void **state)
{
	char longline[400];

	(void)state;
	expect_error("renir 2025-2026\n", 1, "expected");
	expect_error("renir 2025-2026 80 extra\n", 1, "expected");
	expect_error("# ok\nrenir 2025-2026 80\nbogus 2025-2026 80\n", 3,
		     "program");
	expect_error("\n\n\n\nrenir 2025-2027 80\n", 5, "fiscal year");
	expect_error("renir 2025 80\n", 1, "fiscal year");
	expect_error("rgt 2025-2026 100.01\n", 1, "percent");
	expect_error("rgt 2025-2026 1.234\n", 1, "percent");
	expect_error("rgt 2025-2026 -5\n", 1, "percent");
	expect_error("rgt baseline abc\n", 1, "percent");
	expect_error("RENIR 2025-2026 80\n", 1, "program");
	/* valid lines before the error are not applied either */
	expect_error("renir 2025-2026 80\nrgt baseline 20\nrgt x 1\n", 3,
		     NULL);
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	expect_error(longline, 1, "too long");
}

static void test_file_nul_byte(void **state)
{
	static const char text[] = "renir 2025-2026 80\nrgt\0 2025-2026 1\n";
	struct vg_targets tg, before;
	char err[128] = "";

	(void)state;
	vg_targets_default(&tg);
	before = tg;
	assert_true(vg_targets_parse(&tg, text, sizeof(text) - 1, "t", err,
				     sizeof(err)) < 0);
	assert_string_equal(err, "t:2: NUL byte");
	assert_memory_equal(&before, &tg, sizeof(tg));
}

static void test_file_too_many(void **state)
{
	struct vg_targets tg;
	char text[2048], err[128] = "";
	size_t off = 0;
	int fy;

	(void)state;
	vg_targets_default(&tg);
	/* 2 defaults + 14 new = 16 = VG_TARGETS_MAX: accepted */
	for (fy = 2025; fy < 2039; fy++)
		off += (size_t)snprintf(text + off, sizeof(text) - off,
					"renir %d-%d 80\n", fy, fy + 1);
	assert_int_equal(vg_targets_parse(&tg, text, off, "t", err,
					  sizeof(err)), VG_OK);
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, VG_TARGETS_MAX);
	/* one more is refused, on its own line */
	vg_targets_default(&tg);
	off += (size_t)snprintf(text + off, sizeof(text) - off,
				"renir %d-%d 80\n", fy, fy + 1);
	assert_true(vg_targets_parse(&tg, text, off, "t", err,
				     sizeof(err)) < 0);
	assert_non_null(strstr(err, "t:15: "));
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, 2);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/vigie-targets-XXXXXX";
	static const char text[] = "# site plan\nrenir 2025-2026 80\n"
				   "rgt baseline 12.5\nrgt 2025-2026 x\n";
	struct vg_targets tg, before;
	char err[256] = "", want[300];
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs("# site plan\nrenir 2025-2026 80\nrgt baseline 12.5\n", f);
	assert_int_equal(fclose(f), 0);

	vg_targets_default(&tg);
	assert_int_equal(vg_targets_load(&tg, path, err, sizeof(err)), VG_OK);
	assert_int_equal(tg.plan[VG_PROG_RENIR].n, 3);
	assert_int_equal(tg.plan[VG_PROG_RENIR].t[2].bp, 8000);
	assert_int_equal(tg.plan[VG_PROG_RGT].baseline_bp, 1250);

	/* an error names the file and the line, and changes nothing */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	vg_targets_default(&tg);
	before = tg;
	assert_int_equal(vg_targets_load(&tg, path, err, sizeof(err)),
			 VG_ERR_PARSE);
	snprintf(want, sizeof(want), "%s:4: ", path);
	assert_int_equal(strncmp(err, want, strlen(want)), 0);
	assert_memory_equal(&before, &tg, sizeof(tg));

	/* a file over 64 KiB is refused, even if it is all comments */
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 1100; i++)
		fputs("# 64 bytes of comment ................................"
		      "........\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(vg_targets_load(&tg, path, err, sizeof(err)),
			 VG_ERR_RANGE);
	assert_non_null(strstr(err, path));
	assert_memory_equal(&before, &tg, sizeof(tg));

	assert_int_equal(unlink(path), 0);

	/* a missing file */
	err[0] = '\0';
	assert_int_equal(vg_targets_load(&tg, path, err, sizeof(err)),
			 VG_ERR_IO);
	assert_non_null(strstr(err, path));
	assert_memory_equal(&before, &tg, sizeof(tg));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_fiscal_year),
		cmocka_unit_test(test_fy_format_parse),
		cmocka_unit_test(test_plan_current_default),
		cmocka_unit_test(test_plan_current_gaps_and_empty),
		cmocka_unit_test(test_file_extends),
		cmocka_unit_test(test_file_replace_sort_baseline),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_nul_byte),
		cmocka_unit_test(test_file_too_many),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
