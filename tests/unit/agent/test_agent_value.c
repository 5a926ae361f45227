/*
 * Typed values: every type in every byte and word order, decoded from
 * registers that libmodbus's own helpers wrote or read (never from an
 * encoder of ours), bit fields, strings, versions, and what the checks
 * refuse.
 *
 * The orders are libmodbus's getters' (modbus_get_float_abcd...).  Its
 * 3.1.6 setters disagree with its getters (modbus_set_float_abcd writes
 * what modbus_get_float_badc reads, whatever its manual says), so a
 * setter's registers are held to the getter of the same name, which is
 * the definition that survives a libmodbus that fixes its setters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <modbus.h>

#include "config.h"
#include "value.h"
#include "vigie/err.h"

static const char *const orders[] = { "ABCD", "BADC", "CDAB", "DCBA" };

static float (*const getters[])(const uint16_t *) = {
	modbus_get_float_abcd, modbus_get_float_badc, modbus_get_float_cdab,
	modbus_get_float_dcba
};
static void (*const setters[])(float, uint16_t *) = {
	modbus_set_float_abcd, modbus_set_float_badc, modbus_set_float_cdab,
	modbus_set_float_dcba
};

/* A holding value of type at address 0 in byte_order ord; checked. */
static struct agent_value value(const char *type, const char *ord)
{
	struct agent_value v;
	char why[200] = "";

	memset(&v, 0, sizeof(v));
	snprintf(v.name, sizeof(v.name), "v");
	assert_int_equal(agent_value_key(&v, "type", type, why, sizeof(why)),
			 VG_OK);
	if (ord && agent_value_key(&v, "byte_order", ord, why, sizeof(why)))
		fail_msg("%s", why);
	if (agent_value_check(&v, why, sizeof(why)))
		fail_msg("%s %s: %s", type, ord ? ord : "", why);
	return v;
}

/* The registers of a big-endian value (ABCD, as
 * MODBUS_SET_INT32_TO_INT16/_INT64_ write them) put in order k:
 * bytes swapped in each register (BADC), registers reversed (CDAB), or
 * both (DCBA). */
static void reorder(uint16_t *r, int n, int k)
{
	uint16_t t[AGENT_STR_REGS_MAX];

	for (int i = 0; i < n; i++) {
		uint16_t w = r[k & 2 ? n - 1 - i : i];

		t[i] = k & 1 ? (uint16_t)(MODBUS_GET_LOW_BYTE(w) << 8 |
					  MODBUS_GET_HIGH_BYTE(w)) : w;
	}
	memcpy(r, t, sizeof(uint16_t) * (size_t)n);
}

static void floats_in_every_order(void **state)
{
	static const float fs[] = { 1.5f, -123.456f, 1e-3f, 3.4e38f, 0.0f,
				    -0.0f, 4150.0f };

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct agent_value v = value("float32", orders[k]);

		for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
			struct agent_datum d;
			uint16_t r[2];
			uint32_t bits;
			float f;

			/* what libmodbus's setter wrote, as its getter reads */
			setters[k](fs[i], r);
			agent_value_decode(&v, r, &d);
			assert_int_equal(d.kind, AGENT_K_FLOAT);
			f = getters[k](r);
			assert_memory_equal(&(float){ (float)d.n.f }, &f, 4);
			/* the value's bits put in order k by the table */
			memcpy(&bits, &fs[i], 4);
			MODBUS_SET_INT32_TO_INT16(r, 0, bits);
			reorder(r, 2, k);
			agent_value_decode(&v, r, &d);
			assert_memory_equal(&(float){ (float)d.n.f }, &fs[i],
					    4);
			f = getters[k](r); /* the table is libmodbus's */
			assert_memory_equal(&f, &fs[i], 4);
		}
	}
}

static void ints32_in_every_order(void **state)
{
	static const uint32_t xs[] = { 0x11223344u, 4150u, 0xFFFFFFFFu, 0u,
				       0x80000000u };

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct agent_value u = value("u32", orders[k]);
		struct agent_value s = value("i32", orders[k]);

		for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
			struct agent_datum d;
			uint16_t r[2];
			float f;

			MODBUS_SET_INT32_TO_INT16(r, 0, xs[i]);
			reorder(r, 2, k);
			agent_value_decode(&u, r, &d);
			assert_int_equal(d.kind, AGENT_K_UINT);
			assert_int_equal(d.n.u, xs[i]);
			agent_value_decode(&s, r, &d);
			assert_int_equal(d.kind, AGENT_K_INT);
			assert_int_equal(d.n.i, (int32_t)xs[i]);
			/* the same bytes as libmodbus's getter sees them */
			f = getters[k](r);
			assert_memory_equal(&f, &xs[i], 4);
		}
	}
}

