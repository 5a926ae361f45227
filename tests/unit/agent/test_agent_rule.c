/*
 * Typed values and rules in the configuration: the grammar as a
 * technician writes it, every mistake refused with its file:line, and the
 * rules deciding states from registers, first match wins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <modbus.h>

#include "config.h"
#include "rule.h"
#include "vigie/err.h"

/* lines 1-5 */
#define HEAD "[site]\nid = a\nregion = 01\n[device d]\ntcp = 127.0.0.1\n"
/* lines 6-8, then the unit's own */
#define UNIT "[unit U]\nprogram = renir\ndevice = d\n"

static void expect_error(const char *text, const char *want)
{
	struct agent_config c;
	char err[AGENT_ERR_MAX] = "";

	if (agent_config_parse(&c, text, "t.conf", err, sizeof(err)) !=
	    VG_ERR_PARSE)
		fail_msg("accepted:\n%s", text);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
	assert_null(c.units);
	assert_null(c.values);
	assert_null(c.rules);
}

static void parse(struct agent_config *c, const char *text)
{
	char err[AGENT_ERR_MAX] = "";

	if (agent_config_parse(c, text, "t.conf", err, sizeof(err)) != VG_OK)
		fail_msg("refused: %s\n%s", err, text);
}

/*
 * Unit u's state from registers: regs[k] are the words value k reads
 * (each value's own, from its first register).  *rule: which rule held.
 */
static int decide(const struct agent_config *c, int u,
		  uint16_t regs[][8], int *rule)
{
	struct agent_datum d[AGENT_UNIT_VALUES_MAX];
	const struct agent_unit *unit = &c->units[u];

	for (int k = 0; k < agent_config_nvalues(unit); k++) {
		struct agent_value tmp;

		agent_value_decode(agent_config_value(c, unit, k, &tmp),
				   regs[k], &d[k]);
	}
	return agent_rule_decide(c, unit, d, rule);
}

/* The radio of the examples: a network id (u32, CDAB), a firmware
 * version in three registers, a status word whose bit 2 says registered. */
static const char radio[] = HEAD UNIT
	"value netid = holding 100 u32 byte_order=CDAB\n"     /* 9 */
	"value fw = holding 102 version length=3\n"
	"value registered = holding 105 u16 mask=0x0004 shift=2\n"
	"retired = netid == 0\n"                               /* 12 */
	"migrated = netid in 4100..4199 and registered == 1 and fw >= 2.3\n"
	"migrating = netid in 4100..4199\n"
	"default = pending\n";                                 /* 15 */

static void a_radio_on_renir(void **state)
{
	struct agent_config c;
	uint16_t r[3][8] = { { 0 } };
	int rule;

	(void)state;
	parse(&c, radio);
	assert_int_equal(c.units[0].nvalues, 3);
	assert_int_equal(c.units[0].nrules, 4);
	assert_int_equal(c.rules[1].line, 13);
	/* netid 4150 in CDAB: the low word first */
	r[0][0] = 4150;
	r[1][0] = 2;
	r[1][1] = 3;
	r[2][0] = 0x0004;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	assert_int_equal(rule, 1);
	r[1][1] = 2; /* firmware 2.2.0: not yet */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	assert_int_equal(rule, 2);
	r[1][1] = 3;
	r[2][0] = 0x0003; /* not registered */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	r[0][0] = 1042; /* the old network */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	assert_int_equal(rule, 3);
	r[0][1] = 1;   /* 0x1_0000 + 1042: not in the range either */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	r[0][0] = r[0][1] = 0;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_RETIRED);
	assert_int_equal(rule, 0);
	agent_config_free(&c);
}

