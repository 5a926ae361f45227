/*
 * Rules that decide a unit's state from its typed values, tried in the
 * order of the file, the first that holds wins:
 *
 *   rule  = cond { ("and" | "or") cond }     "and" binds tighter than "or"
 *   cond  = NAME ("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") LITERAL
 *         | NAME "in" LITERAL ".." LITERAL     (bounds included)
 *         | NAME "&" MASK [("==" | "=" | "!=") NUMBER]
 *         | NAME "^=" "TEXT"                   (text starts with)
 *
 * A literal is read as the value's type says: a whole number (decimal or
 * 0x hex) for integers, a decimal for float32, "quoted text" or a dotted
 * version (2.3.0, 2 to 4 numbers) for strings, a dotted version for
 * versions.  Versions compare number by number, missing ones are 0
 * (2.3 == 2.3.0); a string's version is its first run of digits and
 * dots ("R02.03.01" is 2.3.1).  A value that cannot be compared (NaN, a
 * string without a version) makes its condition false.
 */
#ifndef AGENT_RULE_H
#define AGENT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "value.h"

#define AGENT_UNIT_VALUES_MAX 8
/* a unit's rules: one per state it can give, and the default */
#define AGENT_UNIT_RULES_MAX 5
#define AGENT_RULE_CONDS_MAX 8

enum agent_op { AGENT_OP_EQ = 0, AGENT_OP_NE, AGENT_OP_LT, AGENT_OP_LE,
		AGENT_OP_GT, AGENT_OP_GE, AGENT_OP_IN, AGENT_OP_ANY,
		AGENT_OP_MEQ, AGENT_OP_MNE, AGENT_OP_PREFIX };

/* A literal; text is kept as a span of the rule's own text. */
union agent_lit {
	int64_t i;
	uint64_t u;
	double f;
	uint16_t ver[AGENT_VER_MAX];
	struct { uint16_t off, len; } s;
};

struct agent_cond {
	union agent_lit a, b;     /* b: the upper bound, or & ...'s value */
	uint8_t value;            /* among the unit's values */
	uint8_t op;               /* enum agent_op */
	uint8_t lit;              /* enum agent_kind of a and b */
	uint8_t nver[2];          /* components of a and b (versions) */
	uint8_t or;               /* starts a new "or" group */
	uint8_t at, len;          /* its text within the rule, for explain */
};

struct agent_rule {
	uint32_t text;            /* its text in agent_config.strs */
	int cond0;                /* its conditions in agent_config.conds */
	int line;
	uint8_t state;            /* enum vg_state */
	uint8_t ncond;            /* 0: default (always holds) */
};

/*
 * Parse text, a rule's conditions, against the unit's values vals[0..n)
 * into out (room for AGENT_RULE_CONDS_MAX), *ncond of them.  VG_OK, or
 * VG_ERR_PARSE with the reason in why.
 */
int agent_rule_parse(const char *text, const struct agent_value *vals,
		     int nvals, struct agent_cond *out, int *ncond, char *why,
		     size_t n);
/*
 * The first condition of rule's last "or" group that does not hold, or
 * -1 when the rule holds.  text: the rule's text; d: the unit's values.
 */
int agent_rule_eval(const struct agent_rule *rule,
		    const struct agent_cond *conds, const char *text,
		    const struct agent_datum *d);

struct agent_config;
struct agent_unit;

/*
 * The state unit u's values d give (its rules, or its map), -1 when none;
 * *rule: which of its rules held (-1: the map, or none).
 */
int agent_rule_decide(const struct agent_config *c,
		      const struct agent_unit *u,
		      const struct agent_datum *d, int *rule);
/*
 * For a person: u's values (with d, as read) and rules (with d, which
 * held and why not), as --check-config --explain and --once --explain
 * print them.
 */
void agent_rule_explain(FILE *f, const struct agent_config *c,
			const struct agent_unit *u,
			const struct agent_datum *d, int state);

#endif
