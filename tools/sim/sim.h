/*
 * vigie-sim: a Modbus site simulator on libmodbus's server API, for tests
 * and demos.  A site is a set of slaves (one register map each) behind one
 * transport (TCP or RTU over a pseudo-terminal), driven by commands on
 * stdin.  Modules: slaves.c (the site's state), cmd.c (the command
 * language), tcp.c and rtu.c (transports), main.c (the event loop).
 * Later dynamics (migrations over time, ground truth) plug into slaves.c
 * and cmd.c without touching the transports.
 */
#ifndef VIGIE_SIM_H
#define VIGIE_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/select.h>

#include <modbus.h>

#define SIM_SLAVE_MAX 247

struct sim_slave {
	int id;
	bool alive;               /* false: never answers (a dead slave) */
	int busy;                 /* answer "busy" to this many requests */
	unsigned long requests;   /* received, answered or not */
	modbus_mapping_t *map;    /* owned */
};

struct sim {
	int size;                 /* registers and bits per table */
	struct sim_slave *slave[SIM_SLAVE_MAX + 1]; /* by id; owned */
	FILE *out;                /* where answers and "ready" go */
};

/* Slaves from a list such as "1-3,7"; returns 0 or -1. */
int sim_slaves_create(struct sim *s, const char *spec, int size);
void sim_slaves_free(struct sim *s);
struct sim_slave *sim_slave_get(struct sim *s, int id);
/*
 * Answer one request already received on ctx (its unit id picks the
 * slave); silence for unknown or dead slaves.
 */
void sim_slaves_answer(struct sim *s, modbus_t *ctx, const uint8_t *req,
		       int len);

/* Execute one command line; false when it asks to quit. */
bool sim_cmd_exec(struct sim *s, char *line);

/* A transport: adds its fds to a select set, serves the ready ones. */
struct sim_transport {
	int (*fill)(void *t, fd_set *rd, int maxfd);
	void (*serve)(void *t, fd_set *rd, struct sim *s);
	void *t;
};

int sim_tcp_open(struct sim_transport *tr, const char *addr, int port,
		 FILE *out);
int sim_rtu_open(struct sim_transport *tr, FILE *out);

#endif
