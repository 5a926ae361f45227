/* Broker address lists and the failover cursor (vigie/broker.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vigie/broker.h"
#include "vigie/err.h"

static int one(const char *s, struct vg_broker *b)
{
	char why[160];

	return vg_broker_parse(s, strlen(s), b, why, sizeof(why));
}

static void addresses_with_and_without_port(void **state)
{
	struct vg_broker b;

	(void)state;
	assert_int_equal(one("mqtt.example:8883", &b), VG_OK);
	assert_string_equal(b.host, "mqtt.example");
	assert_int_equal(b.port, 8883);
	assert_int_equal(one("10.0.0.1", &b), VG_OK);
	assert_string_equal(b.host, "10.0.0.1");
	assert_int_equal(b.port, 0); /* not given: the caller's default */
	assert_int_equal(one("[::1]:1884", &b), VG_OK);
	assert_string_equal(b.host, "::1");
	assert_int_equal(b.port, 1884);
	assert_int_equal(one("[fe80::2]", &b), VG_OK);
	assert_string_equal(b.host, "fe80::2");
	assert_int_equal(b.port, 0);
	/* a bare IPv6 address has no port, whatever its last group says */
	assert_int_equal(one("::1", &b), VG_OK);
	assert_string_equal(b.host, "::1");
	assert_int_equal(b.port, 0);
	assert_int_equal(one("a_b-c.d:65535", &b), VG_OK);
}

static void bad_addresses(void **state)
{
	static const char *const bad[] = {
		"a:0", "a:65536", "a:", "a:x", "a:+1", "a:1 ", ":1883",
		"a b", "-a", "a/b:1", "[::1", "[::1]x", "[nope]:1", "[]:1",
		"1:2:zz", "a:1:2x", "\xc3\xa9t\xc3\xa9",
	};
	struct vg_broker b;
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (vg_broker_parse(bad[i], strlen(bad[i]), &b, why,
				    sizeof(why)) != VG_ERR_PARSE)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(why[0] != '\0');
	}
	assert_int_equal(one("[::1]:0", &b), VG_ERR_PARSE);
	assert_int_equal(vg_broker_parse("a:1883", 0, &b, why, sizeof(why)),
			 VG_ERR_PARSE);
}

