/*
 * Quebec's calendar (lib/qcdate.c) whatever the server's zone: the same
 * tests run with the process's TZ set to UTC, Asia/Tokyo and
 * America/Toronto (checked to have taken effect), across the March 31 /
 * April 1 fiscal boundary and the DST changes, past the TZif file's last
 * transition (its footer rule) and at the edges of the range.
 *
 * The reader is then held against the C library, which reads the same
 * tz database: every second where America/Toronto's offset changed
 * between 1900 and 2100, a sample in between, and the round trip back.
 * The same sweep runs in child processes (this binary re-executed) whose
 * TZDIR makes "America/Toronto" another zone or a file written here with
 * a given footer rule, so the footer parser meets southern hemispheres,
 * negative and 26-hour change times, negative DST, Jn and n dates.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vigie/err.h"
#include "vigie/qcdate.h"
#include "vigie/targets.h"

#define H 3600
#define EST (-5 * H)
#define EDT (-4 * H)

static int64_t utc(int y, int m, int d, int hh, int mm, int ss)
{
	return vg_days_from_civil(y, m, d) * 86400 + (int64_t)hh * H +
	       (int64_t)mm * 60 + ss;
}

static void assert_quebec(int64_t t, int y, int m, int d, int hh, int mm,
			  int ss, int utoff)
{
	struct vg_qc_time lt;

	assert_int_equal(vg_qc_local(t, &lt), VG_OK);
	if (lt.date.y != y || lt.date.m != m || lt.date.d != d ||
	    lt.hh != hh || lt.mm != mm || lt.ss != ss || lt.utoff != utoff)
		fail_msg("at %lld: %04d-%02d-%02d %02d:%02d:%02d %+d, want "
			 "%04d-%02d-%02d %02d:%02d:%02d %+d", (long long)t,
			 lt.date.y, lt.date.m, lt.date.d, lt.hh, lt.mm, lt.ss,
			 lt.utoff, y, m, d, hh, mm, ss, utoff);
}

static int64_t quebec(int y, int m, int d, int hh, int mm, int ss)
{
	struct vg_date date = { y, m, d };
	int64_t t = 0;

	assert_int_equal(vg_qc_unix(&date, hh, mm, ss, &t), VG_OK);
	return t;
}

static int fy_at(int64_t t)
{
	struct vg_date d;

	assert_int_equal(vg_qc_date_of(t, &d), VG_OK);
	return vg_fy_of_date(&d);
}

/* 20:30 on March 31 in Quebec is 00:30 UTC on April 1: still the old
 * fiscal year, whatever the server's zone; it turns at 04:00 UTC. */
static void test_fiscal_year_turns_at_quebec_midnight(void **state)
{
	(void)state;
	assert_quebec(utc(2025, 4, 1, 0, 30, 0), 2025, 3, 31, 20, 30, 0, EDT);
	assert_int_equal(fy_at(utc(2025, 4, 1, 0, 30, 0)), 2024);
	assert_int_equal(fy_at(utc(2025, 4, 1, 3, 59, 59)), 2024);
	assert_int_equal(fy_at(utc(2025, 4, 1, 4, 0, 0)), 2025);
	assert_int_equal(fy_at(utc(2025, 4, 1, 4, 30, 0)), 2025);
	assert_int_equal(fy_at(utc(2024, 4, 1, 3, 59, 59)), 2023);
	assert_int_equal(fy_at(utc(2024, 4, 1, 4, 0, 0)), 2024);
	/* the due date of FY 2024-2025 ends at Quebec's midnight, April 1 */
	assert_int_equal(quebec(2025, 4, 1, 0, 0, 0), utc(2025, 4, 1, 4, 0, 0));
	assert_int_equal(quebec(2025, 3, 31, 20, 30, 0),
			 utc(2025, 4, 1, 0, 30, 0));
	/* a Tokyo morning on April 1 is still March 31 in Quebec */
	assert_int_equal(fy_at(utc(2025, 3, 31, 23, 0, 0)), 2024);
}

