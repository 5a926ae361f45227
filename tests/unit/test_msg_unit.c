/*
 * Unit status codec: strict decoding (every rejection reason the gateway
 * counts), topic agreement, forward compatibility, and encode → decode.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/msg.h"
#include "vigie/region.h"
#include "vigie/topic.h"

/* The fields of a valid payload, in order; tests drop or replace one. */
static const char *const keys[] = {
	"v", "program", "region", "site", "unit", "state", "seq", "ts",
	"since", "source", "tech", "fault"
};
static const char *const vals[] = {
	"1", "\"renir\"", "\"03\"", "\"QC-03.a\"", "\"u-1\"", "\"migrated\"",
	"1795370400123", "\"2026-11-22T18:00:00Z\"",
	"\"2026-11-20T08:30:00.250Z\"", "\"manual\"", "\"tech_42\"",
	"\"timeout\""
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* Build the payload, leaving out key `skip` and giving `key` value `val`. */
static const char *payload(const char *skip, const char *key,
			   const char *val)
{
	static char buf[2048];
	size_t off = 0;

	off += (size_t)snprintf(buf + off, sizeof(buf) - off, "{");
	for (size_t i = 0; i < NKEYS; i++) {
		const char *v = vals[i];
		if (skip && strcmp(skip, keys[i]) == 0)
			continue;
		if (key && strcmp(key, keys[i]) == 0)
			v = val;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off,
					"%s\"%s\":%s", off > 1 ? "," : "",
					keys[i], v);
	}
	/* a key outside the template is appended */
	if (key && val) {
		bool known = false;
		for (size_t i = 0; i < NKEYS; i++)
			known = known || strcmp(key, keys[i]) == 0;
		if (!known)
			off += (size_t)snprintf(buf + off, sizeof(buf) - off,
						",\"%s\":%s", key, val);
	}
	snprintf(buf + off, sizeof(buf) - off, "}");
	return buf;
}

/* Decode from an exact-size heap copy (no NUL) so ASan sees overreads. */
static enum vg_reject decode_n(const char *p, size_t len,
			       const struct vg_topic *t,
			       struct vg_unit_status *out)
{
	char *copy = malloc(len ? len : 1);
	enum vg_reject r;

	assert_non_null(copy);
	memcpy(copy, p, len);
	r = vg_unit_status_decode(copy, len, t, out);
	free(copy);
	return r;
}

static enum vg_reject decode(const char *p, const struct vg_topic *t,
			     struct vg_unit_status *out)
{
	return decode_n(p, strlen(p), t, out);
}

static void expect_rej(const char *p, enum vg_reject want)
{
	struct vg_unit_status st;
	enum vg_reject r = decode(p, NULL, &st);

	if (r != want)
		fail_msg("%s: got %s, want %s", p, vg_reject_name(r),
			 vg_reject_name(want));
}

static void test_decode_valid(void **state)
{
	struct vg_unit_status st;
	struct vg_topic t;
	const char *p = payload(NULL, NULL, NULL);
	static const char topic[] = "vigie/v1/unit/renir/03/QC-03.a/u-1";

	(void)state;
	assert_int_equal(vg_topic_parse(NULL, topic, strlen(topic), &t), 0);
	assert_int_equal(decode(p, &t, &st), VG_REJ_NONE);
	assert_int_equal(st.program, VG_PROG_RENIR);
	assert_int_equal(st.region, 3);
	assert_string_equal(st.site, "QC-03.a");
	assert_string_equal(st.unit, "u-1");
	assert_int_equal(st.state, VG_STATE_MIGRATED);
	assert_int_equal(st.seq, 1795370400123LL);
	assert_int_equal(st.ts, 1795370400);
	assert_true(st.has_since);
	assert_int_equal(st.since, 1795370400 - 2 * 86400 - 9 * 3600 - 1800);
	assert_int_equal(st.source, VG_SOURCE_MANUAL);
	assert_string_equal(st.tech, "tech_42");
	assert_string_equal(st.fault, "timeout");
	assert_string_equal(st.note, "");
	/* without a topic as well */
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
}

