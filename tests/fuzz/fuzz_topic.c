/*
 * Fuzz the topic parser.  Property: a topic it accepts is rebuilt, byte
 * for byte, by the matching builder.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "vigie/topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void rebuild(const char *prefix, const struct vg_topic *t, char *buf,
		    size_t n)
{
	switch (t->kind) {
	case VG_TOPIC_UNIT:
		vg_topic_unit(buf, n, prefix, t->program, t->region, t->site,
			      t->unit);
		break;
	case VG_TOPIC_AGENT: vg_topic_agent(buf, n, prefix, t->site); break;
	case VG_TOPIC_RECEIPT:
		vg_topic_receipt(buf, n, prefix, t->site);
		break;
	case VG_TOPIC_SUMMARY:
		vg_topic_summary(buf, n, prefix, t->program, t->region);
		break;
	case VG_TOPIC_EVENT:
		vg_topic_event(buf, n, prefix, t->program, t->region);
		break;
	case VG_TOPIC_GATEWAY: vg_topic_gateway(buf, n, prefix, t->id); break;
	case VG_TOPIC_BRIDGE: vg_topic_bridge(buf, n, prefix, t->region); break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const prefixes[] = { "", "qc/lab" };
	char topic[VG_TOPIC_MAX], again[VG_TOPIC_MAX];
	struct vg_topic t;

	if (size >= sizeof(topic) || memchr(data, '\0', size))
		return 0;
	memcpy(topic, data, size);
	topic[size] = '\0';
	for (int i = 0; i < 2; i++) {
		if (vg_topic_parse(prefixes[i], topic, size, &t) != 0)
			continue;
		again[0] = '\0';
		rebuild(prefixes[i], &t, again, sizeof(again));
		assert(strcmp(again, topic) == 0);
	}
	return 0;
}
