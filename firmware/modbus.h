/*
 * Modbus polling.  Devices (slaves) that share a connection (one TCP
 * endpoint, or one RTU serial bus) form a bus; each bus has its own thread,
 * so a dead TCP gateway never delays another, and on a shared RS-485 line a
 * dead slave costs its own response timeout and nothing more.  A device's
 * requests are read first, then each of its units is decoded and decided
 * (rule.h); results go straight into the store (agent_outbox_read_ok /
 * _read_fault).
 */
#ifndef AGENT_MODBUS_H
#define AGENT_MODBUS_H

#include <pthread.h>
#include <stdbool.h>

#include "config.h"
#include "outbox.h"
#include "plan.h"

struct agent_modbus_bus;

struct agent_modbus {
	const struct agent_config *cfg;   /* not owned */
	struct agent_outbox *ob;          /* not owned */
	struct agent_modbus_plan plan;
	int nbus;
	struct agent_modbus_bus *bus;     /* owned */
	pthread_mutex_t lock;             /* guards stop and the counters */
	pthread_cond_t cond;
	bool stop;
	bool started;
	/* per device, for the status view, written by its bus thread when a
	 * poll ends, under lock: read them with agent_modbus_device_stats */
	int requests[AGENT_DEVICES_MAX];  /* in its last poll, retries too */
	bool dead[AGENT_DEVICES_MAX];     /* timed out on its last poll */
	/* --once --explain: told each unit's values as read (NULL after a
	 * read fault, then fault says why) and the state they give (-1:
	 * none), from the polling thread; NULL when nobody asks */
	void (*explain)(void *arg, int unit, const struct agent_datum *d,
			int state, const char *fault);
	void *explain_arg;
};

int agent_modbus_init(struct agent_modbus *m, const struct agent_config *cfg,
		      struct agent_outbox *ob);
/* One thread per bus, polling until agent_modbus_stop. */
int agent_modbus_start(struct agent_modbus *m);
void agent_modbus_stop(struct agent_modbus *m);
/* One poll of every device, in this thread (--once). */
void agent_modbus_poll_once(struct agent_modbus *m);
/* Device d's figures from its last complete poll, from any thread. */
void agent_modbus_device_stats(struct agent_modbus *m, int d, int *requests,
				bool *dead);
/* One of them: whether device d stopped answering, its requests. */
bool agent_modbus_dead(struct agent_modbus *m, int d);
int agent_modbus_requests(struct agent_modbus *m, int d);
void agent_modbus_free(struct agent_modbus *m);

#endif
