/*
 * Fixtures the agent's unit tests share: a temporary data directory with
 * a small configuration, and a pretend broker that takes every queued
 * record of an outbox.
 */
#ifndef AGENT_KIT_H
#define AGENT_KIT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "outbox.h"

/* A test's fixture: its data directory and its configuration. */
struct agent_kit {
	char dir[64];
	struct agent_config cfg;
};

/*
 * A new directory /tmp/vg-TAG-XXXXXX and a configuration: site "site-1"
 * in region 03 with n units U0..U(n-1), renir, and no device (the units'
 * device index is 0).  VG_OK, or VG_ERR_IO / VG_ERR_NOMEM.
 */
int agent_kit_setup(struct agent_kit *k, const char *tag, int n);
/*
 * cmocka teardown of what the last agent_kit_setup made: free the
 * config's units and remove the directory; 0 or -1.
 */
int agent_kit_teardown(void **state);
/*
 * Hand every queued record of ob to the pretend broker, message ids from
 * *mid + 1 on, and acknowledge each when ack: how many were sent.
 */
int agent_kit_send_all(struct agent_outbox *ob, int *mid, bool ack);
/* Records of ob not yet acknowledged by the broker. */
int agent_kit_unacked(struct agent_outbox *ob);

#endif
