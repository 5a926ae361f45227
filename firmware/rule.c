/*
 * The rule language (rule.h): a small lexer, a parser that types every
 * literal against the value it is compared with (so that a mistake is
 * found in the file, at its line, not in the field), evaluation and the
 * explanation a technician reads.
 */
#include "rule.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "vigie/domain.h"
#include "vigie/err.h"

enum tok { T_END, T_NAME, T_NUM, T_STR, T_OP, T_BAD };

struct lex {
	const char *text;         /* the rule */
	const char *p;            /* next character */
	const char *tok;          /* the current token */
	const char *end;          /* end of the token before it */
	int len;
	int kind;
	char *why;
	size_t n;
};

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static void next(struct lex *l)
{
	static const char *const ops[] = { "==", "!=", "<=", ">=", "^=", "..",
					   "=", "<", ">", "&" };
	const char *p;

	l->end = l->tok + l->len;
	while (*l->p == ' ' || *l->p == '\t')
		l->p++;
	p = l->tok = l->p;
	l->kind = T_BAD;
	if (!*p) {
		l->kind = T_END;
	} else if (alnum(*p) && !(*p >= '0' && *p <= '9')) {
		while (alnum(*p))
			p++;
		l->kind = T_NAME;
	} else if ((*p >= '0' && *p <= '9') || *p == '-' || *p == '+') {
		/* numbers and versions; ".." ends them (4100..4199) */
		for (p++; alnum(*p) || (*p == '.' && p[1] != '.'); p++)
			;
		l->kind = T_NUM;
	} else if (*p == '"') {
		p = strchr(p + 1, '"');
		l->kind = p ? T_STR : T_BAD;
		p = p ? p + 1 : l->p + 1;
	} else {
		for (int k = 0; k < 10 && l->kind == T_BAD; k++) {
			size_t n = strlen(ops[k]);

			if (strncmp(p, ops[k], n) == 0) {
				l->kind = T_OP;
				p += n;
			}
		}
		p += l->kind == T_BAD;
	}
	l->len = (int)(p - l->tok);
	l->p = p;
}

static bool is(const struct lex *l, const char *s)
{
	return (int)strlen(s) == l->len && strncmp(l->tok, s, (size_t)l->len) == 0;
}

static int bad(struct lex *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct lex *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->why, l->n, fmt, ap);
	va_end(ap);
	return VG_ERR_PARSE;
}

/* "2.3.0": 1 to 4 numbers 0..65535 with dots; false if not one.  A
 * literal needs a dot (*n >= 2), so that 2 is never taken for 2.0. */
static bool version(const char *s, int len, uint16_t *ver, uint8_t *n)
{
	int k = 0;

	memset(ver, 0, sizeof(uint16_t) * AGENT_VER_MAX);
	while (len > 0 && k < AGENT_VER_MAX) {
		long x = 0;
		int d = 0;

		for (; d < len && s[d] >= '0' && s[d] <= '9' && x <= 65535; d++)
			x = x * 10 + (s[d] - '0');
		if (d == 0 || d > 5 || x > 65535)
			return false;
		ver[k++] = (uint16_t)x;
		s += d;
		len -= d;
		if (len > 0 && (*s != '.' || len == 1))
			return false;
		s++;
		len--;
	}
	*n = (uint8_t)k;
	return len <= 0 && k >= 1;
}

/* The largest value v can hold, as an unsigned (its bit field's). */
static uint64_t umax(const struct agent_value *v)
{
	unsigned bits = v->type == AGENT_T_BIT ? 1u : 16u * v->nregs;
	uint64_t m = bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1;

	return (v->mask ? v->mask : m) >> v->shift;
}

/* A number for an integer or float value, within its type's range. */
static int number(struct lex *l, const struct agent_value *v, int kind,
		  union agent_lit *x)
{
	char buf[64], *end;
	int64_t lo = v->type == AGENT_T_I16 ? INT16_MIN : INT32_MIN;

	if (l->kind == T_STR)
		return bad(l, "%s is %s: compare it with a number, not text",
			   v->name, agent_value_type_name(v->type));
	snprintf(buf, sizeof(buf), "%.*s", l->len, l->tok);
	errno = 0;
	end = buf;
	if (kind == AGENT_K_FLOAT)
		x->f = strtod(buf, &end);
	else if (kind == AGENT_K_INT)
		x->i = strtoll(buf, &end, 0);
	else if (buf[0] != '-')
		x->u = strtoull(buf, &end, 0);
	if (l->kind != T_NUM || *end || end == buf || errno)
		return bad(l, "'%s' is not a %s number (%s is %s)", buf,
			   kind == AGENT_K_FLOAT ? "decimal" : "whole",
			   v->name, agent_value_type_name(v->type));
	if (kind == AGENT_K_INT && (x->i < lo || x->i > -lo - 1))
		return bad(l, "%s is out of range for %s (%s: %lld..%lld)", buf,
			   v->name, agent_value_type_name(v->type),
			   (long long)lo, (long long)(-lo - 1));
	if (kind == AGENT_K_UINT && x->u > umax(v))
		return bad(l, "%s is out of range for %s (0..%llu)", buf,
			   v->name, (unsigned long long)umax(v));
	return VG_OK;
}