/* A model string, a firmware string, prefixes and versions in text. */
static void a_device_with_a_model_string(void **state)
{
	static const char conf[] = HEAD UNIT
		"value model = input 0 string length=8\n"
		"value fw = input 8 string length=6 byte_order=little\n"
		"retired = model == \"\"\n"
		"migrated = model ^= \"APX\" and fw >= 2.3.0\n"
		"migrating = model ^= \"APX\" or model == \"XTL 5000R\"\n";
	static const uint8_t apx[] = "APX 8000";
	static const uint8_t xtl[] = "XTL 5000R\0\0\0\0\0\0";
	struct agent_config c;
	uint16_t r[2][8] = { { 0 } };
	int rule;

	(void)state;
	parse(&c, conf);
	for (int i = 0; i < 4; i++)
		r[0][i] = (uint16_t)MODBUS_GET_INT16_FROM_INT8(apx, 2 * i);
	/* "R02.03.01" byte-swapped in each register: "2R30.0.31" */
	memcpy(r[1], (uint16_t[]){ 0x3052, 0x2e32, 0x3330, 0x302e, 0x0031 },
	       10);
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[1][1] = 0x2e31; /* R01.03.01 */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	r[1][0] = r[1][1] = r[1][2] = r[1][3] = r[1][4] = 0x5858; /* no
								    version */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	for (int i = 0; i < 8; i++)
		r[0][i] = (uint16_t)MODBUS_GET_INT16_FROM_INT8(xtl, 2 * i);
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	r[0][4] = 0x3020; /* "XTL 5000 0": matches nothing, no default */
	assert_int_equal(decide(&c, 0, r, &rule), -1);
	assert_int_equal(rule, -1);
	memset(r[0], 0, sizeof(r[0]));
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_RETIRED);
	agent_config_free(&c);
}

/* A link CPE's mode word: flags, "& MASK", "& MASK == V", "or". */
static void a_cpe_mode_word(void **state)
{
	static const char conf[] = HEAD UNIT
		"value mode = holding 7\n"
		"retired = mode & 0x8000\n"
		"migrated = mode & 0x0006 == 0x0004 or mode & 0x0030 != 0\n"
		"migrating = mode & 0x0008\n"
		"default = pending\n";
	struct agent_config c;
	uint16_t r[1][8] = { { 0 } };
	int rule;

	(void)state;
	parse(&c, conf);
	r[0][0] = 0x0005;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[0][0] = 0x0007; /* bit 1 too: the first group fails */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	r[0][0] = 0x0010; /* ...the second holds */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[0][0] = 0x0009;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	r[0][0] = 0x8005;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_RETIRED);
	agent_config_free(&c);
}

/* "and" binds tighter than "or"; numbers of every kind. */
static void precedence_and_numbers(void **state)
{
	static const char conf[] = HEAD UNIT
		"value t = input 0 i16\n"
		"value p = input 1 float32 byte_order=DCBA\n"
		"value big = input 3 u64\n"
		"migrated = t < -10 or t >= 0 and p in 0.5..1.5 and big > "
		"0xFFFFFFFF\n"
		"default = pending\n";
	struct agent_config c;
	uint16_t r[3][8] = { { 0 } };
	int rule;

	(void)state;
	parse(&c, conf);
	r[0][0] = (uint16_t)-20;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[0][0] = 5;
	r[1][0] = 0x0000;                  /* 1.0 in DCBA */
	r[1][1] = 0x803F;
	r[2][1] = 1;                       /* 2^32 */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[2][1] = 0;
	r[2][2] = r[2][3] = 0xFFFF;        /* 2^32 - 1 */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	r[2][1] = 1;
	r[1][1] = 0x80BF;                  /* -1.0 */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	r[1][1] = 0xC07F;                  /* NaN: no comparison holds */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_PENDING);
	agent_config_free(&c);
}

/* register/address with type keys: one value, named "value"; a map
 * still serves one whole number; a plain unit is what it always was. */
static void one_typed_register_and_plain_units(void **state)
{
	static const char conf[] = HEAD
		"[unit A]\nprogram = renir\ndevice = d\naddress = 10\n"
		"type = u32\nword_order = little\nmap = 2=migrated 3=retired\n"
		"[unit B]\nprogram = renir\ndevice = d\naddress = 20\n"
		"migrated = value in 2..3\n"
		"[unit C]\nprogram = renir\ndevice = d\naddress = 30\n"
		"[unit D]\nprogram = renir\ndevice = d\nregister = coil\n"
		"address = 30\nretired = value == 0\n";
	struct agent_config c;
	uint16_t r[1][8] = { { 0 } };
	int rule;

	(void)state;
	parse(&c, conf);
	r[0][0] = 2;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	assert_int_equal(rule, -1);
	r[0][1] = 1; /* 0x1_0002: not in the map */
	assert_int_equal(decide(&c, 0, r, &rule), -1);
	assert_int_equal(decide(&c, 1, r, &rule), VG_STATE_MIGRATED);
	assert_int_equal(c.units[2].nvalues, 0); /* plain */
	assert_int_equal(decide(&c, 2, r, &rule), VG_STATE_MIGRATED);
	r[0][0] = 0;
	assert_int_equal(decide(&c, 3, r, &rule), VG_STATE_RETIRED);
	agent_config_free(&c);
}

