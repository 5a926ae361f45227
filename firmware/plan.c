/*
 * Greedy run-splitting over units sorted by (device, register type,
 * address).  Greedy is optimal here: within a run of contiguous addresses
 * any split other than "as late as the limit allows" only adds requests.
 */
#include "plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"

static unsigned reg_limit(enum agent_reg r)
{
	return r == AGENT_REG_COIL || r == AGENT_REG_DISCRETE ?
	       AGENT_PLAN_MAX_BITS : AGENT_PLAN_MAX_REGS;
}

/* Does unit u extend request q without a gap and within the limit? */
static bool extends(const struct agent_modbus_req *q,
		    const struct agent_unit *u)
{
	unsigned end = (unsigned)q->addr + q->count; /* one past */

	if (u->device != q->device || u->reg != q->reg)
		return false;
	if (u->address < end)
		return true;               /* same register as another unit */
	return u->address == end && q->count < reg_limit(q->reg);
}

static void split(struct agent_modbus_plan *plan,
		  const struct agent_config *cfg, int n)
{
	struct agent_modbus_req *q = NULL;

	for (int i = 0; i < n; i++) {
		const struct agent_unit *u = &cfg->units[plan->order[i]];

		if (q && extends(q, u)) {
			if (u->address >= q->addr + q->count)
				q->count++;
			q->nunits++;
			continue;
		}
		q = &plan->req[plan->nreq++];
		*q = (struct agent_modbus_req){ .device = u->device,
			.reg = u->reg, .addr = u->address, .count = 1,
			.first = i, .nunits = 1 };
		if (plan->dev_nreq[u->device]++ == 0)
			plan->dev_first[u->device] = plan->nreq - 1;
	}
}

int agent_modbus_plan_build(struct agent_modbus_plan *plan,
			    const struct agent_config *cfg)
{
	struct agent_reg_ref *ref;
	int n = 0;

	memset(plan, 0, sizeof(*plan));
	plan->order = malloc(sizeof(int) * (size_t)(cfg->nunits + 1));
	plan->req = malloc(sizeof(*plan->req) * (size_t)(cfg->nunits + 1));
	ref = malloc(sizeof(*ref) * (size_t)(cfg->nunits + 1));
	if (!plan->order || !plan->req || !ref) {
		free(ref);
		agent_modbus_plan_free(plan);
		return VG_ERR_NOMEM;
	}
	for (int i = 0; i < cfg->nunits; i++) {
		const struct agent_unit *u = &cfg->units[i];

		if (!u->manual && u->device >= 0)
			ref[n++] = (struct agent_reg_ref){ u->device,
				(int)u->reg, u->address, i };
	}
	qsort(ref, (size_t)n, sizeof(*ref), agent_reg_ref_cmp);
	for (int k = 0; k < n; k++)
		plan->order[k] = ref[k].unit;
	free(ref);
	split(plan, cfg, n);
	return VG_OK;
}

void agent_modbus_plan_free(struct agent_modbus_plan *plan)
{
	free(plan->order);
	free(plan->req);
	memset(plan, 0, sizeof(*plan));
}