static void u64_in_every_order(void **state)
{
	static const uint64_t xs[] = { 0x1122334455667788ULL, 1ULL,
				       0xFFFFFFFFFFFFFFFFULL };

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct agent_value v = value("u64", orders[k]);

		for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
			struct agent_datum d;
			uint16_t r[4];

			MODBUS_SET_INT64_TO_INT16(r, 0, xs[i]);
			reorder(r, 4, k);
			agent_value_decode(&v, r, &d);
			assert_true(d.n.u == xs[i]);
		}
	}
	/* CDAB over 64 bits: the least significant register first */
	{
		struct agent_value v = value("u64", "CDAB");
		uint16_t r[4] = { 0x7788, 0x5566, 0x3344, 0x1122 };
		struct agent_datum d;

		agent_value_decode(&v, r, &d);
		assert_true(d.n.u == 0x1122334455667788ULL);
	}
}

/* 16 bits know the byte order only: ABCD/big or BADC/little. */
static void ints16_in_both_byte_orders(void **state)
{
	static const uint16_t xs[] = { 0x1234, 0xFFFE, 7 };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct agent_value u = value("u16", orders[k]);
		struct agent_value s = value("i16", k ? "little" : "big");

		for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
			struct agent_datum d;
			uint16_t r[1];
			uint8_t b[2];

			MODBUS_SET_INT16_TO_INT8(b, 0, xs[i]);
			r[0] = (uint16_t)MODBUS_GET_INT16_FROM_INT8(b, 0);
			reorder(r, 1, k);
			agent_value_decode(&u, r, &d);
			assert_int_equal(d.n.u, xs[i]);
			agent_value_decode(&s, r, &d);
			assert_int_equal(d.n.i, (int16_t)xs[i]);
		}
	}
}

/* The two keys give the same four orders as the letters. */
static void byte_and_word_order_keys_are_the_letters(void **state)
{
	static const char *const bo[] = { "big", "little", "big", "little" };
	static const char *const wo[] = { "big", "big", "little", "little" };
	char why[200];

	(void)state;
	for (int k = 0; k < 4; k++) {
		struct agent_value a = value("u32", orders[k]), b;

		memset(&b, 0, sizeof(b));
		/* word_order first: byte_order must not undo it */
		assert_int_equal(agent_value_key(&b, "word_order", wo[k], why,
						 sizeof(why)), VG_OK);
		assert_int_equal(agent_value_key(&b, "type", "u32", why,
						 sizeof(why)), VG_OK);
		assert_int_equal(agent_value_key(&b, "byte_order", bo[k], why,
						 sizeof(why)), VG_OK);
		assert_null(agent_value_check(&b, why, sizeof(why)));
		assert_int_equal(a.order, b.order);
	}
}

static void bit_fields(void **state)
{
	struct agent_value v = value("u16", NULL);
	struct agent_datum d;
	uint16_t r[2] = { 0x0A5C };
	char why[200];

	(void)state;
	assert_int_equal(agent_value_key(&v, "mask", "0x0F00", why,
					 sizeof(why)), VG_OK);
	assert_int_equal(agent_value_key(&v, "shift", "8", why, sizeof(why)),
			 VG_OK);
	assert_null(agent_value_check(&v, why, sizeof(why)));
	agent_value_decode(&v, r, &d);
	assert_int_equal(d.kind, AGENT_K_UINT);
	assert_int_equal(d.n.u, 0xA);
	/* a signed type's bit field is unsigned, over its raw bits */
	v = value("i32", "CDAB");
	assert_int_equal(agent_value_key(&v, "mask", "0x80000001", why,
					 sizeof(why)), VG_OK);
	assert_null(agent_value_check(&v, why, sizeof(why)));
	{
		uint32_t x = 0x80000003u;

		MODBUS_SET_INT32_TO_INT16(r, 0, x);
	}
	reorder(r, 2, 2);
	agent_value_decode(&v, r, &d);
	assert_int_equal(d.kind, AGENT_K_UINT);
	assert_int_equal(d.n.u, 0x80000001u);
}

/* Characters as MODBUS_GET_INT16_FROM_INT8 packs two bytes a register. */
static void strings_in_both_byte_orders(void **state)
{
	const uint8_t text[] = "APX 8000  \0junk";
	struct agent_value v;
	struct agent_datum d;
	uint16_t r[8];
	char why[200];

	(void)state;
	for (int k = 0; k < 2; k++) {
		memset(&v, 0, sizeof(v));
		assert_int_equal(agent_value_key(&v, "type", "string", why,
						 sizeof(why)), VG_OK);
		assert_int_equal(agent_value_key(&v, "length", "8", why,
						 sizeof(why)), VG_OK);
		assert_int_equal(agent_value_key(&v, "byte_order", orders[k],
						 why, sizeof(why)), VG_OK);
		assert_null(agent_value_check(&v, why, sizeof(why)));
		assert_int_equal(v.nregs, 8);
		for (int i = 0; i < 8; i++)
			r[i] = (uint16_t)MODBUS_GET_INT16_FROM_INT8(text, 2 * i);
		reorder(r, 8, k);
		agent_value_decode(&v, r, &d);
		assert_int_equal(d.kind, AGENT_K_STR);
		/* the NUL ends it, trailing spaces go */
		assert_string_equal(d.s, "APX 8000");
	}
	/* no NUL: all 16 characters; control bytes show as '?' (v reads
	 * byte_order little: 0x0142 is 'B' then 0x01) */
	memset(r, 0x41, sizeof(r));
	r[7] = 0x0142;
	agent_value_decode(&v, r, &d);
	assert_string_equal(d.s, "AAAAAAAAAAAAAAB?");
}