static void lists_take_blanks_and_say_which_entry(void **state)
{
	struct vg_broker l[VG_BROKERS_MAX];
	char why[200] = "";
	int n = 0;

	(void)state;
	assert_int_equal(vg_broker_list_parse("a:8883,  b:8883 ,\tc",
					      l, &n, VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(n, 3);
	assert_string_equal(l[1].host, "b");
	assert_int_equal(l[2].port, 0);
	/* appended: --broker given again */
	assert_int_equal(vg_broker_list_parse("[::1]:1", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(n, 4);
	assert_string_equal(l[3].host, "::1");

	n = 0;
	assert_int_equal(vg_broker_list_parse("a, b:0", l, &n, VG_BROKERS_MAX,
					      why, sizeof(why)), VG_ERR_PARSE);
	assert_string_equal(why, "address 2 'b:0': the port must be 1..65535");
	assert_int_equal(n, 0); /* nothing taken from a bad list */
	assert_int_equal(vg_broker_list_parse("a,,b", l, &n, VG_BROKERS_MAX,
					      why, sizeof(why)), VG_ERR_PARSE);
	assert_string_equal(why, "address 2 is empty (a comma too many?)");
	assert_int_equal(vg_broker_list_parse("a, ", l, &n, VG_BROKERS_MAX,
					      why, sizeof(why)), VG_ERR_PARSE);
	assert_non_null(strstr(why, "address 2 is empty"));
	assert_int_equal(vg_broker_list_parse("", l, &n, VG_BROKERS_MAX,
					      why, sizeof(why)), VG_ERR_PARSE);
}

static void lists_are_capped(void **state)
{
	struct vg_broker l[VG_BROKERS_MAX];
	char why[200] = "";
	int n = 0;

	(void)state;
	assert_int_equal(vg_broker_list_parse("a,b,c,d,e,f,g,h", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(n, 8);
	n = 0;
	assert_int_equal(vg_broker_list_parse("a,b,c,d,e,f,g,h,i", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_ERR_PARSE);
	assert_string_equal(why, "more than 8 broker addresses");
	/* the cap counts what earlier --broker options gave */
	n = 7;
	assert_int_equal(vg_broker_list_parse("x,y", l, &n, VG_BROKERS_MAX,
					      why, sizeof(why)), VG_ERR_PARSE);
	assert_int_equal(n, 7);
}

static void finish_gives_the_default_port_and_refuses_repeats(void **state)
{
	struct vg_broker l[VG_BROKERS_MAX];
	char why[200] = "";
	int n = 0;

	(void)state;
	assert_int_equal(vg_broker_list_parse("a, b:1884, [::1]", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(vg_broker_list_finish(l, n, 8883, why, sizeof(why)),
			 VG_OK);
	assert_int_equal(l[0].port, 8883);
	assert_int_equal(l[1].port, 1884);
	assert_int_equal(l[2].port, 8883);

	n = 0;
	assert_int_equal(vg_broker_list_parse("mqtt-a, b, MQTT-A:1883", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(vg_broker_list_finish(l, n, 1883, why, sizeof(why)),
			 VG_ERR_PARSE);
	assert_string_equal(why, "MQTT-A:1883 is given twice (addresses 1 "
			    "and 3)");
	/* one host on two ports is two brokers */
	n = 0;
	assert_int_equal(vg_broker_list_parse("a:1, a:2", l, &n,
					      VG_BROKERS_MAX, why,
					      sizeof(why)), VG_OK);
	assert_int_equal(vg_broker_list_finish(l, n, 1883, why, sizeof(why)),
			 VG_OK);
}

static void format_brackets_ipv6(void **state)
{
	struct vg_broker b = { "::1", 1883 };
	char buf[VG_BROKER_ADDR_MAX];

	(void)state;
	vg_broker_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:1883");
	snprintf(b.host, sizeof(b.host), "mqtt.example");
	vg_broker_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "mqtt.example:1883");
}

static void failover_backs_off_once_a_cycle(void **state)
{
	struct vg_failover f;

	(void)state;
	vg_failover_init(&f, 3);
	assert_int_equal(f.cur, 0);
	assert_false(vg_failover_failed(&f)); /* 0 failed: try 1 now */
	assert_int_equal(f.cur, 1);
	assert_false(vg_failover_failed(&f));
	assert_int_equal(f.cur, 2);
	assert_true(vg_failover_failed(&f));  /* all three: back off */
	assert_int_equal(f.cur, 0);
	assert_false(vg_failover_failed(&f)); /* a new cycle */
	assert_int_equal(f.cur, 1);
	vg_failover_ok(&f);                   /* 1 accepted, then lost */
	assert_false(vg_failover_failed(&f));
	assert_int_equal(f.cur, 2);
	assert_false(vg_failover_failed(&f));
	assert_true(vg_failover_failed(&f));
	assert_int_equal(f.cur, 1);

	/* one address: every failure is a whole cycle, as before lists */
	vg_failover_init(&f, 1);
	assert_true(vg_failover_failed(&f));
	assert_int_equal(f.cur, 0);
	vg_failover_init(&f, 0);
	assert_int_equal(f.n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(addresses_with_and_without_port),
		cmocka_unit_test(bad_addresses),
		cmocka_unit_test(lists_take_blanks_and_say_which_entry),
		cmocka_unit_test(lists_are_capped),
		cmocka_unit_test(finish_gives_the_default_port_and_refuses_repeats),
		cmocka_unit_test(format_brackets_ipv6),
		cmocka_unit_test(failover_backs_off_once_a_cycle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
