/*
 * The running agent: the configuration in force, the durable store, the
 * Modbus bus threads, the MQTT thread and the control socket, started,
 * reloaded (SIGHUP) and stopped together by the main thread.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include "config.h"
#include "ctl.h"
#include "modbus.h"
#include "mqtt.h"
#include "outbox.h"

struct agent {
	const char *cfg_path;      /* not owned (argv) */
	struct agent_config cfg;   /* owned */
	struct agent_outbox ob;
	struct agent_modbus mb;
	struct agent_mqtt mq;
	struct agent_ctl ctl;
	int lock_fd;
	int sig_fd;
};

/* Run until SIGTERM/SIGINT; returns the process exit status. */
int agent_run(const char *cfg_path);
/*
 * --once: poll every device one time and print the units (a table in
 * lang, a view_lang; json: the would-be messages).  explain: first, each
 * unit's values as read and the rule that decided (on stderr with json).
 * Exit status 1 when every device failed.  Touches nothing on disk.
 */
int agent_once(const char *cfg_path, bool json, bool explain, int lang);

#endif