static void versions_one_component_a_register(void **state)
{
	struct agent_value v;
	struct agent_datum d;
	uint16_t r[3] = { 2, 3, 10 };
	char why[200], text[32];

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(agent_value_key(&v, "type", "version", why,
					 sizeof(why)), VG_OK);
	assert_int_equal(agent_value_key(&v, "length", "3", why, sizeof(why)),
			 VG_OK);
	assert_null(agent_value_check(&v, why, sizeof(why)));
	agent_value_decode(&v, r, &d);
	assert_int_equal(d.kind, AGENT_K_VER);
	agent_value_format(&d, text, sizeof(text));
	assert_string_equal(text, "2.3.10");
}

/* check must refuse: the key at fault and the reason. */
static void refused(const char *spec, const char *key, const char *want)
{
	struct agent_value v;
	char why[200] = "";
	const char *at;

	memset(&v, 0, sizeof(v));
	if (agent_value_spec(&v, spec, why, sizeof(why)) != VG_OK) {
		assert_null(key); /* refused while parsing */
	} else {
		at = agent_value_check(&v, why, sizeof(why));
		if (!at)
			fail_msg("accepted: %s", spec);
		assert_string_equal(at, key);
	}
	if (!strstr(why, want))
		fail_msg("%s: got \"%s\", want \"%s\"", spec, why, want);
}

static void what_the_checks_refuse(void **state)
{
	(void)state;
	refused("holding 1 u16 byte_order=CDAB", "byte_order",
		"word order is for 32- and 64-bit");
	refused("holding 1 i16 word_order=little", "word_order",
		"not i16");
	refused("holding 1 string length=4 word_order=little", "word_order",
		"not string");
	refused("holding 1 version length=3 byte_order=little", "byte_order",
		"no byte or word order");
	refused("holding 1 u32 byte_order=CDAB word_order=big", "word_order",
		"already gives the word order");
	refused("holding 1 float32 mask=0x1", "mask", "need an integer type");
	refused("holding 1 string length=2 shift=1", "shift",
		"need an integer type");
	refused("holding 1 u16 mask=0x10000", "mask", "wider than u16");
	refused("holding 1 u16 shift=16", "shift", "leaves nothing");
	refused("holding 1 string", "type", "needs length = REGISTERS");
	refused("holding 1 version length=5", "length", "at most 4");
	refused("holding 1 u32 length=2", "length", "for string and version");
	refused("holding 65535 u32", "address", "runs past register 65535");
	refused("coil 1 u16", "type", "a coil is one bit");
	refused("discrete 1 mask=1", "mask", "a discrete is one bit");
	refused("holding 1 u24", NULL, "type must be u16, i16");
	refused("holding 1 u32 byte_order=ABDC", NULL, "byte_order must be");
	refused("holding 1 u32 word_order=middle", NULL, "word_order must be");
	refused("holding 1 u32 mask=0", NULL, "mask must be a non-zero");
	refused("holding 1 u32 shift=64", NULL, "shift must be 0..63");
	refused("holding 1 string length=33", NULL, "length must be 1..32");
	refused("holding 1 u32 colour=red", NULL, "unknown option 'colour'");
	refused("holding 1 u32 mask = 4", NULL, "'mask' is not KEY=VALUE");
	refused("holding 1 u32 mask=1 mask=2", NULL, "mask given twice");
	refused("register 1", NULL, "starts with holding, input");
	refused("holding -1", NULL, "address must be 0..65535");
	refused("holding", NULL, "REGISTER ADDRESS [TYPE]");
}

static void describe_says_how_it_is_read(void **state)
{
	struct agent_value v;
	char why[200], text[96];

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_int_equal(agent_value_spec(&v, "input 7 u32 byte_order=DCBA "
					  "mask=0xF0 shift=4", why,
					  sizeof(why)), VG_OK);
	assert_null(agent_value_check(&v, why, sizeof(why)));
	agent_value_describe(&v, text, sizeof(text));
	assert_string_equal(text, "input 7 u32 byte_order=little "
			    "word_order=little mask=0xf0 shift=4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(floats_in_every_order),
		cmocka_unit_test(ints32_in_every_order),
		cmocka_unit_test(u64_in_every_order),
		cmocka_unit_test(ints16_in_both_byte_orders),
		cmocka_unit_test(byte_and_word_order_keys_are_the_letters),
		cmocka_unit_test(bit_fields),
		cmocka_unit_test(strings_in_both_byte_orders),
		cmocka_unit_test(versions_one_component_a_register),
		cmocka_unit_test(what_the_checks_refuse),
		cmocka_unit_test(describe_says_how_it_is_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
