/*
 * The command language on stdin, one command a line, one answer a line
 * ("ok ...", or "error ..."):
 *   set SLAVE ADDR VALUE     holding and input register ADDR := VALUE
 *   hold SLAVE ADDR VALUE    holding register only
 *   input SLAVE ADDR VALUE   input register only
 *   coil SLAVE ADDR 0|1      coil and discrete input
 *   put SLAVE ADDR TYPE VALUE [ORDER]
 *                            holding and input registers from ADDR := a
 *                            typed value: u16, i16, u32, i32, u64,
 *                            float32 (ORDER ABCD, BADC, CDAB or DCBA, as
 *                            the agent's byte_order) or version (2.3.1,
 *                            one component a register)
 *   text SLAVE ADDR N TEXT   N registers from ADDR := TEXT (the rest of
 *                            the line), two characters each, NUL-padded
 *   kill SLAVE               stop answering (a dead slave)
 *   revive SLAVE             answer again
 *   busy SLAVE N             answer "busy" to the next N requests
 *   corrupt SLAVE N          garble the next N replies (RTU: bad CRC;
 *                            TCP: wrong transaction id); 0 stops
 *   late SLAVE MS N          send the next N replies MS ms late; 0 stops
 *   stats                    "ok SLAVE:REQUESTS ..." per slave
 *   dump [SLAVE]             non-zero holding registers as "ADDR=VALUE"
 *   state UNIT STATE         set a unit (from --units) to a state, as
 *                            its kind of equipment shows it
 *   freeze | thaw            stop / resume the timed dynamics
 *   step [N]                 run N ticks now (default 1): "ok CHANGED"
 *   truth [FILE]             ground truth: "ok N" then N JSON lines, or
 *                            written atomically to FILE ("ok N")
 *   quit
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>

#define ARGS_MAX 6

static int split(char *line, char **argv)
{
	char *save = NULL;
	int n = 0;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < ARGS_MAX;
	     t = strtok_r(NULL, " \t\r\n", &save))
		argv[n++] = t;
	return n;
}

static bool num(const char *s, long lo, long hi, long *out)
{
	char *end;

	if (!s)
		return false;
	*out = strtol(s, &end, 0);
	return end != s && !*end && *out >= lo && *out <= hi;
}

static int set_value(struct sim *s, char **argv, bool hold, bool input)
{
	struct sim_slave *sl;
	long id, addr, v;

	if (!num(argv[1], 0, SIM_SLAVE_MAX, &id) ||
	    !num(argv[2], 0, s->size - 1, &addr) ||
	    !num(argv[3], 0, 65535, &v) || !(sl = sim_slave_get(s, (int)id)))
		return VG_ERR_INVAL;
	if (hold)
		sl->map->tab_registers[addr] = (uint16_t)v;
	if (input)
		sl->map->tab_input_registers[addr] = (uint16_t)v;
	return VG_OK;
}

/* Both tables from addr: n registers of r. */
static void set_words(struct sim_slave *sl, long addr, const uint16_t *r,
		      int n)
{
	memcpy(&sl->map->tab_registers[addr], r, sizeof(*r) * (size_t)n);
	memcpy(&sl->map->tab_input_registers[addr], r, sizeof(*r) * (size_t)n);
}

/* put SLAVE ADDR TYPE VALUE [ORDER] */
static int put_value(struct sim *s, char **argv, int argc)
{
	static const char *const orders[] = { "ABCD", "BADC", "CDAB", "DCBA" };
	struct sim_slave *sl;
	uint16_t r[4];
	long id, addr;
	int order = 0, n;

	if (!num(argv[1], 0, SIM_SLAVE_MAX, &id) ||
	    !num(argv[2], 0, s->size - 1, &addr) ||
	    !(sl = sim_slave_get(s, (int)id)))
		return VG_ERR_INVAL;
	while (argc == 6 && order < 4 && strcmp(argv[5], orders[order]) != 0)
		order++;
	if (order == 4)
		return VG_ERR_INVAL;
	n = sim_equip_put(r, s->size - (int)addr < 4 ? s->size - (int)addr :
			  4, argv[3], argv[4], order);
	if (n < 0)
		return VG_ERR_INVAL;
	set_words(sl, addr, r, n);
	return VG_OK;
}

/* text SLAVE ADDR N TEXT..., before the line is cut into words. */
static int put_text(struct sim *s, const char *line)
{
	struct sim_slave *sl;
	uint16_t r[64];
	long id, addr, n;
	int at = 0;
	char *nl;

	if (sscanf(line, "text %ld %ld %ld %n", &id, &addr, &n, &at) != 3 ||
	    !at || n < 1 || n > 64 || addr < 0 || addr + n > s->size ||
	    !(sl = sim_slave_get(s, (int)id)))
		return VG_ERR_INVAL;
	if ((nl = strpbrk(line + at, "\r\n")))
		*nl = '\0';
	if (sim_equip_text(r, (int)n, line + at) < 0)
		return VG_ERR_INVAL;
	set_words(sl, addr, r, (int)n);
	return VG_OK;
}

static int set_coil(struct sim *s, char **argv)
{
	struct sim_slave *sl;
	long id, addr, v;

	if (!num(argv[1], 0, SIM_SLAVE_MAX, &id) ||
	    !num(argv[2], 0, s->size - 1, &addr) || !num(argv[3], 0, 1, &v) ||
	    !(sl = sim_slave_get(s, (int)id)))
		return VG_ERR_INVAL;
	sl->map->tab_bits[addr] = (uint8_t)v;
	sl->map->tab_input_bits[addr] = (uint8_t)v;
	return VG_OK;
}

