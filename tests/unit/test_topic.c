/* Topics of the wire contract: parsing (with and without prefix), builders. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/region.h"
#include "vigie/topic.h"

static int tparse(const char *prefix, const char *t, struct vg_topic *out)
{
	return vg_topic_parse(prefix, t, strlen(t), out);
}

static void test_parse_unit(void **state)
{
	struct vg_topic t;

	(void)state;
	assert_int_equal(tparse(NULL, "vigie/v1/unit/renir/03/QC-site.1/u_7",
				&t), VG_OK);
	assert_int_equal(t.kind, VG_TOPIC_UNIT);
	assert_int_equal(t.program, VG_PROG_RENIR);
	assert_int_equal(t.region, 3);
	assert_string_equal(t.site, "QC-site.1");
	assert_string_equal(t.unit, "u_7");

	assert_int_equal(tparse("", "vigie/v1/unit/rgt/17/s/u", &t), VG_OK);
	assert_int_equal(t.program, VG_PROG_RGT);
	assert_int_equal(t.region, 17);

	assert_int_equal(tparse("acme/qc", "acme/qc/vigie/v1/unit/rgt/01/s/u",
				&t), VG_OK);
	assert_int_equal(t.kind, VG_TOPIC_UNIT);
	assert_int_equal(t.region, 1);
	assert_string_equal(t.site, "s");
	assert_string_equal(t.unit, "u");
}

static void test_parse_other_kinds(void **state)
{
	static const char *const prefixes[] = { NULL, "", "p", "a/b.c" };
	char topic[VG_TOPIC_MAX], built[VG_TOPIC_MAX];
	struct vg_topic t;

	(void)state;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		const char *p = prefixes[i];
		const char *pre = p && *p ? p : "";
		const char *sep = p && *p ? "/" : "";

		snprintf(topic, sizeof(topic), "%s%svigie/v1/agent/site-9",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_AGENT);
		assert_string_equal(t.site, "site-9");

		snprintf(topic, sizeof(topic), "%s%svigie/v1/summary/rgt/all",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_SUMMARY);
		assert_int_equal(t.program, VG_PROG_RGT);
		assert_int_equal(t.region, VG_REGION_ALL);

		snprintf(topic, sizeof(topic), "%s%svigie/v1/summary/renir/16",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_SUMMARY);
		assert_int_equal(t.program, VG_PROG_RENIR);
		assert_int_equal(t.region, 16);

		snprintf(topic, sizeof(topic), "%s%svigie/v1/event/renir/09",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_EVENT);
		assert_int_equal(t.region, 9);

		snprintf(topic, sizeof(topic), "%s%svigie/v1/event/rgt/all",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_EVENT);
		assert_int_equal(t.region, VG_REGION_ALL);

		snprintf(topic, sizeof(topic), "%s%svigie/v1/gateway/gw-1",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_GATEWAY);
		assert_string_equal(t.id, "gw-1");

		snprintf(topic, sizeof(topic), "%s%svigie/v1/bridge/03",
			 pre, sep);
		assert_int_equal(tparse(p, topic, &t), VG_OK);
		assert_int_equal(t.kind, VG_TOPIC_BRIDGE);
		assert_int_equal(t.region, 3);
		assert_true(vg_topic_bridge(built, sizeof(built), p, 3) >= 0);
		assert_string_equal(built, topic);
	}
}

static void expect_bad(const char *prefix, const char *topic)
{
	struct vg_topic t;

	if (tparse(prefix, topic, &t) != VG_ERR_INVAL)
		fail_msg("accepted topic \"%s\" (prefix \"%s\")", topic,
			 prefix ? prefix : "(null)");
}

static void test_parse_rejects(void **state)
{
	char topic[VG_TOPIC_MAX];
	char id49[50];

	(void)state;
	/* wrong or missing prefix */
	expect_bad("acme", "vigie/v1/unit/renir/01/s/u");
	expect_bad("acme", "acm/vigie/v1/unit/renir/01/s/u");
	expect_bad("acme", "acmex/vigie/v1/unit/renir/01/s/u");
	expect_bad("acme", "acme");
	expect_bad("acme", "acme/");
	expect_bad("acme", "acmeXvigie/v1/agent/s");
	expect_bad("ac", "acme/vigie/v1/agent/s");
	expect_bad(NULL, "acme/vigie/v1/unit/renir/01/s/u");
	expect_bad(NULL, "/vigie/v1/unit/renir/01/s/u");
	/* wrong root or version */
	expect_bad(NULL, "vigie/v2/unit/renir/01/s/u");
	expect_bad(NULL, "Vigie/v1/unit/renir/01/s/u");
	expect_bad(NULL, "vigie/v1");
	expect_bad(NULL, "vigie/v1/");
	expect_bad(NULL, "");
	/* extra or missing segments */
	expect_bad(NULL, "vigie/v1/unit/renir/01/s/u/x");
	expect_bad(NULL, "vigie/v1/bridge/all");
	expect_bad(NULL, "vigie/v1/bridge/18");
	expect_bad(NULL, "vigie/v1/bridge/03/x");
	expect_bad(NULL, "vigie/v1/unit/renir/01/s/u/x/y/z");
	expect_bad(NULL, "vigie/v1/unit/renir/01/s");
	expect_bad(NULL, "vigie/v1/unit/renir/01/s/");
	expect_bad(NULL, "vigie/v1/unit/renir/01//u");
	expect_bad(NULL, "vigie/v1/agent");
	expect_bad(NULL, "vigie/v1/agent/");
	expect_bad(NULL, "vigie/v1/agent/s/x");
	expect_bad(NULL, "vigie/v1/summary/renir");
	expect_bad(NULL, "vigie/v1/summary/renir/01/x");
	expect_bad(NULL, "vigie/v1/event/renir");
	expect_bad(NULL, "vigie/v1/gateway");
	expect_bad(NULL, "vigie/v1/gateway/a/b");
	/* unknown kind or program */
	expect_bad(NULL, "vigie/v1/units/renir/01/s/u");
	expect_bad(NULL, "vigie/v1/unit/RENIR/01/s/u");
	expect_bad(NULL, "vigie/v1/unit/other/01/s/u");
	expect_bad(NULL, "vigie/v1/summary/x/01");
	/* bad regions; "all" only for summaries and events */
	expect_bad(NULL, "vigie/v1/unit/renir/18/s/u");
	expect_bad(NULL, "vigie/v1/unit/renir/00/s/u");
	expect_bad(NULL, "vigie/v1/unit/renir/1/s/u");
	expect_bad(NULL, "vigie/v1/unit/renir/all/s/u");
	expect_bad(NULL, "vigie/v1/summary/renir/18");
	expect_bad(NULL, "vigie/v1/summary/renir/00");
	expect_bad(NULL, "vigie/v1/event/rgt/18");
	/* bad identifiers */
	memset(id49, 'a', 49);
	id49[49] = '\0';
	snprintf(topic, sizeof(topic), "vigie/v1/unit/renir/01/%s/u", id49);
	expect_bad(NULL, topic);
	snprintf(topic, sizeof(topic), "vigie/v1/unit/renir/01/s/%s", id49);
	expect_bad(NULL, topic);
	snprintf(topic, sizeof(topic), "vigie/v1/agent/%s", id49);
	expect_bad(NULL, topic);
	snprintf(topic, sizeof(topic), "vigie/v1/gateway/%s", id49);
	expect_bad(NULL, topic);
	id49[48] = '\0'; /* 48 is fine */
	snprintf(topic, sizeof(topic), "vigie/v1/unit/renir/01/%s/%s", id49,
		 id49);
	{
		struct vg_topic t;
		assert_int_equal(tparse(NULL, topic, &t), VG_OK);
		assert_int_equal(strlen(t.site), 48);
		assert_int_equal(strlen(t.unit), 48);
	}
	expect_bad(NULL, "vigie/v1/unit/renir/01/+/u");
	expect_bad(NULL, "vigie/v1/unit/renir/01/s/#");
	expect_bad(NULL, "vigie/v1/unit/renir/01/s+t/u");
	expect_bad(NULL, "vigie/v1/agent/+");
	expect_bad(NULL, "vigie/v1/agent/#");
	expect_bad(NULL, "vigie/v1/agent/a b");
	expect_bad(NULL, "vigie/v1/gateway/+");
}

