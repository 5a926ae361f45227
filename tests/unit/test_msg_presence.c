/* Agent presence codec: births and wills on vigie/v1/agent/{site}. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/msg.h"
#include "vigie/topic.h"

static enum vg_reject decode(const char *p, const struct vg_topic *t,
			     struct vg_presence *out)
{
	size_t len = strlen(p);
	char *copy = malloc(len ? len : 1);
	enum vg_reject r;

	assert_non_null(copy);
	memcpy(copy, p, len);
	r = vg_presence_decode(copy, len, t, out);
	free(copy);
	return r;
}

static void expect_rej(const char *p, enum vg_reject want)
{
	struct vg_presence pr;
	enum vg_reject r = decode(p, NULL, &pr);

	if (r != want)
		fail_msg("%s: got %s, want %s", p, vg_reject_name(r),
			 vg_reject_name(want));
}

#define BIRTH "{\"v\":1,\"site\":\"mtl-entrepot\",\"region\":\"06\"," \
	      "\"online\":true,\"version\":\"0.1.0\",\"board\":\"rpi-cm4\"," \
	      "\"units\":120,\"ts\":\"2026-11-22T18:00:00Z\"}"

static void test_decode_birth_and_will(void **state)
{
	struct vg_presence pr;
	struct vg_topic t;
	static const char topic[] = "vigie/v1/agent/mtl-entrepot";

	(void)state;
	assert_int_equal(vg_topic_parse(NULL, topic, strlen(topic), &t), 0);
	assert_int_equal(decode(BIRTH, &t, &pr), VG_REJ_NONE);
	assert_string_equal(pr.site, "mtl-entrepot");
	assert_int_equal(pr.region, 6);
	assert_true(pr.online);
	assert_string_equal(pr.version, "0.1.0");
	assert_string_equal(pr.board, "rpi-cm4");
	assert_int_equal(pr.units, 120);
	assert_int_equal(pr.ts, 1795370400);

	/* a will: only the required fields, online false */
	assert_int_equal(decode("{\"v\":1,\"site\":\"mtl-entrepot\","
				"\"region\":\"06\",\"online\":false,"
				"\"extra\":[1]}", &t, &pr), VG_REJ_NONE);
	assert_false(pr.online);
	assert_int_equal(pr.units, 0);
	assert_string_equal(pr.version, "");
}

static void test_decode_rejects(void **state)
{
	struct vg_presence pr;
	struct vg_topic t;
	char big[VG_PAYLOAD_MAX + 2];

	(void)state;
	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	expect_rej(big, VG_REJ_OVERSIZE);
	expect_rej("{", VG_REJ_MALFORMED);
	expect_rej("[1]", VG_REJ_MALFORMED);
	expect_rej(BIRTH "x", VG_REJ_MALFORMED);
	expect_rej("{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", VG_REJ_MALFORMED);
	expect_rej("{\"v\":1,\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true}", VG_REJ_MALFORMED);
	expect_rej("{\"v\":2,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true}", VG_REJ_VERSION);
	expect_rej("{\"site\":\"s\",\"region\":\"01\",\"online\":true}",
		   VG_REJ_MISSING);
	expect_rej("{\"v\":1,\"region\":\"01\",\"online\":true}",
		   VG_REJ_MISSING);
	expect_rej("{\"v\":1,\"site\":\"s\",\"online\":true}",
		   VG_REJ_MISSING);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\"}",
		   VG_REJ_MISSING);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":1}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":\"true\"}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":3,\"region\":\"01\","
		   "\"online\":true}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":1,"
		   "\"online\":true}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"units\":-1}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"units\":1.5}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"units\":\"3\"}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"version\":1}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"board\":\"\xff\"}", VG_REJ_TYPE);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"18\","
		   "\"online\":true}", VG_REJ_REGION);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"all\","
		   "\"online\":true}", VG_REJ_REGION);
	expect_rej("{\"v\":1,\"site\":\"s/t\",\"region\":\"01\","
		   "\"online\":true}", VG_REJ_IDENT);
	expect_rej("{\"v\":1,\"site\":\"\",\"region\":\"01\","
		   "\"online\":true}", VG_REJ_IDENT);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"ts\":\"2026-11-22T18:00:00+01:00\"}",
		   VG_REJ_TIME);
	expect_rej("{\"v\":1,\"site\":\"s\",\"region\":\"01\","
		   "\"online\":true,\"ts\":5}", VG_REJ_TYPE);
	/* version text longer than VG_TEXT_MAX */
	{
		char p[256];
		char v[VG_TEXT_MAX + 2];
		memset(v, 'v', VG_TEXT_MAX + 1);
		v[VG_TEXT_MAX + 1] = '\0';
		snprintf(p, sizeof(p), "{\"v\":1,\"site\":\"s\",\"region\":"
			 "\"01\",\"online\":true,\"version\":\"%s\"}", v);
		expect_rej(p, VG_REJ_TYPE);
		v[VG_TEXT_MAX] = '\0';
		snprintf(p, sizeof(p), "{\"v\":1,\"site\":\"s\",\"region\":"
			 "\"01\",\"online\":true,\"version\":\"%s\"}", v);
		expect_rej(p, VG_REJ_NONE);
	}

	/* the topic's site must be the payload's */
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/agent/other", 20, &t),
			 0);
	assert_int_equal(decode(BIRTH, &t, &pr), VG_REJ_MISMATCH);
	assert_int_equal(vg_topic_parse(NULL, "vigie/v1/gateway/mtl-entrepot",
					29, &t), 0);
	assert_int_equal(decode(BIRTH, &t, &pr), VG_REJ_MISMATCH);
}

