/*
 * Greedy run-splitting over units sorted by (device, register type,
 * address).  Greedy is optimal here: within a run of contiguous addresses
 * any split other than "as late as the limit allows" only adds requests.
 */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"

static const struct agent_config *sort_cfg; /* qsort has no context arg */

static int cmp_units(const void *a, const void *b)
{
	const struct agent_unit *x = &sort_cfg->units[*(const int *)a];
	const struct agent_unit *y = &sort_cfg->units[*(const int *)b];

	if (x->device != y->device)
		return x->device < y->device ? -1 : 1;
	if (x->reg != y->reg)
		return x->reg < y->reg ? -1 : 1;
	if (x->address != y->address)
		return x->address < y->address ? -1 : 1;
	return *(const int *)a < *(const int *)b ? -1 : 1;
}

static unsigned reg_limit(enum agent_reg r)
{
	return r == AGENT_REG_COIL || r == AGENT_REG_DISCRETE ?
	       AGENT_PLAN_MAX_BITS : AGENT_PLAN_MAX_REGS;
}

/* Does unit u extend request q without a gap and within the limit? */
static int extends(const struct agent_modbus_req *q,
		   const struct agent_unit *u)
{
	unsigned end = (unsigned)q->addr + q->count; /* one past */

	if (u->device != q->device || u->reg != q->reg)
		return 0;
	if (u->address < end)
		return 1;                  /* same register as another unit */
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
	int n = 0;

	memset(plan, 0, sizeof(*plan));
	plan->order = malloc(sizeof(int) * (size_t)(cfg->nunits + 1));
	plan->req = malloc(sizeof(*plan->req) * (size_t)(cfg->nunits + 1));
	if (!plan->order || !plan->req) {
		agent_modbus_plan_free(plan);
		return VG_ERR_NOMEM;
	}
	for (int i = 0; i < cfg->nunits; i++) {
		if (!cfg->units[i].manual && cfg->units[i].device >= 0)
			plan->order[n++] = i;
	}
	sort_cfg = cfg;
	qsort(plan->order, (size_t)n, sizeof(int), cmp_units);
	sort_cfg = NULL;
	split(plan, cfg, n);
	return VG_OK;
}

void agent_modbus_plan_free(struct agent_modbus_plan *plan)
{
	free(plan->order);
	free(plan->req);
	memset(plan, 0, sizeof(*plan));
}
