/*
 * Kinds of equipment and how each shows its migration state in its
 * registers, as the agent's rules read them (deploy/vigie-agent.conf has
 * the matching units):
 *   plain  1 register: the state itself, 0 pending .. 3 retired
 *   radio  6 registers: network id u32, low word first (CDAB), the
 *          firmware version, one component a register, and a status word
 *          whose bit 2 says registered.  Old network ids are 0x11000 and
 *          up, RENIR's 4100..4199: a radio is on RENIR with such an id,
 *          registered, with firmware 2.3.0 or later, migrating with the
 *          id alone; network id 0 is a retired radio
 *   cpe    1 register: a link CPE's mode word, bit 0 link up, bit 2 RGT
 *          profile, bit 3 provisioning, bit 15 decommissioned
 *   model  12 registers: the model, a string of 8 registers, then the
 *          firmware, "v2.3.1", a string of 4; APX models are the new
 *          ones, with firmware 2.3 on RENIR; an empty model is retired
 * Typed values (put, text) are written as the agent's byte_order and
 * word_order name them, from the integer's big-endian registers as
 * libmodbus's MODBUS_SET_INT32_TO_INT16 and _INT64_ write them.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#include "vigie/domain.h"

static const char *const kinds[SIM_KINDS] = { "plain", "radio", "cpe",
					      "model" };
static const uint8_t kind_regs[SIM_KINDS] = { 1, 6, 1, 12 };

int sim_equip_parse(const char *name)
{
	for (int k = 0; k < SIM_KINDS; k++) {
		if (strcmp(name, kinds[k]) == 0)
			return k;
	}
	return -1;
}

const char *sim_equip_name(int kind)
{
	return kinds[kind];
}

int sim_equip_regs(int kind)
{
	return kind_regs[kind];
}

/* n big-endian registers of x in order (ABCD 0, BADC 1, CDAB 2, DCBA 3). */
static void put_words(uint16_t *r, uint64_t x, int n, int order)
{
	uint16_t be[4];

	if (n == 4) {
		MODBUS_SET_INT64_TO_INT16(be, 0, x);
	} else if (n == 2) {
		uint32_t v = (uint32_t)x;

		MODBUS_SET_INT32_TO_INT16(be, 0, v);
	} else {
		be[0] = (uint16_t)x;
	}
	for (int k = 0; k < n; k++) {
		uint16_t w = be[order & 2 ? n - 1 - k : k];

		r[k] = order & 1 ? (uint16_t)(w << 8 | w >> 8) : w;
	}
}

static void put_text(uint16_t *r, int n, const char *text)
{
	size_t len = strlen(text);

	for (size_t k = 0; k < (size_t)n; k++) {
		uint8_t hi = 2 * k < len ? (uint8_t)text[2 * k] : 0;
		uint8_t lo = 2 * k + 1 < len ? (uint8_t)text[2 * k + 1] : 0;

		r[k] = (uint16_t)(hi << 8 | lo);
	}
}

void sim_equip_write(uint16_t *r, int kind, int state, int seq)
{
	static const uint16_t mode[] = { 0x0001, 0x0009, 0x0005, 0x8000 };
	static const uint16_t fw[][3] = { { 1, 8, 2 }, { 2, 1, 0 },
					  { 2, 3, 1 }, { 2, 3, 1 } };
	static const char *const model[][2] = { { "XTL 5000", "v1.9.0" },
		{ "APX 8000", "v1.9.4" }, { "APX 8000", "v2.3.1" },
		{ "", "v2.3.1" } };
	uint32_t net = state == VG_STATE_PENDING ? 0x11000u + (uint32_t)seq :
		       state == VG_STATE_RETIRED ? 0 : 4100u + (uint32_t)seq % 100;

	switch (kind) {
	case SIM_PLAIN:
		r[0] = (uint16_t)state;
		break;
	case SIM_RADIO:
		put_words(r, net, 2, 2);
		memcpy(r + 2, fw[state], sizeof(fw[state]));
		r[5] = state == VG_STATE_MIGRATED ? 0x0005 :
		       state == VG_STATE_RETIRED ? 0 : 0x0001;
		break;
	case SIM_CPE:
		r[0] = mode[state];
		break;
	default:
		put_text(r, 8, model[state][0]);
		put_text(r + 8, 4, model[state][1]);
	}
}