static void test_decode_minimal(void **state)
{
	struct vg_unit_status st;
	static const char p[] =
		" {\"v\":1,\"program\":\"rgt\",\"region\":\"17\","
		"\"site\":\"s\",\"unit\":\"u\",\"state\":\"pending\","
		"\"seq\":0,\"ts\":\"2024-02-29T00:00:00Z\"}\r\n";

	(void)state;
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
	assert_int_equal(st.program, VG_PROG_RGT);
	assert_int_equal(st.region, 17);
	assert_int_equal(st.state, VG_STATE_PENDING);
	assert_int_equal(st.seq, 0);
	assert_int_equal(st.ts, 1709164800);
	assert_false(st.has_since);
	assert_int_equal(st.source, VG_SOURCE_NONE);
	assert_string_equal(st.tech, "");
	assert_string_equal(st.fault, "");
	assert_string_equal(st.note, "");
}

static void test_each_state(void **state)
{
	static const char *const names[] = { "pending", "migrating",
					     "migrated", "retired",
					     "unknown" };
	struct vg_unit_status st;
	char v[32];

	(void)state;
	for (int i = 0; i < VG_STATE_COUNT; i++) {
		snprintf(v, sizeof(v), "\"%s\"", names[i]);
		assert_int_equal(decode(payload(NULL, "state", v), NULL, &st),
				 VG_REJ_NONE);
		assert_int_equal(st.state, i);
	}
	assert_int_equal(decode(payload(NULL, "source", "\"modbus\""), NULL,
				&st), VG_REJ_NONE);
	assert_int_equal(st.source, VG_SOURCE_MODBUS);
}

static void test_unknown_fields_ignored(void **state)
{
	struct vg_unit_status st;
	char p[2048];

	(void)state;
	snprintf(p, sizeof(p), "{\"future\":{\"a\":[1,2,{\"b\":null}]},"
		 "\"x\":\"y\",%s", payload(NULL, NULL, NULL) + 1);
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
	assert_string_equal(st.site, "QC-03.a");
	/* optional text fields may be null */
	assert_int_equal(decode(payload(NULL, "fault", "null"), NULL, &st),
			 VG_REJ_NONE);
	assert_string_equal(st.fault, "");
	assert_int_equal(decode(payload(NULL, "tech", "null"), NULL, &st),
			 VG_REJ_NONE);
	assert_string_equal(st.tech, "");
	assert_int_equal(decode(payload(NULL, "note", "\"mur \\\"B\\\"\\n\""),
				NULL, &st), VG_REJ_NONE);
	assert_string_equal(st.note, "mur \"B\"\n");
	/* escapes decode to UTF-8 */
	assert_int_equal(decode(payload(NULL, "fault", "\"caf\\u00e9\""),
				NULL, &st), VG_REJ_NONE);
	assert_string_equal(st.fault, "caf\xc3\xa9");
	/* text must be valid UTF-8 */
	expect_rej(payload(NULL, "fault", "\"bad \xff byte\""), VG_REJ_TYPE);
	expect_rej(payload(NULL, "note", "\"\xc3\""), VG_REJ_TYPE);
	expect_rej(payload(NULL, "fault", "\"\xc0\xaf\""), VG_REJ_TYPE);
}

static void test_oversize(void **state)
{
	char *p = malloc(VG_PAYLOAD_MAX + 2);
	const char *base = payload(NULL, NULL, NULL);
	size_t blen = strlen(base);
	struct vg_unit_status st;
	size_t pad;

	(void)state;
	assert_non_null(p);
	/* a valid payload padded with whitespace to exactly 4096 bytes */
	memcpy(p, base, blen);
	pad = VG_PAYLOAD_MAX - blen;
	memset(p + blen, ' ', pad);
	assert_int_equal(decode_n(p, VG_PAYLOAD_MAX, NULL, &st), VG_REJ_NONE);
	p[VG_PAYLOAD_MAX] = ' ';
	assert_int_equal(decode_n(p, VG_PAYLOAD_MAX + 1, NULL, &st),
			 VG_REJ_OVERSIZE);
	/* oversize is checked before anything else */
	memset(p, 'x', VG_PAYLOAD_MAX + 1);
	assert_int_equal(decode_n(p, VG_PAYLOAD_MAX + 1, NULL, &st),
			 VG_REJ_OVERSIZE);
	free(p);
}

