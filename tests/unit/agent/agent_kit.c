/*
 * The agent unit tests' shared fixtures (agent_kit.h).
 */
#include "agent_kit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/str.h"

/* Room for "U" and a unit's index. */
#define KIT_ID_MAX 16

/* What the last setup made, for the teardown (tests run one at a time). */
static struct agent_kit *made;

int agent_kit_setup(struct agent_kit *k, const char *tag, int n)
{
	struct agent_config *cfg = &k->cfg;

	made = k;
	vg_log_set_level(VG_LOG_ERR);
	snprintf(k->dir, sizeof(k->dir), "/tmp/vg-%s-XXXXXX", tag);
	if (!mkdtemp(k->dir))
		return VG_ERR_IO;
	memset(cfg, 0, sizeof(*cfg));
	vg_strlcpy(cfg->site, "site-1", sizeof(cfg->site));
	cfg->region = 3;
	cfg->nunits = n;
	cfg->units = calloc((size_t)n, sizeof(*cfg->units));
	/* the ids in the string pool, as the parser leaves them; one
	 * device, counted only by the tests that set ndevices */
	cfg->strs = calloc((size_t)n, KIT_ID_MAX);
	cfg->devices = calloc(1, sizeof(*cfg->devices));
	if (!cfg->units || !cfg->strs || !cfg->devices)
		return VG_ERR_NOMEM;
	for (int i = 0; i < n; i++) {
		char *id = cfg->strs + (size_t)i * KIT_ID_MAX;

		snprintf(id, KIT_ID_MAX, "U%d", i);
		cfg->units[i].id = id;
		cfg->units[i].program = VG_PROG_RENIR;
	}
	return VG_OK;
}

int agent_kit_teardown(void **state)
{
	char cmd[128];

	(void)state;
	free(made->cfg.units);
	free(made->cfg.strs);
	free(made->cfg.devices);
	made->cfg.units = NULL;
	made->cfg.strs = NULL;
	made->cfg.devices = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", made->dir);
	return system(cmd) == 0 ? 0 : -1;
}

int agent_kit_send_all(struct agent_outbox *ob, int *mid, bool ack)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	int cursor = 0, n = 0, unit;
	int64_t seq;

	while ((unit = agent_outbox_next(ob, &cursor, topic, sizeof(topic),
					 payload, sizeof(payload),
					 &seq)) >= 0) {
		agent_outbox_sent(ob, unit, ++*mid, seq);
		if (ack)
			agent_outbox_acked(ob, *mid);
		n++;
	}
	return n;
}

int agent_kit_unacked(struct agent_outbox *ob)
{
	int unacked, dirty;
	bool degraded;

	agent_outbox_counts(ob, &unacked, &dirty, &degraded);
	return unacked;
}