/* Versions compare number by number, missing ones are 0. */
static void versions_compare_by_component(void **state)
{
	static const char conf[] = HEAD UNIT
		"value fw = holding 0 version length=2\n"
		"migrated = fw == 2.3.0\n"
		"migrating = fw in 2.10..3.0\n"
		"retired = fw != 1.0\n";
	struct agent_config c;
	uint16_t r[1][8] = { { 2, 3 } };
	int rule;

	(void)state;
	parse(&c, conf);
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATED);
	r[0][1] = 10; /* 2.10 > 2.9 */
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_MIGRATING);
	r[0][1] = 9;
	assert_int_equal(decide(&c, 0, r, &rule), VG_STATE_RETIRED);
	r[0][0] = 1;
	r[0][1] = 0;
	assert_int_equal(decide(&c, 0, r, &rule), -1);
	agent_config_free(&c);
}

/* A string's version: its first run of digits and dots, lenient. */
static void versions_in_text(void **state)
{
	static const char conf[] = HEAD UNIT
		"value fw = holding 0 string length=4\n"
		"migrated = fw >= 2.3\n"
		"migrating = fw in 1.0..2.2.65535\n";
	static const char *const cases[][2] = {
		{ "v2.3.", "migrated" }, { "R02.03.01", "migrated" },
		{ "2.10", "migrated" }, { "v2", "migrating" },
		{ "x1.9-rc", "migrating" }, { "none", NULL }, { "0.9", NULL },
	};
	struct agent_config c;
	int rule;

	(void)state;
	parse(&c, conf);
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint16_t r[1][8] = { { 0 } };
		uint8_t text[9] = { 0 };
		int st;

		memcpy(text, cases[k][0], strlen(cases[k][0]));
		for (int i = 0; i < 4; i++)
			r[0][i] = (uint16_t)MODBUS_GET_INT16_FROM_INT8(text,
								       2 * i);
		st = decide(&c, 0, r, &rule);
		if (cases[k][1])
			assert_string_equal(vg_state_name(st), cases[k][1]);
		else
			assert_int_equal(st, -1);
	}
	agent_config_free(&c);
}

