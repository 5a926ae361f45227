/*
 * The agent's configuration: one human-edited INI file (libinih) read into
 * an immutable struct agent_config.  Every error is reported as
 * "file:line: what is wrong"; a reload parses into a fresh struct and the
 * caller swaps it in only when it is valid, so a typo never takes a running
 * agent down.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/broker.h"
#include "vigie/domain.h"
#include "vigie/ident.h"
#include "vigie/msg.h"
#include "vigie/topic.h"

#include "rule.h"
#include "value.h"

#define AGENT_PATH_MAX 256
#define AGENT_HOST_MAX 128
#define AGENT_SECRET_MAX 128
#define AGENT_DEVICES_MAX 64
#define AGENT_UNITS_MAX 8192
#define AGENT_ERR_MAX 512

enum agent_transport { AGENT_TCP = 0, AGENT_RTU };

/* Where a unit's state is read; order fixes the planner's grouping. */
enum agent_reg {
	AGENT_REG_HOLDING = 0,
	AGENT_REG_INPUT,
	AGENT_REG_COIL,
	AGENT_REG_DISCRETE,
	AGENT_REG_COUNT
};

/* One Modbus slave, on a TCP endpoint or an RTU bus shared with others. */
struct agent_device {
	char name[VG_IDENT_MAX + 1];
	enum agent_transport transport;
	char host[AGENT_HOST_MAX];        /* TCP */
	int port;                         /* TCP */
	char serial[AGENT_PATH_MAX];      /* RTU */
	int baud;
	char parity;                      /* 'N', 'E', 'O' */
	int data_bits;
	int stop_bits;
	bool rs485;
	int slave;                        /* 1..247 (0..255 on TCP) */
	int response_timeout_ms;
	int byte_timeout_ms;
	int retries;                      /* extra tries on busy / timeout */
	int poll_interval_ms;
	int frame_gap_ms;                 /* RTU silence between requests */
	int line;                         /* where it was declared */
};

/* A unit's map: raw register value -> state.  Units with the same map
 * share one entry of the config's table (most use the default one). */
#define AGENT_MAP_MAX 8

struct agent_map {
	uint8_t n;
	uint8_t state[AGENT_MAP_MAX]; /* enum vg_state */
	uint16_t value[AGENT_MAP_MAX];
};

/*
 * A unit reads one plain register or bit (reg, address) through its map,
 * or typed values (nvalues of cfg->values from value0) that its rules
 * (nrules of cfg->rules from rule0) or, for one integer, its map turn
 * into a state.  Thousands of these are resident, so the fields are as
 * narrow as their ranges allow and the id and the map live in the
 * config's tables: 24 bytes a unit on 64-bit boards (it was 108 with both
 * inline).
 */
/* a unit's program while its section is read, until program = */
#define AGENT_PROGRAM_UNSET 0xff

struct agent_unit {
	const char *id;        /* in the config's string pool; not owned */
	int line;
	/* 16 bits: AGENT_UNITS_MAX units of at most AGENT_UNIT_VALUES_MAX
	 * values and AGENT_UNIT_RULES_MAX rules (config.c asserts it) */
	uint16_t value0;
	uint16_t rule0;
	uint16_t address;
	uint16_t map;          /* 1 + index into the config's maps; 0: none */
	int8_t device;         /* index into devices; -1 when manual */
	uint8_t program;       /* enum vg_program; UNSET until given */
	unsigned manual : 1;   /* marked by technicians, never read */
	unsigned reg : 2;      /* enum agent_reg */
	unsigned nvalues : 4;  /* 0: the plain register reg/address */
	unsigned nrules : 3;   /* 0: the map decides */
};

struct agent_config {
	char path[AGENT_PATH_MAX];
	char site[VG_IDENT_MAX + 1];
	int region;
	/* broker: host = one address or a list, tried in turn (failover) */
	struct vg_broker brokers[VG_BROKERS_MAX];
	int nbrokers;                     /* at least 1 once parsed */
	int port;                         /* for addresses given without */
	char prefix[VG_PREFIX_MAX + 1];
	char client_id[VG_IDENT_MAX + 16];
	char username[AGENT_SECRET_MAX];
	char password[AGENT_SECRET_MAX];
	char password_file[AGENT_PATH_MAX]; /* read by agent_config_load */
	bool tls;
	char ca_file[AGENT_PATH_MAX];
	char ca_path[AGENT_PATH_MAX];
	char cert_file[AGENT_PATH_MAX];
	char key_file[AGENT_PATH_MAX];
	int keepalive;
	bool mqtt_v311;                   /* mqtt_version = 3.1.1: forced */
	/* agent */
	char data_dir[AGENT_PATH_MAX];
	char control[AGENT_PATH_MAX];     /* control socket path */
	int log_level;
	int ndevices;
	struct agent_device *devices;     /* owned: agent_config_free */
	int nunits;
	struct agent_unit *units;         /* owned: agent_config_free */
	/* typed units' values, rules and conditions, and the rules' text
	 * (explanations, string literals); all owned */
	int nvalues, nrules, nconds;
	struct agent_value *values;
	struct agent_rule *rules;
	struct agent_cond *conds;
	int nmaps;
	struct agent_map *maps;           /* owned */
	char *strs;                       /* owned; units' ids point in it */
	size_t nstrs;
	/* FNV-1a 64 of the file's bytes, hex: which file is in force */
	char hash[VG_HASH_MAX + 1];
};

/*
 * Parse path into *cfg (zeroed first).  On error returns VG_ERR_PARSE (or
 * VG_ERR_IO) with "file:line: reason" in err, and *cfg holds nothing that
 * needs freeing.  On success free it with agent_config_free.
 */
int agent_config_load(struct agent_config *cfg, const char *path, char *err,
		      size_t errlen);
/* As agent_config_load on text in memory; name stands for the file. */
int agent_config_parse(struct agent_config *cfg, const char *text,
		       const char *name, char *err, size_t errlen);
void agent_config_free(struct agent_config *cfg);

/* a and b are on one bus: the same TCP endpoint or serial line. */
bool agent_device_same_bus(const struct agent_device *a,
			   const struct agent_device *b);

/* Registers one value of a unit spans, in the order the poll reads them. */
struct agent_reg_ref {
	int dev;     /* device index */
	int reg;     /* enum agent_reg */
	int address;
	int end;     /* one past its last register */
	int unit;    /* unit index: the last key, so the order is total */
};

/* qsort comparison of struct agent_reg_ref: dev, reg, address, end, unit. */
int agent_reg_ref_cmp(const void *a, const void *b);

/* Index of a unit by id, or VG_ERR_NOTFOUND. */
int agent_config_unit_find(const struct agent_config *cfg, const char *id);
/* "holding", "input", "coil", "discrete" */
const char *agent_config_reg_name(enum agent_reg r);
/* Map a raw value through a unit's table; VG_ERR_NOTFOUND when unmapped. */
int agent_config_map(const struct agent_config *c, const struct agent_unit *u,
		     uint16_t value);
/* A unit's map, or NULL when it has none. */
const struct agent_map *agent_config_unit_map(const struct agent_config *c,
					      const struct agent_unit *u);
/* How many values unit u reads (a manual one: none). */
int agent_config_nvalues(const struct agent_unit *u);
/*
 * Value k of u: a typed one, or (k = 0 of a plain unit) its register,
 * described in *tmp, which the result then points to.
 */
const struct agent_value *agent_config_value(const struct agent_config *c,
					     const struct agent_unit *u,
					     int k, struct agent_value *tmp);

#endif
