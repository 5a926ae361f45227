/*
 * Request planning: contiguous registers of one slave and one table in
 * the fewest requests, split at the protocol's limits, never across a gap,
 * a table or a slave.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"
#include "vigie/err.h"

static struct agent_config cfg;

static void add_unit(int device, enum agent_reg reg, int addr)
{
	struct agent_unit *u = &cfg.units[cfg.nunits];

	memset(u, 0, sizeof(*u));
	snprintf(u->id, sizeof(u->id), "u%d", cfg.nunits);
	u->device = device;
	u->reg = reg;
	u->address = (uint16_t)addr;
	cfg.nunits++;
}

static int setup(void **state)
{
	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.ndevices = 2;
	cfg.units = calloc(4096, sizeof(*cfg.units));
	return cfg.units ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(cfg.units);
	return 0;
}

static void contiguous_run_is_one_request(void **state)
{
	struct agent_modbus_plan p;

	(void)state;
	for (int a = 109; a >= 100; a--) /* declared out of order */
		add_unit(0, AGENT_REG_HOLDING, a);
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 1);
	assert_int_equal(p.req[0].addr, 100);
	assert_int_equal(p.req[0].count, 10);
	assert_int_equal(p.req[0].nunits, 10);
	agent_modbus_plan_free(&p);
}

static void split_at_125_registers(void **state)
{
	struct agent_modbus_plan p;

	(void)state;
	for (int a = 0; a < 300; a++)
		add_unit(0, AGENT_REG_INPUT, a);
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 3); /* 125 + 125 + 50 */
	assert_int_equal(p.req[0].count, 125);
	assert_int_equal(p.req[1].addr, 125);
	assert_int_equal(p.req[2].count, 50);
	agent_modbus_plan_free(&p);
}

static void split_at_2000_bits(void **state)
{
	struct agent_modbus_plan p;

	(void)state;
	for (int a = 0; a < 2001; a++)
		add_unit(0, AGENT_REG_COIL, a);
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 2);
	assert_int_equal(p.req[0].count, 2000);
	assert_int_equal(p.req[1].count, 1);
	agent_modbus_plan_free(&p);
}

static void gaps_tables_and_slaves_split(void **state)
{
	struct agent_modbus_plan p;

	(void)state;
	add_unit(0, AGENT_REG_HOLDING, 1);
	add_unit(0, AGENT_REG_HOLDING, 2);
	add_unit(0, AGENT_REG_HOLDING, 4);     /* gap */
	add_unit(0, AGENT_REG_INPUT, 3);       /* other table */
	add_unit(1, AGENT_REG_HOLDING, 3);     /* other slave */
	add_unit(0, AGENT_REG_HOLDING, 2);     /* same register twice */
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 4);
	assert_int_equal(p.dev_nreq[0], 3);
	assert_int_equal(p.dev_nreq[1], 1);
	assert_int_equal(p.req[0].count, 2);
	assert_int_equal(p.req[0].nunits, 3);
	agent_modbus_plan_free(&p);
}

static void manual_units_are_not_read(void **state)
{
	struct agent_modbus_plan p;

	(void)state;
	add_unit(0, AGENT_REG_HOLDING, 1);
	cfg.units[0].manual = true;
	cfg.units[0].device = -1;
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 0);
	agent_modbus_plan_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(contiguous_run_is_one_request,
						setup, teardown),
		cmocka_unit_test_setup_teardown(split_at_125_registers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(split_at_2000_bits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(gaps_tables_and_slaves_split,
						setup, teardown),
		cmocka_unit_test_setup_teardown(manual_units_are_not_read,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
