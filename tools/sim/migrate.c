/*
 * The units a simulated site serves and how they migrate over time.  A
 * plain unit is one holding register (mirrored in the input register)
 * holding its state as the agent's default map reads it: 0 pending, 1
 * migrating, 2 migrated, 3 retired; other kinds of equipment (equip.c)
 * show it in their own registers, as the agent's rules read them.  Every
 * tick, with seeded chances, a unit may take one step pending ->
 * migrating -> migrated, or rarely be retired.  The registers are the
 * only copy of the state, so the ground truth is read back from them and
 * a test's "set" or "put" is part of it.
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigie/domain.h"
#include "vigie/str.h"

#define LINE_MAX_LEN 256

/* splitmix64: tiny, good enough, identical on every platform. */
static uint64_t rng_next(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* True with probability ppm / 1e6. */
static bool chance(struct sim *s, long ppm)
{
	return ppm > 0 && (long)(rng_next(&s->rng) % SIM_PPM) < ppm;
}

void sim_seed(struct sim *s, uint64_t seed)
{
	s->rng = seed;
}

static uint16_t *reg(struct sim *s, const struct sim_unit *u)
{
	return &s->slave[u->slave]->map->tab_registers[u->addr];
}

static void put(struct sim *s, const struct sim_unit *u, int state)
{
	int n = sim_equip_regs(u->kind);

	sim_equip_write(reg(s, u), u->kind, state, (int)(u - s->unit));
	memcpy(&s->slave[u->slave]->map->tab_input_registers[u->addr],
	       reg(s, u), sizeof(uint16_t) * (size_t)n);
}

/* The state the registers show; UNKNOWN for anything else. */
static int state_of(struct sim *s, const struct sim_unit *u)
{
	return sim_equip_state(reg(s, u), u->kind);
}

/* A unit line into *u and *state: VG_OK, VG_ERR_NOTFOUND (blank or
 * comment) or VG_ERR_PARSE. */
static int parse_line(struct sim *s, char *line, struct sim_unit *u,
		      int *state)
{
	char *f[6], *save = NULL;
	int n = 0, kind = SIM_PLAIN;
	long long slave, addr;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 6;
	     t = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = t;
	if (n == 0 || f[0][0] == '#')
		return VG_ERR_NOTFOUND; /* blank or comment: no unit */
	if (n < 5 || strtok_r(NULL, " \t\r\n", &save) ||
	    (n == 6 && (kind = sim_equip_parse(f[5])) < 0))
		return VG_ERR_PARSE;
	if (vg_int_parse(f[2], 0, SIM_SLAVE_MAX, &slave) != VG_OK ||
	    vg_int_parse(f[3], 0, s->size - sim_equip_regs(kind), &addr) !=
	    VG_OK)
		return VG_ERR_PARSE;
	if (!vg_ident_valid(f[0], strlen(f[0])))
		return VG_ERR_PARSE;
	vg_strlcpy(u->id, f[0], sizeof(u->id));
	n = vg_program_parse(f[1], strlen(f[1]));
	*state = vg_state_parse(f[4], strlen(f[4]));
	if (n < 0 || *state < 0 || *state > VG_STATE_RETIRED)
		return VG_ERR_PARSE;
	u->program = (uint8_t)n;
	u->slave = (uint8_t)slave;
	u->kind = (uint8_t)kind;
	u->addr = (uint16_t)addr;
	return VG_OK;
}

static int add_unit(struct sim *s, const struct sim_unit *u, int state)
{
	struct sim_unit *grown;

	if (s->nunits >= SIM_UNITS_MAX || sim_slave_add(s, u->slave) != VG_OK)
		return VG_ERR_RANGE;
	grown = realloc(s->unit, (size_t)(s->nunits + 1) * sizeof(*grown));
	if (!grown)
		return VG_ERR_NOMEM;
	s->unit = grown;
	s->unit[s->nunits++] = *u;
	put(s, &s->unit[s->nunits - 1], state);
	return VG_OK;
}

int sim_units_load(struct sim *s, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[LINE_MAX_LEN];
	int lineno = 0, rc = VG_OK;

	if (!f) {
		perror(path);
		return VG_ERR_IO;
	}
	while (rc == VG_OK && fgets(line, sizeof(line), f)) {
		struct sim_unit u = { 0 };
		int state, r;

		lineno++;
		r = parse_line(s, line, &u, &state);
		if (r == VG_OK)
			r = add_unit(s, &u, state);
		if (r != VG_OK && r != VG_ERR_NOTFOUND) {
			fprintf(stderr, "%s:%d: expected UNIT PROGRAM SLAVE "
				"ADDRESS STATE [plain|radio|cpe|model] (its "
				"registers below %d)\n", path, lineno,
				s->size);
			rc = VG_ERR_PARSE;
		}
	}
	fclose(f);
	return rc;
}

void sim_units_free(struct sim *s)
{
	free(s->unit);
	s->unit = NULL;
	s->nunits = 0;
}

/* One unit's step; the draws are made in a fixed order for replay. */
static bool step(struct sim *s, const struct sim_unit *u)
{
	int st = state_of(s, u);

	if (st == VG_STATE_RETIRED || st == VG_STATE_UNKNOWN)
		return false;
	if (chance(s, s->rates.retire)) {
		put(s, u, VG_STATE_RETIRED);
		return true;
	}
	if (st == VG_STATE_PENDING && chance(s, s->rates.start)) {
		put(s, u, VG_STATE_MIGRATING);
		return true;
	}
	if (st == VG_STATE_MIGRATING && chance(s, s->rates.finish)) {
		put(s, u, VG_STATE_MIGRATED);
		return true;
	}
	return false;
}

int sim_migrate_tick(struct sim *s)
{
	int changed = 0;

	for (int i = 0; i < s->nunits; i++)
		changed += step(s, &s->unit[i]);
	s->ticks++;
	if (changed && s->truth_path)
		sim_truth_file(s, s->truth_path);
	return changed;
}

bool sim_migrate_poll(struct sim *s, int64_t now_ms)
{
	if (s->tick_ms <= 0 || s->frozen)
		return false;
	if (s->next_tick == 0)
		s->next_tick = now_ms + s->tick_ms;
	if (now_ms < s->next_tick)
		return false;
	/* after a stall, one tick and a fresh schedule rather than a burst */
	s->next_tick = now_ms + s->tick_ms;
	sim_migrate_tick(s);
	return true;
}

int sim_unit_set(struct sim *s, const char *id, const char *state)
{
	int st = vg_state_parse(state, strlen(state));

	if (st < 0 || st > VG_STATE_RETIRED)
		return VG_ERR_INVAL;
	for (int i = 0; i < s->nunits; i++) {
		if (!strcmp(s->unit[i].id, id)) {
			put(s, &s->unit[i], st);
			if (s->truth_path)
				sim_truth_file(s, s->truth_path);
			return VG_OK;
		}
	}
	return VG_ERR_NOTFOUND;
}

void sim_truth_write(struct sim *s, FILE *f)
{
	for (int i = 0; i < s->nunits; i++) {
		const struct sim_unit *u = &s->unit[i];

		fprintf(f, "{\"site\":\"%s\",\"region\":\"%s\","
			"\"program\":\"%s\",\"unit\":\"%s\",\"slave\":%d,"
			"\"register\":\"holding\",\"address\":%d,"
			"\"kind\":\"%s\",\"value\":%u,\"state\":\"%s\"}\n",
			s->site, s->region, vg_program_name(u->program), u->id,
			u->slave, u->addr, sim_equip_name(u->kind), *reg(s, u),
			vg_state_name(state_of(s, u)));
	}
}

int sim_truth_file(struct sim *s, const char *path)
{
	char tmp[4096];
	FILE *f;
	int rc;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return VG_ERR_IO;
	f = fopen(tmp, "w");
	if (!f)
		return VG_ERR_IO;
	sim_truth_write(s, f);
	rc = fflush(f) | ferror(f);
	rc |= fclose(f);
	if (rc == 0 && rename(tmp, path) == 0)
		return VG_OK;
	unlink(tmp);
	return VG_ERR_IO;
}