static void test_dst_changes(void **state)
{
	(void)state;
	/* spring 2025-03-09: 02:00 EST becomes 03:00 EDT */
	assert_quebec(utc(2025, 3, 9, 6, 59, 59), 2025, 3, 9, 1, 59, 59, EST);
	assert_quebec(utc(2025, 3, 9, 7, 0, 0), 2025, 3, 9, 3, 0, 0, EDT);
	/* autumn 2025-11-02: 02:00 EDT becomes 01:00 EST */
	assert_quebec(utc(2025, 11, 2, 5, 59, 59), 2025, 11, 2, 1, 59, 59, EDT);
	assert_quebec(utc(2025, 11, 2, 6, 0, 0), 2025, 11, 2, 1, 0, 0, EST);
	/* days of 23 and 25 hours */
	assert_int_equal(quebec(2025, 3, 10, 0, 0, 0) -
			 quebec(2025, 3, 9, 0, 0, 0), 23 * H);
	assert_int_equal(quebec(2025, 11, 3, 0, 0, 0) -
			 quebec(2025, 11, 2, 0, 0, 0), 25 * H);
	/* a skipped time is read with the offset before the change */
	assert_int_equal(quebec(2025, 3, 9, 2, 30, 0), utc(2025, 3, 9, 7, 30, 0));
	/* a time met twice gives its first instant */
	assert_int_equal(quebec(2025, 11, 2, 1, 30, 0),
			 utc(2025, 11, 2, 5, 30, 0));
	/* winter and summer, far from any change */
	assert_quebec(utc(2025, 1, 15, 12, 0, 0), 2025, 1, 15, 7, 0, 0, EST);
	assert_quebec(utc(2025, 7, 15, 12, 0, 0), 2025, 7, 15, 8, 0, 0, EDT);
}

/* After 2037 the file has no transitions: its footer rule decides. */
static void test_after_the_last_transition(void **state)
{
	(void)state;
	assert_quebec(utc(2045, 3, 12, 6, 59, 59), 2045, 3, 12, 1, 59, 59, EST);
	assert_quebec(utc(2045, 3, 12, 7, 0, 0), 2045, 3, 12, 3, 0, 0, EDT);
	assert_quebec(utc(2045, 11, 5, 6, 0, 0), 2045, 11, 5, 1, 0, 0, EST);
	assert_int_equal(fy_at(utc(2046, 4, 1, 3, 59, 59)), 2045);
	assert_int_equal(fy_at(utc(2046, 4, 1, 4, 0, 0)), 2046);
	assert_int_equal(quebec(2100, 4, 1, 0, 0, 0), utc(2100, 4, 1, 4, 0, 0));
}

static void test_range(void **state)
{
	struct vg_qc_time lt;
	struct vg_date d = { 2025, 13, 1 }, far = { 10000, 1, 1 };
	int64_t t;

	(void)state;
	assert_int_equal(vg_qc_local(VG_TIME_MAX + 1, &lt), VG_ERR_RANGE);
	assert_int_equal(vg_qc_local(VG_TIME_MIN - 1, &lt), VG_ERR_RANGE);
	assert_int_equal(vg_qc_local(VG_TIME_MAX, &lt), VG_OK);
	assert_int_equal(vg_qc_local(VG_TIME_MIN, &lt), VG_OK);
	assert_int_equal(vg_qc_unix(&d, 0, 0, 0, &t), VG_ERR_RANGE);
	assert_int_equal(vg_qc_unix(&far, 0, 0, 0, &t), VG_ERR_RANGE);
	d.m = 4;
	assert_int_equal(vg_qc_unix(&d, 24, 0, 0, &t), VG_ERR_RANGE);
	assert_int_equal(vg_qc_unix(&d, 0, 60, 0, &t), VG_ERR_RANGE);
	/* before the first transition (1895): Toronto's mean solar time */
	assert_quebec(utc(1890, 1, 1, 12, 0, 0), 1890, 1, 1, 6, 42, 28,
		      -(5 * H + 17 * 60 + 32));
}

/* ---- against the C library ------------------------------------------ */

