/*
 * Fuzz the gateway core with a stream of messages: the input is a series
 * of "topic\tpayload\n" lines, decoded and applied in order.  Properties:
 * no crash; the counts always equal the live units; stale never exceeds
 * them; a rejected message changes nothing; the newest ts the core keeps
 * incrementally is the one a walk of every record finds.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "gw_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t total(const struct gw_core *c, uint64_t *stale)
{
	struct vg_counts k;
	uint64_t n = 0;

	*stale = 0;
	for (int p = 0; p < VG_PROG_COUNT; p++) {
		gw_core_counts(c, p, VG_REGION_ALL, &k);
		for (int s = 0; s < VG_STATE_COUNT; s++)
			n += k.n[s];
		*stale += k.stale;
	}
	return n;
}

/* gw_core_newest against a walk of the records. */
static void check_newest(struct gw_core *c)
{
	int64_t want[VG_PROG_COUNT][VG_REGION_COUNT + 1] = { { 0 } };
	struct gw_units *t = gw_core_table(c);

	for (uint32_t i = 0; i < gw_units_count(t); i++) {
		const struct gw_unit *u = gw_units_at(t, i);
		if (u->region && u->ts > want[u->program][u->region])
			want[u->program][u->region] = u->ts;
	}
	for (int p = 0; p < VG_PROG_COUNT; p++)
		for (int r = 1; r <= VG_REGION_COUNT; r++)
			assert(gw_core_newest(c, p, r) == want[p][r]);
}

static void one(struct gw_core *c, const char *line, size_t len)
{
	char topic[VG_TOPIC_MAX];
	const char *tab = memchr(line, '\t', len);
	struct gw_msg m;
	uint64_t before, after, st;

	if (!tab || (size_t)(tab - line) >= sizeof(topic))
		return;
	memcpy(topic, line, (size_t)(tab - line));
	topic[tab - line] = '\0';
	before = total(c, &st);
	if (gw_core_decode("", topic, tab + 1, len - (size_t)(tab - line) - 1,
			   &m) != VG_REJ_NONE)
		return;
	if (gw_core_apply(c, &m) != VG_REJ_NONE) {
		assert(total(c, &st) == before);
		return;
	}
	after = total(c, &st);
	assert(after == gw_core_units(c));
	assert(st <= after);
	check_newest(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_core *c = gw_core_new();
	const char *p = (const char *)data, *end = p + size;

	gw_core_set_target(c, VG_PROG_RENIR, 7500); /* the met watch too */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		one(c, p, len);
		p += len + 1;
	}
	gw_core_free(c);
	return 0;
}
