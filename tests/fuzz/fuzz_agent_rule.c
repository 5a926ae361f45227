/*
 * Fuzz the rule parser (rule lines technicians write by hand) and what
 * follows a rule that parses: evaluation and the explanation.  Input: the
 * rule's text up to the first newline, then bytes for the registers the
 * values read.  Properties: a refusal always says why; a rule that parses
 * has 1..8 conditions, each on a known value and within the text; deciding
 * and explaining it never reads out of bounds (ASan, UBSan).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const specs[] = {
	"holding 100 u32 byte_order=CDAB", "holding 102 version length=3",
	"holding 110 string length=8", "holding 105 u16 mask=0x0c shift=2",
	"input 0 i16", "input 1 float32 byte_order=DCBA", "input 3 u64",
	"coil 4",
};
static const char *const names[] = { "netid", "fw", "model", "flags", "t",
				     "p", "big", "on" };
#define NVALS 8

static struct agent_value vals[NVALS];

static void init_values(void)
{
	char why[200];

	for (int k = 0; k < NVALS; k++) {
		snprintf(vals[k].name, sizeof(vals[k].name), "%s", names[k]);
		if (agent_value_spec(&vals[k], specs[k], why, sizeof(why)) ||
		    agent_value_check(&vals[k], why, sizeof(why)))
			abort();
	}
}

/* A one-unit config around the rule, to decide and explain with. */
static void decide(char *text, struct agent_cond *conds, int n,
		   const uint8_t *data, size_t size)
{
	struct agent_rule rule = { .text = 0, .cond0 = 0, .line = 1,
				   .state = 2, .ncond = (uint8_t)n };
	struct agent_unit unit = { .id = "U", .nvalues = NVALS, .nrules = 1 };
	struct agent_config cfg = { .values = vals, .rules = &rule,
				    .conds = conds, .strs = text };
	struct agent_datum d[NVALS];
	uint16_t regs[8] = { 0 };
	FILE *null = fopen("/dev/null", "w");
	int which, st;

	for (int k = 0; k < NVALS; k++) {
		memcpy(regs, data, size < sizeof(regs) ? size : sizeof(regs));
		if (vals[k].type == AGENT_T_BIT)
			regs[0] &= 1;
		agent_value_decode(&vals[k], regs, &d[k]);
		data += size < 3 ? size : 3;
		size -= size < 3 ? size : 3;
	}
	st = agent_rule_decide(&cfg, &unit, d, &which);
	assert(st == -1 || (st == 2 && which == 0));
	if (null) {
		agent_rule_explain(null, &cfg, &unit, d, st);
		agent_rule_explain(null, &cfg, &unit, NULL, -1);
		fclose(null);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;
	struct agent_cond conds[AGENT_RULE_CONDS_MAX];
	char why[256] = "", *text;
	int n = -1;

	if (!vals[0].nregs)
		init_values();
	if (len > 200 || memchr(data, '\0', len))
		return 0; /* a config line is at most 198 characters */
	text = malloc(len + 1);
	if (!text)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if (agent_rule_parse(text, vals, NVALS, conds, &n, why,
			     sizeof(why)) != 0) {
		assert(why[0]);
	} else {
		assert(n >= 1 && n <= AGENT_RULE_CONDS_MAX);
		for (int k = 0; k < n; k++)
			assert(conds[k].value < NVALS &&
			       conds[k].at + conds[k].len <= len);
		decide(text, conds, n, nl ? nl + 1 : data + size,
		       nl ? size - len - 1 : 0);
	}
	free(text);
	return 0;
}