static void test_round_trip(void **state)
{
	struct vg_presence pr, back;
	struct vg_topic t;
	char buf[VG_PAYLOAD_MAX], topic[VG_TOPIC_MAX];
	int n;

	(void)state;
	memset(&pr, 0, sizeof(pr));
	strcpy(pr.site, "sag-lac.01");
	pr.region = 2;
	pr.online = true;
	strcpy(pr.version, "1.2.3 \"beta\"\n\xc3\xa9");
	strcpy(pr.board, "imx8\\mini");
	pr.units = 2000;
	pr.ts = 1709164800;
	n = vg_presence_encode(&pr, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_true(vg_topic_agent(topic, sizeof(topic), "pfx", pr.site) > 0);
	assert_int_equal(vg_topic_parse("pfx", topic, strlen(topic), &t), 0);
	assert_int_equal(decode(buf, &t, &back), VG_REJ_NONE);
	assert_string_equal(back.site, pr.site);
	assert_int_equal(back.region, pr.region);
	assert_int_equal(back.online, pr.online);
	assert_string_equal(back.version, pr.version);
	assert_string_equal(back.board, pr.board);
	assert_int_equal(back.units, pr.units);
	assert_int_equal(back.ts, pr.ts);

	pr.online = false;
	pr.version[0] = '\0';
	pr.units = 0;
	n = vg_presence_encode(&pr, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "\"online\":false"));
	assert_int_equal(decode(buf, &t, &back), VG_REJ_NONE);
	assert_false(back.online);
	assert_string_equal(back.version, "");

	/* encoder refusals */
	strcpy(pr.site, "a+b");
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	strcpy(pr.site, "ok");
	pr.region = 0;
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.region = 18;
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.region = 1;
	/* never emit what the decoder must refuse */
	strcpy(pr.version, "\xff");
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.version[0] = '\0';
	strcpy(pr.board, "\xe2\x80");
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.board[0] = '\0';
	pr.units = -1;
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.units = 1000001;
	assert_int_equal(vg_presence_encode(&pr, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	pr.units = 1000000;
	n = vg_presence_encode(&pr, buf, sizeof(buf));
	assert_true(n > 0);
	for (size_t size = 0; size <= (size_t)n; size++)
		assert_int_equal(vg_presence_encode(&pr, buf, size),
				 VG_ERR_RANGE);
	assert_int_equal(vg_presence_encode(&pr, buf, (size_t)n + 1), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_birth_and_will),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