/* Every mistake: the file, the line, what is wrong. */
static void mistakes_name_their_line(void **state)
{
	(void)state;
	/* values */
	expect_error(HEAD UNIT "address = 1\ntype = u24\n",
		     "t.conf:10: type must be u16, i16, u32, i32, u64, "
		     "float32, string or version, not 'u24'");
	expect_error(HEAD UNIT "address = 1\ntype = u32\nbyte_order = ABDC\n",
		     "t.conf:11: byte_order must be big, little, ABCD, BADC, "
		     "CDAB or DCBA, not 'ABDC'");
	expect_error(HEAD UNIT "address = 1\nmask = 0x4\ntype = float32\n"
		     "migrated = value > 1\n",
		     "t.conf:10: mask and shift need an integer type");
	expect_error(HEAD UNIT "address = 1\nword_order = little\n"
		     "migrated = value == 1\n",
		     "t.conf:10: the word order is for 32- and 64-bit types");
	expect_error(HEAD UNIT "register = coil\naddress = 1\ntype = u16\n",
		     "t.conf:11: a coil is one bit");
	expect_error(HEAD UNIT "address = 65535\ntype = u32\n",
		     "t.conf:9: u32 at address 65535 runs past register 65535");
	expect_error(HEAD UNIT "value m = holding 1 string\n"
		     "migrated = m == \"A\"\n", "t.conf:9: value m: type = "
		     "string needs length = REGISTERS");
	expect_error(HEAD UNIT "value a = holding 1 u32\n"
		     "value b = holding 2 u16\nmigrated = a == 1\n",
		     "t.conf:10: value b overlaps value a");
	expect_error(HEAD UNIT "value Net = holding 1\n",
		     "t.conf:9: value name 'Net' must be 1-16 of a-z");
	expect_error(HEAD UNIT "value in = holding 1\n",
		     "t.conf:9: value name 'in'");
	expect_error(HEAD UNIT "value a = holding 1\naddress = 4\n"
		     "migrated = a == 1\n", "t.conf:10: address in a unit "
		     "with value lines");
	expect_error(HEAD UNIT "value a = holding 1\nvalue b = holding 2\n"
		     "value c = holding 3\nvalue e = holding 4\n"
		     "value f = holding 5\nvalue g = holding 6\n"
		     "value h = holding 7\nvalue i = holding 8\n"
		     "value j = holding 9\n",
		     "t.conf:17: at most 8 values in a unit");
	expect_error(HEAD UNIT "value a = holding 1 u32\n"
		     "[unit V]\nprogram = renir\ndevice = d\naddress = 2\n",
		     "t.conf:10: unit 'V' reads the same holding register 2 "
		     "of slave 1 as unit 'U' (line 6)");
	expect_error(HEAD UNIT "value a = holding 1 u32\n"
		     "value b = holding 2 u16\n",
		     "t.conf:10: value b overlaps value a");
	/* which rules a unit needs, and may have */
	expect_error(HEAD UNIT "value a = holding 1\nvalue b = holding 2\n",
		     "t.conf:6: unit 'U' needs rules");
	expect_error(HEAD UNIT "address = 1\ntype = float32\n",
		     "t.conf:6: unit 'U' needs rules");
	expect_error(HEAD UNIT "address = 1\nmap = 1=migrated\n"
		     "migrated = value == 1\n", "t.conf:10: map and rules");
	expect_error(HEAD "[unit M]\nprogram = rgt\nsource = manual\n"
		     "migrated = value == 1\n",
		     "t.conf:6: unit 'M' is manual");
	expect_error(HEAD UNIT "address = 1\ndefault = pending\n"
		     "migrated = value == 2\n", "t.conf:11: migrated after "
		     "default (line 10) can never apply");
	expect_error(HEAD UNIT "address = 1\ndefault = done\n",
		     "t.conf:10: default must be pending, migrating, migrated "
		     "or retired, not 'done'");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1\n"
		     "migrated = value == 2\n", "t.conf:11: migrated given "
		     "twice in [unit U] (first at line 10)");
	/* the rules themselves */
	expect_error(HEAD UNIT "value model = holding 1 string length=4\n"
		     "migrated = model == 5\n", "t.conf:10: model is a string: "
		     "compare it with \"text\" or a version such as 2.3.0, not "
		     "'5'");
	expect_error(HEAD UNIT "value model = holding 1 string length=4\n"
		     "migrated = model > \"APX\"\n", "t.conf:10: model is text: "
		     "<, >, in compare versions");
	expect_error(HEAD UNIT "value n = holding 1 u32\n"
		     "migrated = n == \"4100\"\n", "t.conf:10: n is u32: "
		     "compare it with a number, not text");
	expect_error(HEAD UNIT "value n = holding 1 u32\n"
		     "migrated = n ^= \"41\"\n", "t.conf:10: ^= compares a "
		     "string value");
	expect_error(HEAD UNIT "value n = holding 1 float32\n"
		     "migrated = n & 0x1\n", "t.conf:10: & needs an integer "
		     "value; n is float32");
	expect_error(HEAD UNIT "value fw = holding 1 version length=2\n"
		     "migrated = fw >= 2\n", "t.conf:10: fw is a version: "
		     "compare it with a version such as 2.3.0, not '2'");
	expect_error(HEAD UNIT "value n = holding 1 u32\n"
		     "migrated = netid == 1\n", "t.conf:10: no value named "
		     "'netid' in this unit");
	expect_error(HEAD UNIT "address = 1\nmigrated = n == 1\n",
		     "t.conf:10: no value named 'n' in this unit (its register "
		     "is named value)");
	expect_error(HEAD UNIT "address = 1\nmigrated = value 1\n",
		     "t.conf:10: expected ==, !=, <, <=, >, >=, in, & or ^= "
		     "after value, not '1'");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1 value\n",
		     "t.conf:10: expected and, or, or the end of the rule "
		     "after 'value == 1', not 'value'");
	expect_error(HEAD UNIT "address = 1\nmigrated =\n",
		     "t.conf:10: a rule needs a condition");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1 and\n",
		     "t.conf:10: a rule needs a condition");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 70000\n",
		     "t.conf:10: 70000 is out of range for value (0..65535)");
	expect_error(HEAD UNIT "address = 1\ntype = i16\n"
		     "migrated = value > -40000\n", "t.conf:11: -40000 is out "
		     "of range for value (i16: -32768..32767)");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1.5\n",
		     "t.conf:10: '1.5' is not a whole number (value is u16)");
	expect_error(HEAD UNIT "address = 1\nmigrated = value in 9..2\n",
		     "t.conf:10: the range ends before it starts");
	expect_error(HEAD UNIT "address = 1\nmigrated = value in 2\n",
		     "t.conf:10: a range is LOW..HIGH");
	expect_error(HEAD UNIT "address = 1\nmigrated = value & 0x4 == 0x8\n",
		     "t.conf:10: 0x8 has bits outside the mask 0x4: never "
		     "true");
	expect_error(HEAD UNIT "address = 1\nmigrated = value & 0\n",
		     "t.conf:10: a mask of 0 is never true");
	expect_error(HEAD UNIT "value m = holding 1 string length=1\n"
		     "migrated = m == \"ABC\"\n", "t.conf:10: \"ABC\" is longer "
		     "than m can hold (2 characters)");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1 and value "
		     "== 1 and value == 1 and value == 1 and value == 1 and "
		     "value == 1 and value == 1 and value == 1 and value == 1\n",
		     "t.conf:10: at most 8 conditions in a rule");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == \"x\n",
		     "t.conf:10: '\"x' is not a value (text goes between two "
		     "double quotes)");
	expect_error(HEAD UNIT "register = coil\naddress = 1\n"
		     "migrated = value == 2\n", "t.conf:11: 2 is out of range "
		     "for value (0..1)");
	expect_error(HEAD UNIT "address = 1\nmigrated = value == 1 # x\n",
		     "t.conf:10: expected and, or, or the end of the rule");
}