/* One literal compared with v; sets c->lit, its kind.  which: a or b. */
static int literal(struct lex *l, const struct agent_value *v,
		   struct agent_cond *c, int which)
{
	union agent_lit *x = which ? &c->b : &c->a;
	int kind = agent_value_kind(v);
	bool text = kind == AGENT_K_STR && l->kind == T_STR;

	if (l->kind == T_BAD)
		return bad(l, "'%s' is not a value (text goes between two "
			   "double quotes)", l->tok);

	if (text && c->op != AGENT_OP_EQ && c->op != AGENT_OP_NE &&
	    c->op != AGENT_OP_PREFIX)
		return bad(l, "%s is text: <, >, in compare versions, written "
			   "without quotes (2.3.0)", v->name);
	if (text && l->len - 2 > 2 * v->nregs)
		return bad(l, "%.*s is longer than %s can hold (%d characters)",
			   l->len, l->tok, v->name, 2 * v->nregs);
	if (text) {
		x->s.off = (uint16_t)(l->tok + 1 - l->text);
		x->s.len = (uint16_t)(l->len - 2);
		c->lit = AGENT_K_STR;
	} else if (kind == AGENT_K_STR || kind == AGENT_K_VER) {
		if (l->kind != T_NUM ||
		    !version(l->tok, l->len, x->ver, &c->nver[which]) ||
		    c->nver[which] < 2)
			return bad(l, "%s is %s: compare it with %sa version "
				   "such as 2.3.0, not '%.*s'", v->name,
				   kind == AGENT_K_STR ? "a string" : "a version",
				   kind == AGENT_K_STR ? "\"text\" or " : "",
				   l->len, l->tok);
		c->lit = AGENT_K_VER;
	} else if (number(l, v, kind, x) != VG_OK) {
		return VG_ERR_PARSE;
	} else {
		c->lit = (uint8_t)kind;
	}
	next(l);
	return VG_OK;
}

static int cmp_ver(const uint16_t *a, const uint16_t *b)
{
	for (int k = 0; k < AGENT_VER_MAX; k++) {
		if (a[k] != b[k])
			return a[k] < b[k] ? -1 : 1;
	}
	return 0;
}

/* -1, 0, 1 as d compares with x; 2 when it cannot be compared. */
static int compare(const struct agent_cond *c, const struct agent_datum *d,
		   const union agent_lit *x, const char *text)
{
	uint16_t ver[AGENT_VER_MAX];
	uint8_t n;
	const char *s;

	switch (c->lit) {
	case AGENT_K_INT:
		return (d->n.i > x->i) - (d->n.i < x->i);
	case AGENT_K_UINT:
		return (d->n.u > x->u) - (d->n.u < x->u);
	case AGENT_K_FLOAT:
		return isnan(d->n.f) ? 2 : (d->n.f > x->f) - (d->n.f < x->f);
	case AGENT_K_STR:
		return strlen(d->s) == x->s.len &&
		       !memcmp(d->s, text + x->s.off, x->s.len) ? 0 : 1;
	default:
		if (d->kind == AGENT_K_VER)
			return cmp_ver(d->n.ver, x->ver);
		s = strpbrk(d->s, "0123456789");
		n = s ? (uint8_t)strspn(s, "0123456789.") : 0;
		while (n > 0 && s[n - 1] == '.')
			n--;  /* "v2.3." is 2.3 */
		if (!s || !version(s, n, ver, &n))
			return 2;
		return cmp_ver(ver, x->ver);
	}
}

static bool holds(const struct agent_cond *c, const struct agent_datum *d,
		  const char *text)
{
	uint64_t bits = d->kind == AGENT_K_INT ? (uint64_t)d->n.i : d->n.u;
	int r = c->op < AGENT_OP_ANY ? compare(c, d, &c->a, text) : 0;

	switch (c->op) {
	case AGENT_OP_EQ: return r == 0;
	case AGENT_OP_NE: return r == 1 || r == -1;
	case AGENT_OP_LT: return r == -1;
	case AGENT_OP_LE: return r == -1 || r == 0;
	case AGENT_OP_GT: return r == 1;
	case AGENT_OP_GE: return r == 1 || r == 0;
	case AGENT_OP_IN:
		return (r == 1 || r == 0) &&
		       compare(c, d, &c->b, text) <= 0;
	case AGENT_OP_ANY: return (bits & c->a.u) != 0;
	case AGENT_OP_MEQ: return (bits & c->a.u) == c->b.u;
	case AGENT_OP_MNE: return (bits & c->a.u) != c->b.u;
	default:
		return !strncmp(d->s, text + c->a.s.off, c->a.s.len);
	}
}

