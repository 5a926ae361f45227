/*
 * Modbus request planning: which reads cover every unit of every slave in
 * the fewest requests.  Pure (no I/O), so the unit tests pin it down: the
 * units of one slave and one register type are sorted by address and every
 * run of contiguous addresses becomes one request, split only where the
 * protocol's limits (125 registers, 2000 bits) force it.  Gaps are never
 * bridged: reading an address nobody configured can earn an "illegal data
 * address" that would fault every unit of the request.
 */
#ifndef AGENT_PLAN_H
#define AGENT_PLAN_H

#include <stdint.h>

#include "config.h"

#define AGENT_PLAN_MAX_REGS 125
#define AGENT_PLAN_MAX_BITS 2000

struct agent_modbus_req {
	int device;
	enum agent_reg reg;
	uint16_t addr;
	uint16_t count;   /* registers or bits */
	int first;        /* into plan.order */
	int nunits;
};

struct agent_modbus_plan {
	int nreq;
	struct agent_modbus_req *req;  /* owned */
	int *order;                    /* unit indices by request; owned */
	int dev_first[AGENT_DEVICES_MAX];
	int dev_nreq[AGENT_DEVICES_MAX];
};

/* Build the plan for cfg's Modbus units; free with agent_modbus_plan_free. */
int agent_modbus_plan_build(struct agent_modbus_plan *plan,
			    const struct agent_config *cfg);
void agent_modbus_plan_free(struct agent_modbus_plan *plan);

#endif