static void test_malformed(void **state)
{
	struct vg_unit_status st;
	char deep[64];
	char p[2048];

	(void)state;
	expect_rej("", VG_REJ_MALFORMED);
	expect_rej("{", VG_REJ_MALFORMED);
	expect_rej("{\"v\":1,", VG_REJ_MALFORMED);
	expect_rej("{'v':1}", VG_REJ_MALFORMED);
	expect_rej("not json", VG_REJ_MALFORMED);
	/* not an object */
	expect_rej("[]", VG_REJ_MALFORMED);
	expect_rej("[{\"v\":1}]", VG_REJ_MALFORMED);
	expect_rej("1", VG_REJ_MALFORMED);
	expect_rej("\"v\"", VG_REJ_MALFORMED);
	expect_rej("null", VG_REJ_MALFORMED);
	expect_rej("true", VG_REJ_MALFORMED);
	/* trailing garbage after the object */
	snprintf(p, sizeof(p), "%sx", payload(NULL, NULL, NULL));
	expect_rej(p, VG_REJ_MALFORMED);
	snprintf(p, sizeof(p), "%s{}", payload(NULL, NULL, NULL));
	expect_rej(p, VG_REJ_MALFORMED);
	snprintf(p, sizeof(p), "%s }", payload(NULL, NULL, NULL));
	expect_rej(p, VG_REJ_MALFORMED);
	/* deeply nested, even inside an unknown field */
	snprintf(p, sizeof(p), "{\"x\":[[[[1]]]],%s",
		 payload(NULL, NULL, NULL) + 1);
	expect_rej(p, VG_REJ_MALFORMED);
	memset(deep, '[', 40);
	deep[40] = '\0';
	snprintf(p, sizeof(p), "{\"x\":%s", deep);
	expect_rej(p, VG_REJ_MALFORMED);
	/* depth 4 is allowed; brackets inside strings do not count */
	snprintf(p, sizeof(p), "{\"x\":[[[1]]],\"y\":\"[[[[[[{{{{\\\"\","
		 "%s", payload(NULL, NULL, NULL) + 1);
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
	/* an escaped quote does not end the string */
	snprintf(p, sizeof(p), "{\"y\":\"\\\"[[[[[[\\\\\",\"z\":\"]]\\\"{{{{{\","
		 "%s", payload(NULL, NULL, NULL) + 1);
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
	/* duplicate keys, even with equal values */
	snprintf(p, sizeof(p), "{\"seq\":1,%s", payload(NULL, NULL, NULL) + 1);
	expect_rej(p, VG_REJ_MALFORMED);
	snprintf(p, sizeof(p), "{\"site\":\"QC-03.a\",%s",
		 payload(NULL, NULL, NULL) + 1);
	expect_rej(p, VG_REJ_MALFORMED);
	/* an embedded NUL byte */
	{
		static const char nul[] = "{\"v\":1}\0 ";
		assert_int_equal(decode_n(nul, sizeof(nul) - 1, NULL, &st),
				 VG_REJ_MALFORMED);
	}
}

static void test_version(void **state)
{
	(void)state;
	expect_rej(payload(NULL, "v", "2"), VG_REJ_VERSION);
	expect_rej(payload(NULL, "v", "0"), VG_REJ_VERSION);
	expect_rej(payload(NULL, "v", "\"1\""), VG_REJ_TYPE);
	expect_rej(payload(NULL, "v", "1.5"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "v", "true"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "v", "-1"), VG_REJ_TYPE);
}

