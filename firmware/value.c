/*
 * Typed values: the keys that describe one, the checks once they are all
 * known, decoding from registers and writing for a person.  Decoding
 * assembles the registers into one big-endian integer (after undoing the
 * byte and word orders), then reads it as the type says, so every type
 * shares one path and the orders cannot differ between types.
 */
#include "value.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "vigie/err.h"
#include "vigie/str.h"

/* agent_value.keys: which keys were given (bit k: keys[k] below) */
#define K_TYPE 1
#define K_BYTE 2
#define K_WORD 4
#define K_MASK 8
#define K_SHIFT 16
#define K_LEN 32
#define K_LETTERS 64              /* byte_order = ABCD...: both orders */

static const char *const keys[] = { "type", "byte_order", "word_order",
				    "mask", "shift", "length" };
static const char *const type_names[AGENT_T_COUNT] = {
	"u16", "i16", "u32", "i32", "u64", "float32", "string", "version",
	"bit"
};
static const uint8_t type_regs[AGENT_T_COUNT] = { 1, 1, 2, 2, 4, 2, 0, 0,
						  1 };

static int bad(char *why, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return VG_ERR_PARSE;
}

/* A whole unsigned number, decimal or 0x hex, at most max. */
static bool num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		return false;
	*out = strtoull(s, &end, 0);
	return !errno && !*end && *out <= max;
}

static int lookup(const char *v, const char *const *names, int count)
{
	for (int k = 0; k < count; k++) {
		if (strcmp(v, names[k]) == 0)
			return k;
	}
	return -1;
}

const char *agent_value_type_name(int type)
{
	return (unsigned)type < AGENT_T_COUNT ? type_names[type] : "?";
}

/* byte_order: big or little, or the four letters that give both orders. */
static int byte_order(struct agent_value *v, const char *val, char *why,
		      size_t n)
{
	static const char *const ords[] = { "big", "little", "ABCD", "BADC",
					    "CDAB", "DCBA" };
	int k = lookup(val, ords, 6);

	if (k < 0)
		return bad(why, n, "byte_order must be big, little, ABCD, "
			   "BADC, CDAB or DCBA, not '%s'", val);
	/* big, little: the bytes alone; ABCD 0, BADC bytes, CDAB words,
	 * DCBA both */
	if (k < 2) {
		v->order = (uint8_t)((v->order & AGENT_ORDER_WORDS) | k);
	} else {
		v->keys |= K_LETTERS;
		v->order = (uint8_t)(k - 2);
	}
	return VG_OK;
}

static int set_key(struct agent_value *v, int k, const char *val, char *why,
		   size_t n)
{
	uint64_t x;
	int t;

	switch (k) {
	case 0:
		t = lookup(val, type_names, AGENT_T_BIT);
		if (t < 0)
			return bad(why, n, "type must be u16, i16, u32, i32, "
				   "u64, float32, string or version, not '%s'",
				   val);
		v->type = (uint8_t)t;
		return VG_OK;
	case 1:
		return byte_order(v, val, why, n);
	case 2:
		t = lookup(val, (const char *const[]){ "big", "little" }, 2);
		if (t < 0)
			return bad(why, n, "word_order must be big or little, "
				   "not '%s'", val);
		v->order = (uint8_t)((v->order & AGENT_ORDER_BYTES) |
				     (t ? AGENT_ORDER_WORDS : 0));
		return VG_OK;
	case 3:
		if (!num(val, UINT64_MAX, &x) || x == 0)
			return bad(why, n, "mask must be a non-zero number such"
				   " as 0x0004, not '%s'", val);
		v->mask = x;
		return VG_OK;
	case 4:
		if (!num(val, 63, &x))
			return bad(why, n, "shift must be 0..63, not '%s'",
				   val);
		v->shift = (uint8_t)x;
		return VG_OK;
	default:
		if (!num(val, AGENT_STR_REGS_MAX, &x) || x == 0)
			return bad(why, n, "length must be 1..%d registers, "
				   "not '%s'", AGENT_STR_REGS_MAX, val);
		v->nregs = (uint8_t)x;
		return VG_OK;
	}
}