/* A firmware string's version as one number: "v2.3.1" is 20301. */
static long text_version(const uint16_t *r, int n)
{
	char s[32];
	long v[3] = { 0, 0, 0 };
	const char *p;

	for (size_t k = 0; k < (size_t)n; k++) {
		s[2 * k] = (char)(r[k] >> 8);
		s[2 * k + 1] = (char)r[k];
	}
	s[2 * (size_t)n] = '\0';
	p = strpbrk(s, "0123456789");
	for (int k = 0; p && k < 3 && *p; k++) {
		v[k] = strtol(p, (char **)&p, 10);
		p = *p == '.' ? p + 1 : NULL;
	}
	return v[0] * 10000 + v[1] * 100 + v[2];
}

int sim_equip_state(const uint16_t *r, int kind)
{
	uint32_t net = (uint32_t)r[1] << 16 | r[0];
	bool renir = net >= 4100 && net <= 4199;
	bool apx = (r[0] >> 8) == 'A' && (r[0] & 0xFF) == 'P' &&
		   (r[1] >> 8) == 'X';

	switch (kind) {
	case SIM_PLAIN:
		return r[0] <= VG_STATE_RETIRED ? r[0] : VG_STATE_UNKNOWN;
	case SIM_RADIO:
		if (net == 0)
			return VG_STATE_RETIRED;
		if (!renir)
			return VG_STATE_PENDING;
		return (r[5] & 0x0004) && r[2] * 10000L + r[3] * 100L + r[4] >=
		       20300 ? VG_STATE_MIGRATED : VG_STATE_MIGRATING;
	case SIM_CPE:
		return r[0] & 0x8000 ? VG_STATE_RETIRED :
		       r[0] & 0x0004 ? VG_STATE_MIGRATED :
		       r[0] & 0x0008 ? VG_STATE_MIGRATING : VG_STATE_PENDING;
	default:
		if (r[0] >> 8 == 0)
			return VG_STATE_RETIRED;
		if (!apx)
			return VG_STATE_PENDING;
		return text_version(r + 8, 4) >= 20300 ? VG_STATE_MIGRATED :
		       VG_STATE_MIGRATING;
	}
}

int sim_equip_put(uint16_t *r, int room, const char *type,
		  const char *value, int order)
{
	static const char *const types[] = { "u16", "i16", "u32", "i32",
					     "u64", "float32", "version" };
	static const uint8_t regs[] = { 1, 1, 2, 2, 4, 2, 0 };
	char *end;
	int t = 0, n;

	while (t < 7 && strcmp(type, types[t]) != 0)
		t++;
	if (t == 7)
		return -1;
	n = regs[t];
	if (t == 5) { /* the float's bits, as its integer (not libmodbus
		       * 3.1.6's modbus_set_float_*, which swap bytes) */
		float f = strtof(value, &end);
		uint32_t bits;

		memcpy(&bits, &f, sizeof(bits));
		if (*end || n > room)
			return -1;
		put_words(r, bits, n, order);
		return n;
	}
	if (t == 6) {
		for (n = 0; n < room && n < 4 && *value; n++) {
			r[n] = (uint16_t)strtoul(value, &end, 10);
			if (end == value || (*end && *end != '.'))
				return -1;
			value = *end ? end + 1 : end;
		}
		return *value ? -1 : n;
	}
	{
		long long x = value[0] == '-' ? strtoll(value, &end, 0) :
			      (long long)strtoull(value, &end, 0);

		if (*end || end == value || n > room)
			return -1;
		put_words(r, (uint64_t)x, n, order);
	}
	return n;
}

int sim_equip_text(uint16_t *r, int n, const char *text)
{
	if (strlen(text) > 2 * (size_t)n)
		return -1;
	put_text(r, n, text);
	return n;
}