/* vg_qc_local and localtime_r under the process's TZ agree at t. */
static long agree(int64_t t)
{
	time_t tt = (time_t)t;
	struct vg_qc_time lt;
	struct tm tm;

	assert_non_null(localtime_r(&tt, &tm));
	assert_int_equal(vg_qc_local(t, &lt), VG_OK);
	if (lt.date.y != tm.tm_year + 1900 || lt.date.m != tm.tm_mon + 1 ||
	    lt.date.d != tm.tm_mday || lt.hh != tm.tm_hour ||
	    lt.mm != tm.tm_min || lt.ss != tm.tm_sec || lt.utoff != tm.tm_gmtoff)
		fail_msg("at %lld: %04d-%02d-%02d %02d:%02d:%02d %+d, libc "
			 "%04d-%02d-%02d %02d:%02d:%02d %+ld", (long long)t,
			 lt.date.y, lt.date.m, lt.date.d, lt.hh, lt.mm, lt.ss,
			 lt.utoff, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_gmtoff);
	return tm.tm_gmtoff;
}

/* Back from the civil time: t itself, or for the second pass through an
 * autumn hour, the first. */
static void round_trip(int64_t t)
{
	struct vg_qc_time lt, first;
	int64_t u = 0;

	assert_int_equal(vg_qc_local(t, &lt), VG_OK);
	assert_int_equal(vg_qc_unix(&lt.date, lt.hh, lt.mm, lt.ss, &u), VG_OK);
	if (u == t)
		return;
	assert_int_equal(vg_qc_local(u, &first), VG_OK);
	if (u > t || first.utoff <= lt.utoff ||
	    memcmp(&first.date, &lt.date, sizeof(lt.date)) != 0 ||
	    first.hh != lt.hh || first.mm != lt.mm || first.ss != lt.ss)
		fail_msg("at %lld: back to %lld", (long long)t, (long long)u);
}

static long libc_off(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	return tm.tm_gmtoff;
}

/* libc's offset differs at lo and hi: both sides of the change agree. */
static void change(int64_t lo, int64_t hi)
{
	long off = libc_off(lo);

	while (hi - lo > 1) {
		int64_t mid = lo + (hi - lo) / 2;
		if (libc_off(mid) == off)
			lo = mid;
		else
			hi = mid;
	}
	agree(lo);
	agree(hi);
	round_trip(lo);
	round_trip(hi);
}

static void sweep(int64_t from, int64_t to)
{
	const int64_t step = 4 * H + 17; /* odd: every minute of the hour */
	long off = agree(from);

	for (int64_t t = from + step; t < to; t += step) {
		long o = agree(t);
		round_trip(t);
		if (o != off)
			change(t - step, t);
		off = o;
	}
}

/* What libc is held against: TZ and from when (glibc applies a TZ rule
 * string only from 1970 on).  Children change both. */
static const char *libc_tz = VG_QC_ZONE;
static int sweep_from = 1900;

static void test_agrees_with_libc(void **state)
{
	const char *cur = getenv("TZ");
	char *saved = cur ? strdup(cur) : NULL;

	(void)state;
	setenv("TZ", libc_tz, 1);
	tzset();
	sweep(utc(sweep_from, 1, 1, 0, 0, 0), utc(2100, 1, 1, 0, 0, 0));
	if (saved)
		setenv("TZ", saved, 1);
	free(saved);
	tzset();
}

/* ---- other rules, in children --------------------------------------- */