/* A range LOW..HIGH with HIGH below LOW. */
static bool empty(const struct agent_cond *c)
{
	struct agent_datum hi = { .kind = c->lit, .nver = c->nver[1] };

	memcpy(&hi.n, &c->b, sizeof(hi.n));
	return compare(c, &hi, &c->a, "") == -1;
}

/* "& MASK [== V]" on an integer value. */
static int mask_op(struct lex *l, const struct agent_value *v,
		   struct agent_cond *c)
{
	int kind = agent_value_kind(v);

	if (kind != AGENT_K_INT && kind != AGENT_K_UINT)
		return bad(l, "& needs an integer value; %s is %s", v->name,
			   agent_value_type_name(v->type));
	if (number(l, v, AGENT_K_UINT, &c->a))
		return VG_ERR_PARSE;
	if (c->a.u == 0)
		return bad(l, "a mask of 0 is never true");
	c->op = AGENT_OP_ANY;
	c->lit = AGENT_K_UINT;
	next(l);
	if (!is(l, "==") && !is(l, "=") && !is(l, "!="))
		return VG_OK;
	c->op = is(l, "!=") ? AGENT_OP_MNE : AGENT_OP_MEQ;
	next(l);
	if (number(l, v, AGENT_K_UINT, &c->b))
		return VG_ERR_PARSE;
	if (c->b.u & ~c->a.u)
		return bad(l, "0x%llx has bits outside the mask 0x%llx: never "
			   "true", (unsigned long long)c->b.u,
			   (unsigned long long)c->a.u);
	next(l);
	return VG_OK;
}

/* What follows "NAME": the operator and its literals. */
static int operator(struct lex *l, const struct agent_value *v,
		    struct agent_cond *c)
{
	static const char *const ops[] = { "==", "!=", "<", "<=", ">", ">=",
					   "in", "&", "=", "^=" };
	static const uint8_t codes[] = { AGENT_OP_EQ, AGENT_OP_NE, AGENT_OP_LT,
		AGENT_OP_LE, AGENT_OP_GT, AGENT_OP_GE, AGENT_OP_IN,
		AGENT_OP_ANY, AGENT_OP_EQ, AGENT_OP_PREFIX };
	int op = 0;

	while (op < 10 && !is(l, ops[op]))
		op++;
	if (op == 10)
		return bad(l, "expected ==, !=, <, <=, >, >=, in, & or ^= "
			   "after %s, not '%.*s'", v->name, l->len, l->tok);
	op = c->op = codes[op];
	next(l);
	if (op == AGENT_OP_ANY)
		return mask_op(l, v, c);
	if (op == AGENT_OP_PREFIX) {
		if (agent_value_kind(v) != AGENT_K_STR || l->kind != T_STR)
			return bad(l, "^= compares a string value with "
				   "\"text\": %s ^= \"APX\"", v->name);
		return literal(l, v, c, 0);
	}
	if (literal(l, v, c, 0))
		return VG_ERR_PARSE;
	if (op != AGENT_OP_IN)
		return VG_OK;
	if (!is(l, ".."))
		return bad(l, "a range is LOW..HIGH, as in 4100..4199");
	next(l);
	if (literal(l, v, c, 1))
		return VG_ERR_PARSE;
	return empty(c) ? bad(l, "the range ends before it starts") : VG_OK;
}

static int condition(struct lex *l, const struct agent_value *vals,
		     int nvals, struct agent_cond *c)
{
	int k = 0;

	if (l->kind == T_END)
		return bad(l, "a rule needs a condition, as in: netid in "
			   "4100..4199");
	if (l->kind != T_NAME)
		return bad(l, "expected a value's name, not '%.*s'", l->len,
			   l->tok);
	while (k < nvals && !is(l, vals[k].name))
		k++;
	if (k == nvals)
		return bad(l, "no value named '%.*s' in this unit (%s%s)",
			   l->len, l->tok, nvals == 1 ? "its register is "
			   "named " : "values: ", vals[0].name);
	c->value = (uint8_t)k;
	c->at = (uint8_t)(l->tok - l->text);
	next(l);
	if (operator(l, &vals[k], c))
		return VG_ERR_PARSE;
	c->len = (uint8_t)(l->end - l->text - c->at);
	return VG_OK;
}

