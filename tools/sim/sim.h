/*
 * vigie-sim: a Modbus site simulator on libmodbus's server API, for tests
 * and demos.  A site is a set of slaves (one register map each) behind one
 * transport (TCP or RTU over a pseudo-terminal), driven by commands on
 * stdin.  Modules: slaves.c (the site's state), migrate.c (the units a
 * site serves, how they migrate over time, their ground truth), equip.c
 * (kinds of equipment: how each shows its state in registers; typed
 * values), cmd.c (the command language), tcp.c and rtu.c (transports),
 * main.c (the event loop).  A unit's state lives only in its registers, so a test's "set"
 * and the dynamics can never disagree about it.
 */
#ifndef VIGIE_SIM_H
#define VIGIE_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/select.h>

#include <modbus.h>

#include "vigie/err.h"
#include "vigie/ident.h"

#define SIM_SLAVE_MAX 247
#define SIM_UNITS_MAX 65536
#define SIM_PPM 1000000L

/* Kinds of equipment (equip.c). */
enum sim_kind { SIM_PLAIN = 0, SIM_RADIO, SIM_CPE, SIM_MODEL, SIM_KINDS };

/* A unit of equipment: its state is in its holding registers from addr,
 * as its kind writes it. */
struct sim_unit {
	char id[VG_IDENT_MAX + 1];
	uint8_t program;          /* enum vg_program */
	uint8_t slave;
	uint8_t kind;             /* enum sim_kind */
	uint16_t addr;
};

/* Per-tick chances, in parts per million, of each migration step. */
struct sim_rates {
	long start;               /* pending -> migrating */
	long finish;              /* migrating -> migrated */
	long retire;              /* any live state -> retired (rare) */
};

struct sim_slave {
	int id;
	bool alive;               /* false: never answers (a dead slave) */
	int busy;                 /* answer "busy" to this many requests */
	int corrupt;              /* garble this many replies (bad CRC) */
	int late;                 /* answer this many requests late... */
	int late_ms;              /* ...by this long */
	unsigned long requests;   /* received, answered or not */
	modbus_mapping_t *map;    /* owned */
};

/* A reply held back ("late"): written to fd when due. */
#define SIM_LATE_MAX 16
struct sim_late {
	int fd;
	int64_t due;              /* monotonic ms */
	size_t len;               /* 0: a free slot */
	uint8_t buf[MODBUS_MAX_ADU_LENGTH];
};

struct sim {
	int size;                 /* registers and bits per table */
	struct sim_slave *slave[SIM_SLAVE_MAX + 1]; /* by id; owned */
	FILE *out;                /* where answers and "ready" go */
	/* migrate.c: the units served and their dynamics */
	struct sim_unit *unit;    /* owned */
	int nunits;
	char site[VG_IDENT_MAX + 1];   /* labels for the truth; may be "" */
	char region[3];
	uint64_t rng;             /* seeded PRNG state: reproducible runs */
	struct sim_rates rates;
	int tick_ms;              /* 0: no dynamics */
	bool frozen;              /* "freeze": no ticks until "thaw" */
	int64_t next_tick;        /* monotonic ms */
	unsigned long ticks;
	const char *truth_path;   /* rewritten atomically after each change */
	struct sim_late late[SIM_LATE_MAX];
};

/* Slaves from a list such as "1-3,7"; VG_OK or VG_ERR_INVAL. */
int sim_slaves_create(struct sim *s, const char *spec, int size);
void sim_slaves_free(struct sim *s);
/* Add slave id (an existing one is kept); VG_OK or VG_ERR_*. */
int sim_slave_add(struct sim *s, int id);
struct sim_slave *sim_slave_get(struct sim *s, int id);
/*
 * Answer one request already received on ctx (its unit id picks the
 * slave); silence for unknown or dead slaves.
 */
void sim_slaves_answer(struct sim *s, modbus_t *ctx, const uint8_t *req,
		       int len);
/* Write the late replies that are due; called from the event loop. */
void sim_slaves_late_poll(struct sim *s, int64_t now_ms);

/*
 * Units from a file of "UNIT PROGRAM SLAVE ADDRESS STATE [KIND]" lines
 * ('#' comments); creates the slaves they name and writes each initial
 * state into its registers.  Errors go to stderr as "file:line: why"; VG_OK
 * or VG_ERR_IO / VG_ERR_PARSE.
 */
int sim_units_load(struct sim *s, const char *path);
void sim_units_free(struct sim *s);
void sim_seed(struct sim *s, uint64_t seed);
/* Run the ticks that are due (if any and not frozen); true if one ran. */
bool sim_migrate_poll(struct sim *s, int64_t now_ms);
/* One tick of the dynamics; returns how many units changed state. */
int sim_migrate_tick(struct sim *s);
/* Set a unit's state by id; VG_ERR_INVAL (state) or VG_ERR_NOTFOUND. */
int sim_unit_set(struct sim *s, const char *id, const char *state);
/* Ground truth, one JSON object a line per unit. */
void sim_truth_write(struct sim *s, FILE *f);
/* The same into path, atomically (temporary file + rename); VG_ERR_*. */
int sim_truth_file(struct sim *s, const char *path);

/* A kind by name ("plain", "radio", "cpe", "model"), or -1. */
int sim_equip_parse(const char *name);
const char *sim_equip_name(int kind);
/* Registers a unit of that kind spans. */
int sim_equip_regs(int kind);
/* Write state into a unit's registers r; seq varies its ids. */
void sim_equip_write(uint16_t *r, int kind, int state, int seq);
/* The state a unit's registers show (VG_STATE_UNKNOWN: none). */
int sim_equip_state(const uint16_t *r, int kind);
/*
 * A typed value ("u16", "i16", "u32", "i32", "u64", "float32", "version"
 * as 2.3.1) into r in order (0 ABCD, 1 BADC, 2 CDAB, 3 DCBA), at most
 * room registers; how many it took, or -1.
 */
int sim_equip_put(uint16_t *r, int room, const char *type,
		  const char *value, int order);
/* text into n registers, two characters each, NUL-padded; n or -1. */
int sim_equip_text(uint16_t *r, int n, const char *text);

/* Execute one command line; false when it asks to quit. */
bool sim_cmd_exec(struct sim *s, char *line);

/* A transport: adds its fds to a select set, serves the ready ones. */
struct sim_transport {
	int (*fill)(void *t, fd_set *rd, int maxfd);
	void (*serve)(void *t, fd_set *rd, struct sim *s);
	void *t;
};

/* Open a transport, print "ready ..." to out: VG_OK or VG_ERR_*. */
int sim_tcp_open(struct sim_transport *tr, const char *addr, int port,
		 FILE *out);
int sim_rtu_open(struct sim_transport *tr, FILE *out);

#endif