static void test_missing(void **state)
{
	static const char *const required[] = {
		"v", "program", "region", "site", "unit", "state", "seq", "ts"
	};
	struct vg_unit_status st;

	(void)state;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		expect_rej(payload(required[i], NULL, NULL), VG_REJ_MISSING);
	expect_rej("{}", VG_REJ_MISSING);
	/* optional fields may be left out */
	static const char *const optional[] = { "since", "source", "tech",
						"fault" };
	for (size_t i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
		assert_int_equal(decode(payload(optional[i], NULL, NULL), NULL,
					&st), VG_REJ_NONE);
}

static void test_types(void **state)
{
	char big[80];

	(void)state;
	expect_rej(payload(NULL, "seq", "\"1795370400123\""), VG_REJ_TYPE);
	expect_rej(payload(NULL, "seq", "-1"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "seq", "1.5"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "seq", "null"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "seq", "9007199254740992"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "seq", "1e300"), VG_REJ_TYPE);
	snprintf(big, sizeof(big), "%lld", VG_SEQ_MAX);
	{
		struct vg_unit_status st;
		assert_int_equal(decode(payload(NULL, "seq", big), NULL, &st),
				 VG_REJ_NONE);
		assert_int_equal(st.seq, VG_SEQ_MAX);
		assert_int_equal(decode(payload(NULL, "seq", "1.0e3"), NULL,
					&st), VG_REJ_NONE);
		assert_int_equal(st.seq, 1000);
	}
	expect_rej(payload(NULL, "program", "1"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "region", "3"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "site", "42"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "unit", "[\"u\"]"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "state", "{}"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "ts", "1795370400"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "since", "0"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "source", "true"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "fault", "5"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "note", "{}"), VG_REJ_TYPE);
	expect_rej(payload(NULL, "tech", "7"), VG_REJ_TYPE);
	/* fault longer than VG_FAULT_MAX */
	{
		char longf[VG_FAULT_MAX + 4];
		struct vg_unit_status st;
		longf[0] = '"';
		memset(longf + 1, 'f', VG_FAULT_MAX);
		strcpy(longf + 1 + VG_FAULT_MAX, "\"");
		assert_int_equal(decode(payload(NULL, "fault", longf), NULL,
					&st), VG_REJ_NONE);
		assert_int_equal(strlen(st.fault), VG_FAULT_MAX);
		longf[1 + VG_FAULT_MAX] = 'f';
		strcpy(longf + 2 + VG_FAULT_MAX, "\"");
		expect_rej(payload(NULL, "fault", longf), VG_REJ_TYPE);
	}
}

static void test_vocabularies(void **state)
{
	char id49[64];

	(void)state;
	expect_rej(payload(NULL, "program", "\"RENIR\""), VG_REJ_PROGRAM);
	expect_rej(payload(NULL, "program", "\"other\""), VG_REJ_PROGRAM);
	expect_rej(payload(NULL, "program", "\"\""), VG_REJ_PROGRAM);
	expect_rej(payload(NULL, "region", "\"18\""), VG_REJ_REGION);
	expect_rej(payload(NULL, "region", "\"00\""), VG_REJ_REGION);
	expect_rej(payload(NULL, "region", "\"3\""), VG_REJ_REGION);
	expect_rej(payload(NULL, "region", "\"all\""), VG_REJ_REGION);
	expect_rej(payload(NULL, "state", "\"done\""), VG_REJ_STATE);
	expect_rej(payload(NULL, "state", "\"Migrated\""), VG_REJ_STATE);
	expect_rej(payload(NULL, "source", "\"snmp\""), VG_REJ_STATE);
	expect_rej(payload(NULL, "site", "\"a/b\""), VG_REJ_IDENT);
	expect_rej(payload(NULL, "site", "\"\""), VG_REJ_IDENT);
	expect_rej(payload(NULL, "site", "\"a+b\""), VG_REJ_IDENT);
	expect_rej(payload(NULL, "unit", "\"#\""), VG_REJ_IDENT);
	expect_rej(payload(NULL, "unit", "\"caf\\u00e9\""), VG_REJ_IDENT);
	expect_rej(payload(NULL, "tech", "\"jean tremblay\""), VG_REJ_IDENT);
	id49[0] = '"';
	memset(id49 + 1, 'a', 49);
	strcpy(id49 + 50, "\"");
	expect_rej(payload(NULL, "site", id49), VG_REJ_IDENT);
	expect_rej(payload(NULL, "unit", id49), VG_REJ_IDENT);
	strcpy(id49 + 49, "\"");  /* 48 characters: fine */
	{
		struct vg_unit_status st;
		assert_int_equal(decode(payload(NULL, "unit", id49), NULL,
					&st), VG_REJ_NONE);
		assert_int_equal(strlen(st.unit), 48);
	}
	expect_rej(payload(NULL, "ts", "\"2026-11-22T18:00:00+00:00\""),
		   VG_REJ_TIME);
	expect_rej(payload(NULL, "ts", "\"2026-11-22 18:00:00Z\""),
		   VG_REJ_TIME);
	expect_rej(payload(NULL, "ts", "\"2023-02-29T00:00:00Z\""),
		   VG_REJ_TIME);
	expect_rej(payload(NULL, "ts", "\"\""), VG_REJ_TIME);
	expect_rej(payload(NULL, "since", "\"yesterday\""), VG_REJ_TIME);
}

static void expect_mismatch(const char *topic, enum vg_reject want)
{
	struct vg_unit_status st;
	struct vg_topic t;

	assert_int_equal(vg_topic_parse(NULL, topic, strlen(topic), &t), 0);
	if (decode(payload(NULL, NULL, NULL), &t, &st) != want)
		fail_msg("topic %s not %s", topic, vg_reject_name(want));
}

static void test_topic_mismatch(void **state)
{
	(void)state;
	expect_mismatch("vigie/v1/unit/renir/03/QC-03.a/u-1", VG_REJ_NONE);
	expect_mismatch("vigie/v1/unit/rgt/03/QC-03.a/u-1", VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/unit/renir/04/QC-03.a/u-1",
			VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/unit/renir/03/QC-03.b/u-1",
			VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/unit/renir/03/QC-03.a/u-2",
			VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/unit/renir/03/qc-03.a/u-1",
			VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/agent/QC-03.a", VG_REJ_MISMATCH);
	expect_mismatch("vigie/v1/summary/renir/03", VG_REJ_MISMATCH);
}

static void sample(struct vg_unit_status *st)
{
	memset(st, 0, sizeof(*st));
	st->program = VG_PROG_RGT;
	st->region = 11;
	strcpy(st->site, "gaspe.entrepot-1");
	strcpy(st->unit, "RITM_0042");
	st->state = VG_STATE_MIGRATING;
	st->seq = 1795370400999LL;
	st->ts = 1795370400;
}

static void assert_status_equal(const struct vg_unit_status *a,
				const struct vg_unit_status *b)
{
	assert_int_equal(a->program, b->program);
	assert_int_equal(a->region, b->region);
	assert_string_equal(a->site, b->site);
	assert_string_equal(a->unit, b->unit);
	assert_int_equal(a->state, b->state);
	assert_int_equal(a->removed, b->removed);
	assert_int_equal(a->seq, b->seq);
	assert_int_equal(a->ts, b->ts);
	assert_int_equal(a->has_since, b->has_since);
	if (a->has_since)
		assert_int_equal(a->since, b->since);
	assert_int_equal(a->source, b->source);
	assert_string_equal(a->tech, b->tech);
	assert_string_equal(a->fault, b->fault);
	assert_string_equal(a->note, b->note);
}

static void round_trip(const struct vg_unit_status *st)
{
	char buf[VG_PAYLOAD_MAX + 1], topic[VG_TOPIC_MAX];
	struct vg_unit_status back;
	struct vg_topic t;
	int n;

	n = vg_unit_status_encode(st, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(buf));
	/* control characters are always escaped on the wire */
	for (int i = 0; i < n; i++)
		assert_true((unsigned char)buf[i] >= 0x20);
	assert_true(vg_topic_unit(topic, sizeof(topic), NULL, st->program,
				  st->region, st->site, st->unit) > 0);
	assert_int_equal(vg_topic_parse(NULL, topic, strlen(topic), &t), 0);
	if (decode_n(buf, (size_t)n, &t, &back) != VG_REJ_NONE)
		fail_msg("encoded payload rejected: %s", buf);
	assert_status_equal(st, &back);
}

static void test_round_trip(void **state)
{
	struct vg_unit_status st;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)state;
	sample(&st);
	round_trip(&st);
	n = vg_unit_status_encode(&st, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
		"{\"v\":1,\"program\":\"rgt\",\"region\":\"11\","
		"\"site\":\"gaspe.entrepot-1\",\"unit\":\"RITM_0042\","
		"\"state\":\"migrating\",\"seq\":1795370400999,"
		"\"ts\":\"2026-11-22T18:00:00Z\"}");

	st.has_since = true;
	st.since = 1700000000;
	st.source = VG_SOURCE_MANUAL;
	strcpy(st.tech, "tech.07");
	/* quotes, backslash, newline, tab, a control byte and UTF-8 */
	strcpy(st.fault, "read \"holding\" 40001\\x: timeout\n\tr\x01\r\x1f\x7f "
			 "\xc3\xa9\xe2\x80\x93\xf0\x9f\x93\xa1");
	strcpy(st.note, "Gasp\xc3\xa9sie\xe2\x80\x93\xc3\x8eles: \"ok\"");
	round_trip(&st);

	for (int s = 0; s < VG_STATE_COUNT; s++) {
		for (int r = 1; r <= VG_REGION_COUNT; r++) {
			st.state = (enum vg_state)s;
			st.region = r;
			st.program = (enum vg_program)(r % 2);
			st.source = (enum vg_source)(r % 3);
			round_trip(&st);
		}
	}
	st.seq = 0;
	round_trip(&st);
	st.seq = VG_SEQ_MAX;
	round_trip(&st);
	memset(st.fault, 'z', VG_FAULT_MAX);
	st.fault[VG_FAULT_MAX] = '\0';
	round_trip(&st);
}

/* A tombstone: the required fields with "state":"removed", nothing else
 * needed; it is never one of the counted states. */
static void test_removed(void **state)
{
	struct vg_unit_status st;
	char buf[VG_PAYLOAD_MAX];
	static const char p[] =
		"{\"v\":1,\"program\":\"renir\",\"region\":\"03\","
		"\"site\":\"QC-03.a\",\"unit\":\"u-1\",\"state\":\"removed\","
		"\"seq\":1795370400124,\"ts\":\"2026-11-22T18:00:00Z\"}";

	(void)state;
	assert_int_equal(decode(p, NULL, &st), VG_REJ_NONE);
	assert_true(st.removed);
	assert_int_equal(st.state, VG_STATE_UNKNOWN);
	assert_int_equal(st.seq, 1795370400124LL);
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 (int)strlen(p));
	assert_string_equal(buf, p);
	round_trip(&st);
	/* optional members are allowed (and kept) as on any status */
	assert_int_equal(decode(payload(NULL, "state", "\"removed\""), NULL,
				&st), VG_REJ_NONE);
	assert_true(st.removed);
	assert_true(st.has_since);
	round_trip(&st);
	/* the other states are not removals; a removal of another state
	 * cannot be encoded; the spelling is exact */
	assert_int_equal(decode(payload(NULL, "state", "\"unknown\""), NULL,
				&st), VG_REJ_NONE);
	assert_false(st.removed);
	st.removed = true;
	st.state = VG_STATE_MIGRATED;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	expect_rej(payload(NULL, "state", "\"Removed\""), VG_REJ_STATE);
	expect_rej(payload(NULL, "state", "\"removed \""), VG_REJ_STATE);
}

