/*
 * Modbus request planning: which reads cover every value of every slave
 * in the fewest requests.  Pure (no I/O), so the unit tests pin it down:
 * the values of one slave and one register type are sorted by address and
 * every run of contiguous (or shared) registers becomes one request, split
 * only where the protocol's limits (125 registers, 2000 bits) force it; a
 * value of several registers is never split across two requests.  Gaps
 * are never bridged: reading an address nobody configured can earn an
 * "illegal data address" that would fault every unit of the request.
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
	int nvalues;      /* values it reads (a unit's several apart) */
	int off;          /* its first word in a poll's buffer (by device) */
};

struct agent_modbus_plan {
	int nreq;
	struct agent_modbus_req *req;  /* by device, table, address; owned */
	int *order;                    /* Modbus unit indices by device; owned */
	int dev_first[AGENT_DEVICES_MAX];   /* its requests in req */
	int dev_nreq[AGENT_DEVICES_MAX];
	int dev_unit0[AGENT_DEVICES_MAX];   /* its units in order */
	int dev_nunits[AGENT_DEVICES_MAX];
	int dev_words[AGENT_DEVICES_MAX];   /* words one poll of it reads */
};

/* Build the plan for cfg's Modbus units; free with agent_modbus_plan_free. */
int agent_modbus_plan_build(struct agent_modbus_plan *plan,
			    const struct agent_config *cfg);
void agent_modbus_plan_free(struct agent_modbus_plan *plan);
/* The request of device d that reads all of v, or -1. */
int agent_modbus_plan_find(const struct agent_modbus_plan *plan, int d,
			   const struct agent_value *v);

#endif
