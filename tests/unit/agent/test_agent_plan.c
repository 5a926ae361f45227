/*
 * Request planning: contiguous registers of one slave and one table in
 * the fewest requests, split at the protocol's limits, never across a gap,
 * a table or a slave, nor through a value of several registers.
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
static char ids[4096][8]; /* the units' ids: the parser's pool stands here */

static void add_unit(int device, enum agent_reg reg, int addr)
{
	struct agent_unit *u = &cfg.units[cfg.nunits];

	memset(u, 0, sizeof(*u));
	snprintf(ids[cfg.nunits], sizeof(ids[0]), "u%d", cfg.nunits);
	u->id = ids[cfg.nunits];
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
	free(cfg.values);
	cfg.values = NULL;
	return 0;
}

/* A unit of device 0 reading typed values: "holding ADDR TYPE..." each. */
static void add_typed(const char *const *specs, int n)
{
	struct agent_unit *u = &cfg.units[cfg.nunits];
	char why[200];

	add_unit(0, AGENT_REG_HOLDING, 0);
	u->value0 = cfg.nvalues;
	u->nvalues = (uint8_t)n;
	cfg.values = realloc(cfg.values, sizeof(*cfg.values) *
			     (size_t)(cfg.nvalues + n));
	assert_non_null(cfg.values);
	for (int k = 0; k < n; k++) {
		struct agent_value *v = &cfg.values[cfg.nvalues++];

		memset(v, 0, sizeof(*v));
		if (agent_value_spec(v, specs[k], why, sizeof(why)) ||
		    agent_value_check(v, why, sizeof(why)))
			fail_msg("%s: %s", specs[k], why);
	}
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
	assert_int_equal(p.req[0].nvalues, 10);
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
	assert_int_equal(p.req[0].nvalues, 3);
	agent_modbus_plan_free(&p);
}

static void values_of_several_registers_are_never_split(void **state)
{
	static const char *const radio[] = { "holding 100 u32",
		"holding 102 version length=3", "holding 105 u16",
		"holding 105 u16 mask=0x4" };
	static const char *const wide[] = { "holding 124 u32" };
	struct agent_modbus_plan p;
	struct agent_value v;
	char why[200];

	(void)state;
	add_typed(radio, 4);          /* 100-101, 102-104, 105 twice */
	for (int a = 0; a < 124; a++)
		add_unit(0, AGENT_REG_INPUT, a);
	add_typed(wide, 1);           /* input 124-125: past 125 */
	cfg.values[cfg.nvalues - 1].reg = AGENT_REG_INPUT;
	assert_int_equal(agent_modbus_plan_build(&p, &cfg), VG_OK);
	assert_int_equal(p.nreq, 3);
	assert_int_equal(p.req[0].addr, 100);
	assert_int_equal(p.req[0].count, 6);
	assert_int_equal(p.req[0].nvalues, 4);
	assert_int_equal(p.req[1].count, 124);
	assert_int_equal(p.req[2].addr, 124);
	assert_int_equal(p.req[2].count, 2);
	/* a poll reads them one after another into one buffer */
	assert_int_equal(p.req[1].off, 6);
	assert_int_equal(p.req[2].off, 130);
	assert_int_equal(p.dev_words[0], 132);
	/* each value is found whole in one request */
	memset(&v, 0, sizeof(v));
	assert_int_equal(agent_value_spec(&v, "holding 102 version length=3",
					  why, sizeof(why)), VG_OK);
	assert_null(agent_value_check(&v, why, sizeof(why)));
	assert_int_equal(agent_modbus_plan_find(&p, 0, &v), 0);
	v.address = 104;
	assert_int_equal(agent_modbus_plan_find(&p, 0, &v), -1);
	assert_int_equal(agent_modbus_plan_find(&p, 0, &cfg.values[4]), 2);
	/* the typed units are decided with their device's units */
	assert_int_equal(p.dev_nunits[0], 126);
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
		cmocka_unit_test_setup_teardown(
			values_of_several_registers_are_never_split, setup,
			teardown),
		cmocka_unit_test_setup_teardown(manual_units_are_not_read,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