int agent_rule_parse(const char *text, const struct agent_value *vals,
		     int nvals, struct agent_cond *out, int *ncond, char *why,
		     size_t n)
{
	struct lex l = { .text = text, .p = text, .tok = text, .why = why,
			 .n = n };
	int nc = 0, rc = VG_OK;
	bool or = false;

	why[0] = '\0';
	next(&l);
	for (;;) {
		if (nc == AGENT_RULE_CONDS_MAX) {
			rc = bad(&l, "at most %d conditions in a rule",
				 AGENT_RULE_CONDS_MAX);
			break;
		}
		memset(&out[nc], 0, sizeof(out[nc]));
		out[nc].or = or;
		if ((rc = condition(&l, vals, nvals, &out[nc])) != VG_OK)
			break;
		nc++;
		if (l.kind == T_END)
			break;
		or = is(&l, "or");
		if (!or && !is(&l, "and")) {
			rc = bad(&l, "expected and, or, or the end of the rule "
				 "after '%.*s', not '%.*s'", out[nc - 1].len,
				 text + out[nc - 1].at, l.len, l.tok);
			break;
		}
		next(&l);
	}
	*ncond = nc;
	return rc;
}

int agent_rule_eval(const struct agent_rule *rule,
		    const struct agent_cond *conds, const char *text,
		    const struct agent_datum *d)
{
	int failed = -1;

	for (int k = 0; k < rule->ncond; k++) {
		if (conds[k].or && failed < 0)
			return -1;        /* the group before held */
		if (conds[k].or)
			failed = -1;
		if (failed < 0 && !holds(&conds[k], &d[conds[k].value], text))
			failed = k;
	}
	return failed;
}

int agent_rule_decide(const struct agent_config *c,
		      const struct agent_unit *u,
		      const struct agent_datum *d, int *rule)
{
	*rule = -1;
	if (!u->nrules) {
		uint64_t x = d->kind == AGENT_K_INT ? (uint64_t)d->n.i : d->n.u;

		if (d->kind > AGENT_K_UINT || x > 65535)
			return -1;        /* maps hold 0..65535 */
		return agent_config_map(c, u, (uint16_t)x);
	}
	for (int k = 0; k < u->nrules; k++) {
		const struct agent_rule *r = &c->rules[u->rule0 + k];

		if (agent_rule_eval(r, &c->conds[r->cond0], c->strs + r->text,
				    d) < 0) {
			*rule = k;
			return r->state;
		}
	}
	return -1;
}

/* The rules, each with whether it held, up to the one that did. */
static void explain_rules(FILE *f, const struct agent_config *c,
			  const struct agent_unit *u,
			  const struct agent_datum *d)
{
	for (int k = 0; k < u->nrules; k++) {
		const struct agent_rule *r = &c->rules[u->rule0 + k];
		const char *text = c->strs + r->text;
		const struct agent_cond *cc = &c->conds[r->cond0];
		int failed = d ? agent_rule_eval(r, cc, text, d) : 0;

		fprintf(f, "  line %d: %s = %s", r->line, r->ncond ?
			vg_state_name(r->state) : "default", text);
		if (d && failed >= 0)
			fprintf(f, "  -> false (%.*s)", cc[failed].len,
				text + cc[failed].at);
		fputs(d && failed < 0 ? "  -> true\n" : "\n", f);
		if (d && failed < 0)
			return;
	}
	if (d)
		fputs("  no rule held\n", f);
}

void agent_rule_explain(FILE *f, const struct agent_config *c,
			const struct agent_unit *u,
			const struct agent_datum *d, int state)
{
	const struct agent_map *m = agent_config_unit_map(c, u);
	char where[96], val[80];

	fprintf(f, "unit %s (line %d)%s%s\n", u->id, u->line, d ? ": " : "",
		!d ? "" : state >= 0 ? vg_state_name(state) : "no state");
	for (int k = 0; k < agent_config_nvalues(u); k++) {
		struct agent_value tmp;
		const struct agent_value *v = agent_config_value(c, u, k, &tmp);

		agent_value_describe(v, where, sizeof(where));
		if (!d) {
			fprintf(f, "  %s: %s\n", v->name, where);
			continue;
		}
		agent_value_format(&d[k], val, sizeof(val));
		fprintf(f, "  %s = %s  (%s)\n", v->name, val, where);
	}
	if (u->nrules) {
		explain_rules(f, c, u, d);
		return;
	}
	fputs("  map", f);
	for (int k = 0; m && k < m->n; k++)
		fprintf(f, " %u=%s", m->value[k], vg_state_name(m->state[k]));
	fputs(d ? (state >= 0 ? "  -> mapped\n" : "  -> not in the map\n") :
	      "\n", f);
}