static int slave_cmd(struct sim *s, char **argv, int argc)
{
	struct sim_slave *sl;
	long id, n = 0, ms = 0;

	if (!num(argv[1], 0, SIM_SLAVE_MAX, &id) ||
	    !(sl = sim_slave_get(s, (int)id)))
		return VG_ERR_INVAL;
	if (!strcmp(argv[0], "kill"))
		sl->alive = false;
	else if (!strcmp(argv[0], "revive"))
		sl->alive = true;
	else if (!strcmp(argv[0], "busy") && argc == 3 &&
		 num(argv[2], 0, 1000000, &n))
		sl->busy = (int)n;
	else if (!strcmp(argv[0], "corrupt") && argc == 3 &&
		 num(argv[2], 0, 1000000, &n))
		sl->corrupt = (int)n;
	else if (!strcmp(argv[0], "late") && argc == 4 &&
		 num(argv[2], 0, 60000, &ms) && num(argv[3], 0, 1000000, &n)) {
		sl->late_ms = (int)ms;
		sl->late = (int)n;
	} else
		return VG_ERR_INVAL;
	return VG_OK;
}

static void stats(struct sim *s)
{
	fputs("ok", s->out);
	for (int i = 0; i <= SIM_SLAVE_MAX; i++) {
		if (s->slave[i])
			fprintf(s->out, " %d:%lu", i, s->slave[i]->requests);
	}
	fputc('\n', s->out);
}

static void dump(struct sim *s, const char *which)
{
	long only = -1;

	if (which && !num(which, 0, SIM_SLAVE_MAX, &only)) {
		fputs("error bad slave\n", s->out);
		return;
	}
	fputs("ok", s->out);
	for (int i = 0; i <= SIM_SLAVE_MAX; i++) {
		struct sim_slave *sl = s->slave[i];

		if (!sl || (only >= 0 && i != only))
			continue;
		for (int a = 0; a < s->size; a++) {
			if (sl->map->tab_registers[a])
				fprintf(s->out, " %d/%d=%u", i, a,
					sl->map->tab_registers[a]);
		}
	}
	fputc('\n', s->out);
}

/*
 * Commands of the migration dynamics (migrate.c), answered here; false
 * when argv is not one of them.
 */
static bool migrate_cmd(struct sim *s, char **argv, int argc)
{
	long n = 1;
	int changed = 0, rc = VG_OK;

	if (!strcmp(argv[0], "freeze") && argc == 1) {
		s->frozen = true;
	} else if (!strcmp(argv[0], "thaw") && argc == 1) {
		s->frozen = false;
		s->next_tick = 0;
	} else if (!strcmp(argv[0], "step") && argc <= 2) {
		if (argc == 2 && !num(argv[1], 0, 1000000, &n)) {
			rc = VG_ERR_INVAL;
			n = 0;
		}
		while (n-- > 0)
			changed += sim_migrate_tick(s);
		if (rc == VG_OK) {
			fprintf(s->out, "ok %d\n", changed);
			return true;
		}
	} else if (!strcmp(argv[0], "state") && argc == 3) {
		rc = sim_unit_set(s, argv[1], argv[2]);
	} else {
		return false;
	}
	fputs(rc == VG_OK ? "ok\n" : "error bad command\n", s->out);
	return true;
}

static void truth(struct sim *s, const char *file)
{
	if (!file) {
		fprintf(s->out, "ok %d\n", s->nunits);
		sim_truth_write(s, s->out);
	} else if (sim_truth_file(s, file) == VG_OK) {
		fprintf(s->out, "ok %d\n", s->nunits);
	} else {
		fputs("error cannot write truth file\n", s->out);
	}
}

bool sim_cmd_exec(struct sim *s, char *line)
{
	char *argv[ARGS_MAX] = { 0 };
	int argc, rc = VG_ERR_INVAL;

	if (strncmp(line, "text ", 5) == 0) {
		fputs(put_text(s, line) == VG_OK ? "ok\n" : "error bad command\n",
		      s->out);
		fflush(s->out);
		return true;
	}
	argc = split(line, argv);
	if (argc == 0)
		return true;
	if (!strcmp(argv[0], "quit"))
		return false;
	if (!strcmp(argv[0], "stats")) {
		stats(s);
	} else if (!strcmp(argv[0], "dump")) {
		dump(s, argv[1]);
	} else if (!strcmp(argv[0], "truth") && argc <= 2) {
		truth(s, argv[1]);
	} else if (!migrate_cmd(s, argv, argc)) {
		if (argc == 4 && !strcmp(argv[0], "set"))
			rc = set_value(s, argv, true, true);
		else if (argc == 4 && !strcmp(argv[0], "hold"))
			rc = set_value(s, argv, true, false);
		else if (argc == 4 && !strcmp(argv[0], "input"))
			rc = set_value(s, argv, false, true);
		else if (argc == 4 && !strcmp(argv[0], "coil"))
			rc = set_coil(s, argv);
		else if (argc >= 5 && !strcmp(argv[0], "put"))
			rc = put_value(s, argv, argc);
		else if (argc >= 2 && (!strcmp(argv[0], "kill") ||
				       !strcmp(argv[0], "revive") ||
				       !strcmp(argv[0], "busy") ||
				       !strcmp(argv[0], "corrupt") ||
				       !strcmp(argv[0], "late")))
			rc = slave_cmd(s, argv, argc);
		fputs(rc == VG_OK ? "ok\n" : "error bad command\n", s->out);
	}
	fflush(s->out);
	return true;
}