static int put32(FILE *f, int32_t v)
{
	unsigned char b[4] = { (unsigned char)((uint32_t)v >> 24),
			       (unsigned char)((uint32_t)v >> 16),
			       (unsigned char)((uint32_t)v >> 8),
			       (unsigned char)v };
	return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

/* A TZif v2 file with no transition and one type: the footer rules. */
static int write_tzif(const char *path, const char *footer)
{
	static const unsigned char zeros[15];
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -1;
	for (int block = 0; block < 2; block++) {
		rc |= fwrite("TZif2", 1, 5, f) == 5 ? 0 : -1;
		rc |= fwrite(zeros, 1, 15, f) == 15 ? 0 : -1;
		for (int i = 0; i < 6; i++) /* isut isstd leap time type char */
			rc |= put32(f, i == 4 ? 1 : i == 5 ? 4 : 0);
		rc |= put32(f, 0);                    /* utoff */
		rc |= fwrite("\0\0XXX", 1, 6, f) == 6 ? 0 : -1; /* isdst, idx, "XXX\0" */
	}
	rc |= fprintf(f, "\n%s\n", footer) < 0 ? -1 : 0;
	return fclose(f) || rc ? -1 : 0;
}

/* path becomes zone (a real one) or a file with this footer; tz is
 * what makes libc read the same rules (a path or the rule itself, not
 * looked up in TZDIR). */
static int make_zone(const char *path, const char *how, const char *what,
		     char *tz, size_t n)
{
	if (strcmp(how, "--zone") == 0) {
		snprintf(tz, n, "/usr/share/zoneinfo/%s", what);
		return symlink(tz, path);
	}
	snprintf(tz, n, "%s", what);
	sweep_from = 1971;
	return write_tzif(path, what);
}

/* Child: TZDIR/America/Toronto is another zone, held against libc. */
static int child(const char *how, const char *what)
{
	static char tz[160]; /* libc_tz, for the rest of the process */
	char dir[] = "/tmp/vg-qcdate-XXXXXX", sub[64], path[96];
	const struct CMUnitTest t[] = {
		cmocka_unit_test(test_agrees_with_libc),
	};
	int failed = 1;

	if (!mkdtemp(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/America", dir);
	snprintf(path, sizeof(path), "%s/Toronto", sub);
	if (mkdir(sub, 0700) == 0 &&
	    make_zone(path, how, what, tz, sizeof(tz)) == 0) {
		setenv("TZDIR", dir, 1);
		libc_tz = tz;
		failed = cmocka_run_group_tests_name(what, t, NULL, NULL);
	}
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	return failed;
}

static void run_child(const char *how, const char *what)
{
	pid_t pid = fork();
	int status = 0;

	assert_true(pid >= 0);
	if (pid == 0) {
		execl("/proc/self/exe", "test_qcdate", how, what, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s %s failed", how, what);
}

static void test_other_zones(void **state)
{
	static const char *const zones[] = {
		"Australia/Sydney",  /* southern: DST across the new year */
		"America/Nuuk",      /* <-02>2<-01>, a change at -1:00 */
		"Asia/Jerusalem",    /* a change at 26:00 */
		"Europe/Dublin",     /* negative DST: winter is the DST */
		"America/Santiago",  /* changes at 24:00, southern */
		"Africa/Casablanca", /* <+01>-1, transitions until 2087 */
		"Asia/Tokyo",        /* JST-9: no DST */
	};
	static const char *const footers[] = {
		"EST5EDT,M3.2.0,M11.1.0",
		"XXX3YYY,J60/2,J300",           /* Jn: Feb 29 never counted */
		"XXX-5:30YYY-6:45,59,300/1:30:15", /* n: zero-based, Feb 29 counted */
		"<+0530>-5:30",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++)
		run_child("--zone", zones[i]);
	for (size_t i = 0; i < sizeof(footers) / sizeof(footers[0]); i++)
		run_child("--footer", footers[i]);
}

/* The server's zone really is the one asked for: its offset at t. */
static int server_zone_is(const char *tz, long off)
{
	setenv("TZ", tz, 1);
	tzset();
	if (libc_off(utc(2025, 1, 15, 12, 0, 0)) == off)
		return 0;
	fprintf(stderr, "TZ=%s did not take (is tzdata installed?)\n", tz);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *tz;
		long jan_off;
	} servers[] = { { "UTC", 0 }, { "Asia/Tokyo", 9L * H },
			{ VG_QC_ZONE, (long)EST } };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fiscal_year_turns_at_quebec_midnight),
		cmocka_unit_test(test_dst_changes),
		cmocka_unit_test(test_after_the_last_transition),
		cmocka_unit_test(test_range),
	};
	const struct CMUnitTest libc[] = {
		cmocka_unit_test(test_agrees_with_libc),
		cmocka_unit_test(test_other_zones),
	};
	int failed = 0;

	if (argc == 3)
		return child(argv[1], argv[2]);
	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		if (server_zone_is(servers[i].tz, servers[i].jan_off))
			return 1;
		failed += cmocka_run_group_tests_name(servers[i].tz, tests,
						      NULL, NULL);
	}
	return failed + cmocka_run_group_tests_name("against the C library",
						    libc, NULL, NULL);
}
