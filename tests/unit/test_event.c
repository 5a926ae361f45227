/*
 * The gateway's events and presence, encoded in lib/: the documented
 * bytes, a round trip through the strict decoders, escaping, and what the
 * decoders refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "vigie/err.h"
#include "vigie/event.h"
#include "vigie/targets.h"

static const char doc[] =
	"{\"v\":1,\"program\":\"renir\",\"region\":\"04\","
	"\"event\":\"target_met\",\"fiscal_year\":\"2024-2025\","
	"\"due\":\"2025-03-31\",\"target\":75.00,\"percent\":75.00,"
	"\"migrated\":75,\"eligible\":100,\"units_needed\":0,"
	"\"ts\":\"2026-11-23T20:00:00Z\"}";

static void summary_04(struct vg_summary *s)
{
	struct vg_counts c = { .n = { [VG_STATE_PENDING] = 25,
				      [VG_STATE_MIGRATED] = 75 } };
	struct vg_targets tg;

	vg_targets_default(&tg);
	vg_summary_compute(s, VG_PROG_RENIR, 4, &c, &tg.plan[VG_PROG_RENIR],
			   2024,
			   1795464000 /* 2026-11-23T20:00:00Z */);
}

static void test_event_is_the_documented_bytes(void **st)
{
	struct vg_summary s;
	struct vg_event e, back;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)st;
	summary_04(&s);
	assert_int_equal(vg_event_from_summary(&s, true, &e), VG_OK);
	n = vg_event_encode(&e, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, doc);
	assert_int_equal(vg_event_decode(buf, (size_t)n, &back), VG_REJ_NONE);
	assert_memory_equal(&e, &back, sizeof(e));
}

static void test_event_decoder_refuses(void **st)
{
	static const struct { const char *from, *to; enum vg_reject r; } bad[] = {
		{ "target_met", "target_won", VG_REJ_STATE },
		{ "\"percent\":75.00", "\"percent\":175.00", VG_REJ_TYPE },
		{ "\"region\":\"04\"", "\"region\":\"18\"", VG_REJ_REGION },
		{ ",\"units_needed\":0", "", VG_REJ_MISSING },
		{ "2024-2025", "2024-2026", VG_REJ_TYPE },
	};
	struct vg_event e;
	char buf[VG_PAYLOAD_MAX];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *at = strstr(doc, bad[i].from);
		size_t pre = (size_t)(at - doc);

		assert_non_null(at);
		memcpy(buf, doc, pre);
		strcpy(buf + pre, bad[i].to);
		strcat(buf, at + strlen(bad[i].from));
		if (vg_event_decode(buf, strlen(buf), &e) != bad[i].r)
			fail_msg("%s: want %s", buf, vg_reject_name(bad[i].r));
	}
}

/*
 * The id is the data's: FNV-1a 64 of the documented text (the values
 * below are computed independently, in Python), the same whoever
 * computes it, and different for another unit, seq or direction.
 */
static void test_event_id(void **st)
{
	struct vg_summary s;
	struct vg_event e, back, other;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)st;
	summary_04(&s);
	s.region = 6;
	assert_int_equal(vg_event_from_summary(&s, true, &e), VG_OK);
	assert_int_equal(vg_event_set_id(&e, "mtl-042", "radio-3",
					 1795370400123LL), VG_OK);
	assert_string_equal(e.id, "16de00d3385ac6c6");
	n = vg_event_encode(&e, buf, sizeof(buf));
	assert_true(n > 0);
	assert_non_null(strstr(buf, "{\"v\":1,\"id\":\"16de00d3385ac6c6\","));
	assert_int_equal(vg_event_decode(buf, (size_t)n, &back), VG_REJ_NONE);
	assert_memory_equal(&e, &back, sizeof(e));
	other = e;
	assert_int_equal(vg_event_set_id(&other, "mtl-042", "radio-3",
					 1795370400124LL), VG_OK);
	assert_string_not_equal(other.id, e.id);
	/* no unit flipped it (the target changed): named by the figures */
	s.region = 0;
	assert_int_equal(vg_event_from_summary(&s, false, &e), VG_OK);
	assert_int_equal(vg_event_set_id(&e, NULL, NULL, 0), VG_OK);
	assert_string_equal(e.id, "53d10cf90448994e");
	/* an event without an id (an older gateway) still decodes */
	assert_int_equal(vg_event_decode(doc, strlen(doc), &back),
			 VG_REJ_NONE);
	assert_string_equal(back.id, "");
	/* a malformed id is refused both ways */
	strcpy(e.id, "16DE00D3385AC6C6");
	assert_int_equal(vg_event_encode(&e, buf, sizeof(buf)), VG_ERR_INVAL);
	strcpy(buf, "{\"v\":1,\"id\":\"16de00d3385ac6c\",");
	strcat(buf, doc + strlen("{\"v\":1,"));
	assert_int_equal(vg_event_decode(buf, strlen(buf), &back),
			 VG_REJ_TYPE);
}