static void test_encode_rejects(void **state)
{
	struct vg_unit_status st;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)state;
	sample(&st);
	st.program = VG_PROG_COUNT;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.region = 0;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	st.region = 18;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.state = VG_STATE_COUNT;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	strcpy(st.site, "a/b");
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.unit[0] = '\0';
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.seq = -1;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	st.seq = VG_SEQ_MAX + 1;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.ts = 253402300800LL; /* year 10000 */
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.has_since = true;
	st.since = 253402300800LL;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	strcpy(st.tech, "two words");
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	/* never emit what a decoder must refuse: text that is not UTF-8 */
	sample(&st);
	strcpy(st.fault, "bad \xff byte");
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	strcpy(st.note, "cut \xc3");
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);
	sample(&st);
	st.source = (enum vg_source)7;
	assert_int_equal(vg_unit_status_encode(&st, buf, sizeof(buf)),
			 VG_ERR_INVAL);

	/* too small a buffer: VG_ERR_RANGE at every size short of enough */
	sample(&st);
	strcpy(st.fault, "a \"quoted\" fault");
	n = vg_unit_status_encode(&st, buf, sizeof(buf));
	assert_true(n > 0);
	for (size_t size = 0; size <= (size_t)n; size++) {
		char small[VG_PAYLOAD_MAX];
		memset(small, '#', sizeof(small));
		assert_int_equal(vg_unit_status_encode(&st, small, size),
				 VG_ERR_RANGE);
		/* never writes past size */
		assert_int_equal(small[size], '#');
	}
	assert_int_equal(vg_unit_status_encode(&st, buf, (size_t)n + 1), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid),
		cmocka_unit_test(test_decode_minimal),
		cmocka_unit_test(test_each_state),
		cmocka_unit_test(test_unknown_fields_ignored),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_vocabularies),
		cmocka_unit_test(test_topic_mismatch),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_removed),
		cmocka_unit_test(test_encode_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