static void test_parse_uses_len(void **state)
{
	static const char t[] = "vigie/v1/agent/site1/extra";
	struct vg_topic out;

	(void)state;
	assert_int_equal(vg_topic_parse(NULL, t, 20, &out), VG_OK);
	assert_string_equal(out.site, "site1");
	assert_int_equal(vg_topic_parse(NULL, t, strlen(t), &out),
			 VG_ERR_INVAL);
}

static void test_builders(void **state)
{
	char buf[VG_TOPIC_MAX];
	struct vg_topic t;
	int n;

	(void)state;
	n = vg_topic_unit(buf, sizeof(buf), NULL, VG_PROG_RENIR, 3, "s1",
			  "u1");
	assert_string_equal(buf, "vigie/v1/unit/renir/03/s1/u1");
	assert_int_equal(n, (int)strlen(buf));
	vg_topic_unit(buf, sizeof(buf), "", VG_PROG_RGT, 17, "s", "u");
	assert_string_equal(buf, "vigie/v1/unit/rgt/17/s/u");
	vg_topic_unit(buf, sizeof(buf), "acme/qc", VG_PROG_RGT, 1, "s", "u");
	assert_string_equal(buf, "acme/qc/vigie/v1/unit/rgt/01/s/u");
	assert_int_equal(tparse("acme/qc", buf, &t), VG_OK);
	assert_int_equal(t.kind, VG_TOPIC_UNIT);
	assert_int_equal(t.program, VG_PROG_RGT);
	assert_int_equal(t.region, 1);

	vg_topic_agent(buf, sizeof(buf), NULL, "site-1");
	assert_string_equal(buf, "vigie/v1/agent/site-1");
	vg_topic_summary(buf, sizeof(buf), NULL, VG_PROG_RENIR, 6);
	assert_string_equal(buf, "vigie/v1/summary/renir/06");
	vg_topic_summary(buf, sizeof(buf), "p", VG_PROG_RGT, VG_REGION_ALL);
	assert_string_equal(buf, "p/vigie/v1/summary/rgt/all");
	vg_topic_event(buf, sizeof(buf), NULL, VG_PROG_RGT, 12);
	assert_string_equal(buf, "vigie/v1/event/rgt/12");
	vg_topic_event(buf, sizeof(buf), NULL, VG_PROG_RGT, VG_REGION_ALL);
	assert_string_equal(buf, "vigie/v1/event/rgt/all");
	vg_topic_gateway(buf, sizeof(buf), NULL, "gw.central");
	assert_string_equal(buf, "vigie/v1/gateway/gw.central");
	vg_topic_filter(buf, sizeof(buf), NULL, "unit");
	assert_string_equal(buf, "vigie/v1/unit/#");
	vg_topic_filter(buf, sizeof(buf), "pfx", "summary");
	assert_string_equal(buf, "pfx/vigie/v1/summary/#");

	/* builders refuse what the parser would refuse */
	assert_int_equal(vg_topic_unit(buf, sizeof(buf), NULL, VG_PROG_RENIR,
				       0, "s", "u"), VG_ERR_INVAL);
	assert_int_equal(vg_topic_unit(buf, sizeof(buf), NULL, VG_PROG_RENIR,
				       18, "s", "u"), VG_ERR_INVAL);
	assert_int_equal(vg_topic_unit(buf, sizeof(buf), NULL,
				       VG_PROG_COUNT, 1, "s", "u"),
			 VG_ERR_INVAL);
	assert_int_equal(vg_topic_unit(buf, sizeof(buf), NULL, VG_PROG_RENIR,
				       1, "s/x", "u"), VG_ERR_INVAL);
	assert_int_equal(vg_topic_unit(buf, sizeof(buf), NULL, VG_PROG_RENIR,
				       1, "s", ""), VG_ERR_INVAL);
	assert_int_equal(vg_topic_agent(buf, sizeof(buf), NULL, "+"),
			 VG_ERR_INVAL);
	assert_int_equal(vg_topic_gateway(buf, sizeof(buf), NULL, "#"),
			 VG_ERR_INVAL);
	assert_int_equal(vg_topic_summary(buf, sizeof(buf), NULL,
					  VG_PROG_RENIR, 18), VG_ERR_INVAL);
	assert_int_equal(vg_topic_event(buf, sizeof(buf), NULL,
					VG_PROG_COUNT, 1), VG_ERR_INVAL);
	/* short buffers */
	assert_int_equal(vg_topic_agent(buf, 21, NULL, "site-1"),
			 VG_ERR_RANGE);
	assert_int_equal(vg_topic_agent(buf, 22, NULL, "site-1"), 21);
	assert_int_equal(vg_topic_summary(buf, 10, NULL, VG_PROG_RENIR, 1),
			 VG_ERR_RANGE);
	assert_int_equal(vg_topic_unit(buf, 10, "p", VG_PROG_RENIR, 1, "s",
				       "u"), VG_ERR_RANGE);
}