/* Rules that parse, and what --check-config --explain makes of them. */
static void explained_as_understood(void **state)
{
	struct agent_config c;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	parse(&c, radio);
	agent_rule_explain(f, &c, &c.units[0], NULL, -1);
	fclose(f);
	assert_string_equal(buf,
		"unit U (line 6)\n"
		"  netid: holding 100 u32 word_order=little\n"
		"  fw: holding 102 version length=3\n"
		"  registered: holding 105 u16 mask=0x4 shift=2\n"
		"  line 12: retired = netid == 0\n"
		"  line 13: migrated = netid in 4100..4199 and registered == 1"
		" and fw >= 2.3\n"
		"  line 14: migrating = netid in 4100..4199\n"
		"  line 15: default = pending\n");
	free(buf);
	agent_config_free(&c);
}

/* --once --explain: the values as read, each rule tried, why not. */
static void explained_with_the_values_read(void **state)
{
	struct agent_config c;
	struct agent_datum d[3];
	uint16_t r[3][8] = { { 4150 }, { 2, 2, 9 }, { 4 } };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rule, st;

	(void)state;
	assert_non_null(f);
	parse(&c, radio);
	for (int k = 0; k < 3; k++)
		agent_value_decode(&c.values[k], r[k], &d[k]);
	st = agent_rule_decide(&c, &c.units[0], d, &rule);
	agent_rule_explain(f, &c, &c.units[0], d, st);
	fclose(f);
	assert_string_equal(buf,
		"unit U (line 6): migrating\n"
		"  netid = 4150 (0x1036)  (holding 100 u32 word_order=little)\n"
		"  fw = 2.2.9  (holding 102 version length=3)\n"
		"  registered = 1  (holding 105 u16 mask=0x4 shift=2)\n"
		"  line 12: retired = netid == 0  -> false (netid == 0)\n"
		"  line 13: migrated = netid in 4100..4199 and registered == 1"
		" and fw >= 2.3  -> false (fw >= 2.3)\n"
		"  line 14: migrating = netid in 4100..4199  -> true\n");
	free(buf);
	agent_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_radio_on_renir),
		cmocka_unit_test(a_device_with_a_model_string),
		cmocka_unit_test(a_cpe_mode_word),
		cmocka_unit_test(precedence_and_numbers),
		cmocka_unit_test(one_typed_register_and_plain_units),
		cmocka_unit_test(versions_compare_by_component),
		cmocka_unit_test(versions_in_text),
		cmocka_unit_test(mistakes_name_their_line),
		cmocka_unit_test(explained_as_understood),
		cmocka_unit_test(explained_with_the_values_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