int agent_value_key(struct agent_value *v, const char *key, const char *val,
		    char *why, size_t n)
{
	int k = lookup(key, keys, 6), rc;

	if (k < 0)
		return VG_ERR_NOTFOUND;
	if (v->keys & (1 << k))
		return bad(why, n, "%s given twice", key);
	rc = set_key(v, k, val, why, n);
	v->keys |= (uint8_t)(1 << k);
	return rc;
}

/* One word of a value line after REGISTER ADDRESS: the type or KEY=VALUE. */
static int spec_word(struct agent_value *v, char *w, int i, char *why,
		     size_t n)
{
	char *eq = strchr(w, '=');
	int rc;

	if (!eq && i == 2 && lookup(w, keys, 6) < 0)
		return agent_value_key(v, "type", w, why, n);
	if (!eq)
		return bad(why, n, "'%s' is not KEY=VALUE: after REGISTER "
			   "ADDRESS [TYPE], write options as mask=0x0004, "
			   "without spaces", w);
	*eq = '\0';
	rc = agent_value_key(v, w, eq + 1, why, n);
	if (rc == VG_ERR_NOTFOUND)
		rc = bad(why, n, "unknown option '%s' (type, byte_order, "
			 "word_order, mask, shift, length)", w);
	return rc;
}

int agent_value_spec(struct agent_value *v, const char *spec, char *why,
		     size_t n)
{
	char buf[AGENT_PATH_MAX], name[AGENT_VALUE_NAME_MAX + 1], *save = NULL;
	int i = 0, rc = VG_OK, r;
	uint64_t a;

	memcpy(name, v->name, sizeof(name));
	memset(v, 0, sizeof(*v));
	memcpy(v->name, name, sizeof(name));
	vg_strlcpy(buf, spec, sizeof(buf));
	for (char *w = strtok_r(buf, " \t", &save); w && rc == VG_OK;
	     w = strtok_r(NULL, " \t", &save), i++) {
		if (i > 1) {
			rc = spec_word(v, w, i, why, n);
		} else if (i == 0) {
			for (r = 0; r < AGENT_REG_COUNT &&
			     strcmp(w, agent_config_reg_name(r)) != 0; r++)
				;
			v->reg = (uint8_t)r;
			if (r == AGENT_REG_COUNT)
				rc = bad(why, n, "a value line starts with "
					 "holding, input, coil or discrete, "
					 "not '%s'", w);
		} else if (num(w, 65535, &a)) {
			v->address = (uint16_t)a;
		} else {
			rc = bad(why, n, "address must be 0..65535, not '%s'",
				 w);
		}
	}
	if (rc == VG_OK && i < 2)
		rc = bad(why, n, "a value line is REGISTER ADDRESS [TYPE] "
			 "[KEY=VALUE]..., as in: holding 100 u32 "
			 "word_order=little");
	return rc;
}

