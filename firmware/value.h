/*
 * Typed values read from Modbus registers: what a unit's configuration says
 * about one value (table, address, type, byte and word order, bit field),
 * how its registers decode into a number, a string or a version, and how
 * either is written for a person.  Pure: no I/O, so the unit tests hold
 * every type and order against libmodbus's own helpers.
 *
 * Orders, for a 32-bit value whose bytes are A B C D from the most
 * significant (A) to the least (D), in the registers r0 r1 as libmodbus
 * 3.1.6's modbus_get_float_abcd/badc/cdab/dcba read them:
 *   byte_order big,    word_order big     ABCD  r0 = AB, r1 = CD
 *   byte_order little, word_order big     BADC  r0 = BA, r1 = DC
 *   byte_order big,    word_order little  CDAB  r0 = CD, r1 = AB
 *   byte_order little, word_order little  DCBA  r0 = DC, r1 = BA
 * 64-bit values follow the same pattern over four registers (word_order
 * little: the least significant register first); 16-bit ones and strings
 * know only the byte order.
 */
#ifndef AGENT_VALUE_H
#define AGENT_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum agent_type {
	AGENT_T_U16 = 0,
	AGENT_T_I16,
	AGENT_T_U32,
	AGENT_T_I32,
	AGENT_T_U64,
	AGENT_T_F32,
	AGENT_T_STR,      /* length registers, 2 characters each */
	AGENT_T_VER,      /* length registers, one component each */
	AGENT_T_BIT,      /* a coil or discrete input */
	AGENT_T_COUNT
};

/* What a decoded value is, for the rules: how it compares. */
enum agent_kind { AGENT_K_INT = 0, AGENT_K_UINT, AGENT_K_FLOAT, AGENT_K_STR,
		  AGENT_K_VER };

#define AGENT_VALUE_NAME_MAX 16
#define AGENT_STR_REGS_MAX 32
#define AGENT_VER_MAX 4

/* agent_value.order */
#define AGENT_ORDER_BYTES 1   /* byte_order little: bytes swapped */
#define AGENT_ORDER_WORDS 2   /* word_order little: registers reversed */

struct agent_value {
	uint64_t mask;            /* 0: the whole value */
	uint16_t address;
	uint8_t reg;              /* enum agent_reg */
	uint8_t type;             /* enum agent_type */
	uint8_t nregs;            /* registers it spans (a bit: 1) */
	uint8_t shift;
	uint8_t order;            /* AGENT_ORDER_* */
	uint8_t keys;             /* which keys were given, for the checks */
	char name[AGENT_VALUE_NAME_MAX + 1];
};

/* A value as read: kind says which member holds it. */
struct agent_datum {
	uint8_t kind;             /* enum agent_kind */
	uint8_t nver;             /* components of ver */
	union {
		int64_t i;
		uint64_t u;
		double f;
		uint16_t ver[AGENT_VER_MAX];
	} n;
	char s[2 * AGENT_STR_REGS_MAX + 1];
};

/*
 * One key of a value: type, byte_order, word_order, mask, shift or length.
 * VG_OK, VG_ERR_PARSE with the reason in why, or VG_ERR_NOTFOUND when key
 * is none of them.
 */
int agent_value_key(struct agent_value *v, const char *key, const char *val,
		    char *why, size_t n);
/*
 * "REGISTER ADDRESS [TYPE] [KEY=VALUE]...", a named value's line, into v
 * (zeroed first, name kept); VG_OK or VG_ERR_PARSE with why.
 */
int agent_value_spec(struct agent_value *v, const char *spec, char *why,
		     size_t n);
/*
 * Once every key is known: fill in the defaults and refuse what does not
 * fit together.  Returns NULL, or the key at fault ("type", "mask"...)
 * with the reason in why.
 */
const char *agent_value_check(struct agent_value *v, char *why, size_t n);
/* Kind of the decoded value (a bit field is unsigned). */
enum agent_kind agent_value_kind(const struct agent_value *v);
/* "u32", "string"... */
const char *agent_value_type_name(int type);
/* Decode v from its registers (bits: one 0/1 per element). */
void agent_value_decode(const struct agent_value *v, const uint16_t *regs,
			struct agent_datum *d);
/* "4150", "-3", "0.5", "\"APX 8000\"", "2.3.1": snprintf's return. */
int agent_value_format(const struct agent_datum *d, char *buf, size_t n);
/* Where and how v is read: "holding 100 u32 word_order=little". */
int agent_value_describe(const struct agent_value *v, char *buf, size_t n);

#endif
