/*
 * Greedy run-splitting over the values' register spans sorted by (device,
 * register type, address).  Greedy is optimal here: within a run of
 * contiguous addresses any split other than "as late as the limit allows"
 * only adds requests.  A poll reads a device's requests into one buffer,
 * each at its offset, and every unit is then decoded from it: a unit whose
 * values lie in several requests sees them all.
 */
#include "plan.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vigie/err.h"

static int reg_limit(int r)
{
	return r == AGENT_REG_COIL || r == AGENT_REG_DISCRETE ?
	       AGENT_PLAN_MAX_BITS : AGENT_PLAN_MAX_REGS;
}

/* Does span s extend request q without a gap and within the limit? */
static bool extends(const struct agent_modbus_req *q,
		    const struct agent_reg_ref *s)
{
	int end = q->addr + q->count;

	if (s->dev != q->device || (int)q->reg != s->reg || s->address > end)
		return false;
	return (s->end > end ? s->end : end) - q->addr <= reg_limit(s->reg);
}

static void split(struct agent_modbus_plan *plan,
		  const struct agent_reg_ref *sp, int n)
{
	struct agent_modbus_req *q = NULL;

	for (int i = 0; i < n; i++) {
		const struct agent_reg_ref *s = &sp[i];

		if (q && extends(q, s)) {
			if (s->end > q->addr + q->count)
				q->count = (uint16_t)(s->end - q->addr);
			q->nvalues++;
			continue;
		}
		q = &plan->req[plan->nreq++];
		*q = (struct agent_modbus_req){ .device = s->dev,
			.reg = (enum agent_reg)s->reg,
			.addr = (uint16_t)s->address,
			.count = (uint16_t)(s->end - s->address), .nvalues = 1 };
		if (plan->dev_nreq[s->dev]++ == 0)
			plan->dev_first[s->dev] = plan->nreq - 1;
	}
	/* each device's requests, one after another in a poll's buffer */
	for (int d = 0; d < AGENT_DEVICES_MAX; d++) {
		int off = 0;

		for (int r = 0; r < plan->dev_nreq[d]; r++) {
			plan->req[plan->dev_first[d] + r].off = off;
			off += plan->req[plan->dev_first[d] + r].count;
		}
		plan->dev_words[d] = off;
	}
}

/* Every Modbus unit's value spans into sp; how many. */
static int spans(const struct agent_config *cfg, struct agent_reg_ref *sp)
{
	int n = 0;

	for (int i = 0; i < cfg->nunits; i++) {
		const struct agent_unit *u = &cfg->units[i];

		for (int k = 0; u->device >= 0 && k < agent_config_nvalues(u);
		     k++) {
			struct agent_value tmp;
			const struct agent_value *v =
				agent_config_value(cfg, u, k, &tmp);

			sp[n++] = (struct agent_reg_ref){ u->device, v->reg,
				v->address, v->address + v->nregs, i };
		}
	}
	return n;
}

/* order: the Modbus units grouped by device, in the file's order. */
static void group_units(struct agent_modbus_plan *plan,
			const struct agent_config *cfg)
{
	int at = 0;

	for (int d = 0; d < cfg->ndevices; d++) {
		plan->dev_unit0[d] = at;
		for (int i = 0; i < cfg->nunits; i++) {
			if (!cfg->units[i].manual && cfg->units[i].device == d)
				plan->order[at++] = i;
		}
		plan->dev_nunits[d] = at - plan->dev_unit0[d];
	}
}

int agent_modbus_plan_build(struct agent_modbus_plan *plan,
			    const struct agent_config *cfg)
{
	size_t most = (size_t)cfg->nunits + (size_t)cfg->nvalues + 1;
	struct agent_reg_ref *sp = malloc(sizeof(*sp) * most);
	struct agent_modbus_req *shrunk;
	int n;

	memset(plan, 0, sizeof(*plan));
	plan->order = malloc(sizeof(int) * (size_t)(cfg->nunits + 1));
	plan->req = malloc(sizeof(*plan->req) * most);
	if (!sp || !plan->order || !plan->req) {
		free(sp);
		agent_modbus_plan_free(plan);
		return VG_ERR_NOMEM;
	}
	n = spans(cfg, sp);
	qsort(sp, (size_t)n, sizeof(*sp), agent_reg_ref_cmp);
	split(plan, sp, n);
	free(sp);
	group_units(plan, cfg);
	/* req was sized for one request per value; contiguous registers
	 * share requests (16 for 2,000 units), so keep what was planned.
	 * A refused shrink keeps the larger block, which is as good. */
	shrunk = realloc(plan->req, sizeof(*plan->req) *
			 (size_t)(plan->nreq > 0 ? plan->nreq : 1));
	if (shrunk)
		plan->req = shrunk;
	return VG_OK;
}

void agent_modbus_plan_free(struct agent_modbus_plan *plan)
{
	free(plan->order);
	free(plan->req);
	memset(plan, 0, sizeof(*plan));
}

int agent_modbus_plan_find(const struct agent_modbus_plan *plan, int d,
			   const struct agent_value *v)
{
	int lo = plan->dev_first[d], hi = lo + plan->dev_nreq[d] - 1, at = -1;

	while (lo <= hi) { /* the last request starting at or before v */
		int mid = lo + (hi - lo) / 2;
		const struct agent_modbus_req *q = &plan->req[mid];

		if ((int)q->reg < v->reg ||
		    ((int)q->reg == v->reg && q->addr <= v->address)) {
			at = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (at < 0 || (int)plan->req[at].reg != v->reg ||
	    v->address + v->nregs > plan->req[at].addr + plan->req[at].count)
		return -1;
	return at;
}
