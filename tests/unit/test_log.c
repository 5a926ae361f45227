/* Logging levels and the rate limiter that keeps floods out of the logs. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigie/log.h"

static void test_burst_then_suppress(void **state)
{
	struct vg_ratelimit rl;
	uint32_t sup = 99;

	(void)state;
	vg_ratelimit_init(&rl, 1000, 3);
	/* the very first event is allowed, even at time 0 */
	assert_true(vg_ratelimit_allow(&rl, 0, &sup));
	assert_int_equal(sup, 0);
	assert_true(vg_ratelimit_allow(&rl, 10, &sup));
	assert_true(vg_ratelimit_allow(&rl, 20, &sup));
	for (int i = 0; i < 5; i++) {
		sup = 99;
		assert_false(vg_ratelimit_allow(&rl, 30 + i, &sup));
		assert_int_equal(sup, 0);
	}
	assert_false(vg_ratelimit_allow(&rl, 999, &sup));
	assert_int_equal(sup, 0);
	/* a new window: allowed, and told how many were dropped, once */
	assert_true(vg_ratelimit_allow(&rl, 1000, &sup));
	assert_int_equal(sup, 6);
	assert_true(vg_ratelimit_allow(&rl, 1001, &sup));
	assert_int_equal(sup, 0);
	assert_true(vg_ratelimit_allow(&rl, 1002, &sup));
	assert_false(vg_ratelimit_allow(&rl, 1003, &sup));
	/* a quiet window: the count is reported when the next one opens */
	assert_true(vg_ratelimit_allow(&rl, 5000, &sup));
	assert_int_equal(sup, 1);
	assert_true(vg_ratelimit_allow(&rl, 6000, &sup));
	assert_int_equal(sup, 0);
}

/* The window starts at the first event, not at time 0. */
static void test_window_starts_at_first_event(void **state)
{
	struct vg_ratelimit rl;
	uint32_t sup;

	(void)state;
	vg_ratelimit_init(&rl, 1000, 1);
	assert_true(vg_ratelimit_allow(&rl, 500, &sup));
	assert_false(vg_ratelimit_allow(&rl, 1000, &sup));
	assert_false(vg_ratelimit_allow(&rl, 1499, &sup));
	assert_true(vg_ratelimit_allow(&rl, 1500, &sup));
	assert_int_equal(sup, 2);
}

static void test_no_suppression_no_report(void **state)
{
	struct vg_ratelimit rl;
	uint32_t sup;

	(void)state;
	vg_ratelimit_init(&rl, 100, 2);
	for (int64_t t = 1000000; t < 1010000; t += 50) {
		assert_true(vg_ratelimit_allow(&rl, t, &sup));
		assert_int_equal(sup, 0);
	}
}

static void test_zero_burst_and_large_clock(void **state)
{
	struct vg_ratelimit rl;
	uint32_t sup;

	(void)state;
	vg_ratelimit_init(&rl, 10, 0);
	assert_false(vg_ratelimit_allow(&rl, 0, &sup));
	assert_false(vg_ratelimit_allow(&rl, 5, &sup));
	assert_false(vg_ratelimit_allow(&rl, 10, &sup));
	assert_int_equal(sup, 2);
	/* monotonic clocks start anywhere */
	vg_ratelimit_init(&rl, 60000, 1);
	assert_true(vg_ratelimit_allow(&rl, 123456789012LL, &sup));
	assert_false(vg_ratelimit_allow(&rl, 123456789013LL, &sup));
	assert_true(vg_ratelimit_allow(&rl, 123456789012LL + 60000, &sup));
	assert_int_equal(sup, 1);
}

static void test_levels(void **state)
{
	enum vg_log_level old = vg_log_get_level();

	(void)state;
	assert_int_equal(vg_log_level_parse("error"), VG_LOG_ERR);
	assert_int_equal(vg_log_level_parse("warn"), VG_LOG_WARN);
	assert_int_equal(vg_log_level_parse("info"), VG_LOG_INFO);
	assert_int_equal(vg_log_level_parse("debug"), VG_LOG_DEBUG);
	assert_int_equal(vg_log_level_parse("DEBUG"), -1);
	assert_int_equal(vg_log_level_parse("verbose"), -1);
	assert_int_equal(vg_log_level_parse(""), -1);
	vg_log_set_level(VG_LOG_WARN);
	assert_int_equal(vg_log_get_level(), VG_LOG_WARN);
	vg_log_set_level(old);
}

/* One line per call on stderr, "ident: level: text", filtered by level. */
static void test_log_output(void **state)
{
	char path[] = "/tmp/vigie-log-XXXXXX";
	char buf[512];
	FILE *f;
	int fd, saved;
	size_t n;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);

	vg_log_set_ident("test-vigie");
	vg_log_set_level(VG_LOG_INFO);
	vg_log(VG_LOG_ERR, "bad %s %d", "thing", 42);
	vg_log(VG_LOG_DEBUG, "hidden");
	vg_log(VG_LOG_INFO, "shown");
	fflush(stderr);

	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	vg_log_set_ident("vigie");
	assert_string_equal(buf, "test-vigie: error: bad thing 42\n"
				 "test-vigie: info: shown\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_suppress),
		cmocka_unit_test(test_window_starts_at_first_event),
		cmocka_unit_test(test_no_suppression_no_report),
		cmocka_unit_test(test_zero_burst_and_large_clock),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_log_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