/* The birth and the will come from one encoder: same members, escaped. */
static void test_gateway_presence_round_trip(void **st)
{
	struct vg_gw_presence p = { .id = "central", .online = true,
				    .version = "0.1.0 \"rc\"",
				    .ts = 1795464000 }, back;
	char buf[VG_PAYLOAD_MAX];
	int n;

	(void)st;
	n = vg_gw_presence_encode(&p, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, "{\"v\":1,\"id\":\"central\",\"online\":true,"
			    "\"version\":\"0.1.0 \\\"rc\\\"\","
			    "\"ts\":\"2026-11-23T20:00:00Z\"}");
	assert_int_equal(vg_gw_presence_decode(buf, (size_t)n, &back),
			 VG_REJ_NONE);
	assert_string_equal(back.id, p.id);
	assert_string_equal(back.version, p.version);
	assert_true(back.online);
	assert_int_equal(back.ts, p.ts);
	p.online = false;
	assert_true(vg_gw_presence_encode(&p, buf, sizeof(buf)) > 0);
	assert_non_null(strstr(buf, "\"online\":false"));
	assert_non_null(strstr(buf, "\"ts\":"));
	strcpy(p.id, "not/an/id");
	assert_int_equal(vg_gw_presence_encode(&p, buf, sizeof(buf)),
			 VG_ERR_INVAL);
}

static void with_counts(struct vg_summary *s, int pending, int migrated)
{
	struct vg_counts c = { .n = { [VG_STATE_PENDING] = (uint64_t)pending,
				      [VG_STATE_MIGRATED] = (uint64_t)migrated } };
	struct vg_targets tg;

	vg_targets_default(&tg);
	vg_summary_compute(s, VG_PROG_RENIR, 4, &c, &tg.plan[VG_PROG_RENIR],
			   2024, 1795464000);
}

/* Events fire on the edges of "met", never on the first figure, never
 * for a region with nothing eligible. */
static void test_event_edges(void **st)
{
	static const struct { int pending, migrated, want; } seq[] = {
		{ 30, 70, -1 },  /* first figure: no event */
		{ 25, 75, 1 },   /* 75 % of 100: met */
		{ 25, 75, -1 },  /* still met */
		{ 26, 74, 0 },   /* lost */
		{ 0, 0, -1 },    /* nothing eligible: vacuous, no event */
		{ 0, 10, -1 },   /* first real figure again: no event */
		{ 10, 10, 0 },   /* lost */
	};
	struct vg_summary s;
	int8_t last = -1;

	(void)st;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		with_counts(&s, seq[i].pending, seq[i].migrated);
		if (vg_event_edge(&last, &s) != seq[i].want)
			fail_msg("step %zu: want %d", i, seq[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_event_is_the_documented_bytes),
		cmocka_unit_test(test_event_decoder_refuses),
		cmocka_unit_test(test_event_id),
		cmocka_unit_test(test_gateway_presence_round_trip),
		cmocka_unit_test(test_event_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