static const char *fault(char *why, size_t n, const char *key,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static const char *fault(char *why, size_t n, const char *key,
			 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return key;
}

/* Lengths: only strings and versions have one, and must. */
static const char *check_length(struct agent_value *v, char *why, size_t n)
{
	const char *t = type_names[v->type];

	if (v->type != AGENT_T_STR && v->type != AGENT_T_VER) {
		v->nregs = type_regs[v->type];
		return v->keys & K_LEN ? fault(why, n, "length", "length is "
					       "for string and version, not %s",
					       t) : NULL;
	}
	if (!(v->keys & K_LEN))
		return fault(why, n, "type", "type = %s needs length = "
			     "REGISTERS (%s)", t, v->type == AGENT_T_STR ?
			     "2 characters each" : "one component each");
	if (v->type == AGENT_T_VER && v->nregs > AGENT_VER_MAX)
		return fault(why, n, "length", "a version has at most %d "
			     "components (registers)", AGENT_VER_MAX);
	return NULL;
}

/* Orders: words only for 32 and 64 bits, bytes not for versions. */
static const char *check_order(const struct agent_value *v, char *why,
			       size_t n)
{
	const char *t = type_names[v->type];
	const char *okey = v->keys & K_WORD ? "word_order" : "byte_order";

	if ((v->keys & K_LETTERS) && (v->keys & K_WORD))
		return fault(why, n, "word_order", "byte_order = ABCD, BADC, "
			     "CDAB or DCBA already gives the word order: "
			     "remove word_order");
	if ((v->order & AGENT_ORDER_WORDS) &&
	    (v->nregs < 2 || v->type == AGENT_T_STR || v->type == AGENT_T_VER))
		return fault(why, n, okey, "the word order is for 32- and "
			     "64-bit types (u32, i32, u64, float32), not %s",
			     t);
	if (v->type == AGENT_T_VER && (v->keys & (K_BYTE | K_WORD)))
		return fault(why, n, okey, "a version has one component per "
			     "register: no byte or word order");
	return NULL;
}

/* Bit fields: integers only, within the type's width. */
static const char *check_bits(const struct agent_value *v, char *why,
			      size_t n)
{
	const char *t = type_names[v->type];
	unsigned bits = 16u * v->nregs;

	if ((v->keys & (K_MASK | K_SHIFT)) && (v->type == AGENT_T_F32 ||
	    v->type == AGENT_T_STR || v->type == AGENT_T_VER))
		return fault(why, n, v->keys & K_MASK ? "mask" : "shift",
			     "mask and shift need an integer type (u16, i16, "
			     "u32, i32, u64), not %s", t);
	if (bits < 64 && (v->mask >> bits))
		return fault(why, n, "mask", "mask 0x%llx is wider than %s",
			     (unsigned long long)v->mask, t);
	if (v->shift >= bits)
		return fault(why, n, "shift", "shift %u leaves nothing of %s",
			     v->shift, t);
	return NULL;
}

const char *agent_value_check(struct agent_value *v, char *why, size_t n)
{
	const char *key = NULL;

	if (v->reg == AGENT_REG_COIL || v->reg == AGENT_REG_DISCRETE) {
		for (int k = 0; k < 6 && !key; k++) {
			if (v->keys & (1 << k))
				key = fault(why, n, keys[k], "a %s is one bit: "
					    "%s is for holding and input "
					    "registers", agent_config_reg_name(
					    (enum agent_reg)v->reg), keys[k]);
		}
		v->type = AGENT_T_BIT;
		v->nregs = 1;
		return key;
	}
	if (!(key = check_length(v, why, n)) && !(key = check_order(v, why, n)))
		key = check_bits(v, why, n);
	if (!key && v->address + v->nregs > 65536)
		key = fault(why, n, "address", "%s at address %u runs past "
			    "register 65535", type_names[v->type], v->address);
	return key;
}

enum agent_kind agent_value_kind(const struct agent_value *v)
{
	static const uint8_t kinds[AGENT_T_COUNT] = {
		AGENT_K_UINT, AGENT_K_INT, AGENT_K_UINT, AGENT_K_INT,
		AGENT_K_UINT, AGENT_K_FLOAT, AGENT_K_STR, AGENT_K_VER,
		AGENT_K_UINT
	};

	if (v->mask || v->shift)
		return AGENT_K_UINT;
	return (enum agent_kind)kinds[v->type];
}

static uint16_t swab16(uint16_t w)
{
	return (uint16_t)(w << 8 | w >> 8);
}

/* Characters high byte first (byte_order little: low first); a NUL ends
 * the text, trailing spaces go, anything unprintable shows as '?'. */
static void decode_str(const struct agent_value *v, const uint16_t *r,
		       char *s)
{
	size_t len = 0;

	for (size_t k = 0; k < v->nregs; k++) {
		uint16_t w = v->order & AGENT_ORDER_BYTES ? swab16(r[k]) : r[k];

		s[2 * k] = (char)(w >> 8);
		s[2 * k + 1] = (char)(w & 0xFF);
	}
	s[2 * (size_t)v->nregs] = '\0';
	for (; s[len]; len++) {
		if ((unsigned char)s[len] < 0x20 || (unsigned char)s[len] > 0x7E)
			s[len] = '?';
	}
	while (len > 0 && s[len - 1] == ' ')
		len--;
	s[len] = '\0';
}

void agent_value_decode(const struct agent_value *v, const uint16_t *regs,
			struct agent_datum *d)
{
	uint64_t x = 0;
	int n = v->nregs;

	memset(d, 0, sizeof(*d));
	d->kind = (uint8_t)agent_value_kind(v);
	if (v->type == AGENT_T_STR) {
		decode_str(v, regs, d->s);
		return;
	}
	if (v->type == AGENT_T_VER) {
		memcpy(d->n.ver, regs, sizeof(uint16_t) * (size_t)n);
		d->nver = (uint8_t)n;
		return;
	}
	for (int k = 0; k < n; k++) {
		uint16_t w = regs[v->order & AGENT_ORDER_WORDS ? n - 1 - k : k];

		x = x << 16 | (v->order & AGENT_ORDER_BYTES ? swab16(w) : w);
	}
	if (d->kind == AGENT_K_UINT) {
		d->n.u = (v->mask ? x & v->mask : x) >> v->shift;
	} else if (v->type == AGENT_T_I16) {
		d->n.i = (int16_t)(uint16_t)x;
	} else if (v->type == AGENT_T_I32) {
		d->n.i = (int32_t)(uint32_t)x;
	} else {
		uint32_t b = (uint32_t)x;
		float f;

		memcpy(&f, &b, sizeof(f));
		d->n.f = f;
	}
}

int agent_value_format(const struct agent_datum *d, char *buf, size_t n)
{
	int len = 0;

	switch (d->kind) {
	case AGENT_K_INT:
		return snprintf(buf, n, "%lld", (long long)d->n.i);
	case AGENT_K_UINT:
		if (d->n.u < 10)
			return snprintf(buf, n, "%llu",
					(unsigned long long)d->n.u);
		return snprintf(buf, n, "%llu (0x%llx)",
				(unsigned long long)d->n.u,
				(unsigned long long)d->n.u);
	case AGENT_K_FLOAT:
		return snprintf(buf, n, "%g", d->n.f);
	case AGENT_K_STR:
		return snprintf(buf, n, "\"%s\"", d->s);
	default:
		buf[0] = '\0';
		for (int k = 0; k < d->nver && (size_t)len < n; k++)
			len += snprintf(buf + len, n - (size_t)len, "%s%u",
					k ? "." : "", d->n.ver[k]);
		return len;
	}
}

int agent_value_describe(const struct agent_value *v, char *buf, size_t n)
{
	int len = snprintf(buf, n, "%s %u", agent_config_reg_name(
				   (enum agent_reg)v->reg), v->address);

#define MORE(...)                                                          \
	if ((size_t)len < n)                                               \
		len += snprintf(buf + len, n - (size_t)len, __VA_ARGS__)
	if (v->type != AGENT_T_BIT) {
		MORE(" %s", type_names[v->type]);
	}
	if (v->order & AGENT_ORDER_BYTES) {
		MORE(" byte_order=little");
	}
	if (v->order & AGENT_ORDER_WORDS) {
		MORE(" word_order=little");
	}
	if (v->mask) {
		MORE(" mask=0x%llx", (unsigned long long)v->mask);
	}
	if (v->shift) {
		MORE(" shift=%u", v->shift);
	}
	if (v->type == AGENT_T_STR || v->type == AGENT_T_VER) {
		MORE(" length=%u", v->nregs);
	}
#undef MORE
	return len;
}
