/*
 * The simulated site: one libmodbus mapping per slave id, created from a
 * list, and the policy of how each slave answers (alive, busy, dead).
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

int sim_slave_add(struct sim *s, int id)
{
	struct sim_slave *sl;

	if (id < 0 || id > SIM_SLAVE_MAX || s->slave[id])
		return id < 0 || id > SIM_SLAVE_MAX ? -1 : 0;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -1;
	sl->id = id;
	sl->alive = true;
	sl->map = modbus_mapping_new(s->size, s->size, s->size, s->size);
	if (!sl->map) {
		free(sl);
		return -1;
	}
	s->slave[id] = sl;
	return 0;
}

int sim_slaves_create(struct sim *s, const char *spec, int size)
{
	const char *p = spec;

	s->size = size;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return -1;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long id = a; id <= b; id++) {
			if (sim_slave_add(s, (int)id) != 0)
				return -1;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -1;
		p = end;
	}
	return 0;
}

void sim_slaves_free(struct sim *s)
{
	for (int i = 0; i <= SIM_SLAVE_MAX; i++) {
		if (!s->slave[i])
			continue;
		modbus_mapping_free(s->slave[i]->map);
		free(s->slave[i]);
		s->slave[i] = NULL;
	}
}

struct sim_slave *sim_slave_get(struct sim *s, int id)
{
	return id >= 0 && id <= SIM_SLAVE_MAX ? s->slave[id] : NULL;
}

void sim_slaves_answer(struct sim *s, modbus_t *ctx, const uint8_t *req,
		       int len)
{
	int hl = modbus_get_header_length(ctx);
	struct sim_slave *sl;

	if (len <= hl)
		return;
	sl = sim_slave_get(s, req[hl - 1]);
	if (!sl)
		return;
	sl->requests++;
	if (!sl->alive)
		return;
	if (sl->busy > 0) {
		sl->busy--;
		modbus_reply_exception(ctx, req,
				       MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
		return;
	}
	modbus_reply(ctx, req, len, sl->map);
}