static void test_build_parse_round_trip(void **state)
{
	char buf[VG_TOPIC_MAX];
	struct vg_topic t;

	(void)state;
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		for (int r = 0; r <= VG_REGION_COUNT; r++) {
			assert_true(vg_topic_summary(buf, sizeof(buf), "x",
						     (enum vg_program)p, r) > 0);
			assert_int_equal(tparse("x", buf, &t), VG_OK);
			assert_int_equal(t.kind, VG_TOPIC_SUMMARY);
			assert_int_equal(t.program, p);
			assert_int_equal(t.region, r);
			if (r == 0)
				continue;
			assert_true(vg_topic_unit(buf, sizeof(buf), NULL,
						  (enum vg_program)p, r, "s",
						  "u") > 0);
			assert_int_equal(tparse(NULL, buf, &t), VG_OK);
			assert_int_equal(t.program, p);
			assert_int_equal(t.region, r);
		}
	}
}

static void test_prefix_valid(void **state)
{
	char longp[VG_PREFIX_MAX + 2];

	(void)state;
	assert_true(vg_prefix_valid(""));
	assert_true(vg_prefix_valid("acme"));
	assert_true(vg_prefix_valid("acme/qc"));
	assert_true(vg_prefix_valid("a.b/c-d/e_f"));
	assert_false(vg_prefix_valid("/acme"));
	assert_false(vg_prefix_valid("acme/"));
	assert_false(vg_prefix_valid("a//b"));
	assert_false(vg_prefix_valid("a+b"));
	assert_false(vg_prefix_valid("a/#"));
	assert_false(vg_prefix_valid("+"));
	assert_false(vg_prefix_valid("a b"));
	assert_false(vg_prefix_valid("/"));
	memset(longp, 'a', VG_PREFIX_MAX);
	longp[VG_PREFIX_MAX] = '\0';
	longp[10] = '/';
	longp[30] = '/';
	longp[50] = '/';
	assert_true(vg_prefix_valid(longp));
	longp[VG_PREFIX_MAX] = 'a';
	longp[VG_PREFIX_MAX + 1] = '\0';
	assert_false(vg_prefix_valid(longp));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_unit),
		cmocka_unit_test(test_parse_other_kinds),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_uses_len),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_build_parse_round_trip),
		cmocka_unit_test(test_prefix_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
