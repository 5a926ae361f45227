/*
 * The answer to the control socket's "status [VIEW] [LANG]" request.
 *
 * VIEW is what a person asked for: "summary" (the default: a few lines
 * read in five seconds), "pending" (the summary, then the units whose work
 * is still to do), "faults" (then the units with a read fault or refused
 * by the broker), "all" (then the link, store and device details and every
 * unit), or "json" (one stable JSON document with everything, for scripts
 * and tests; it ignores LANG).  LANG is "fr" (the default) or "en": the
 * client passes its own locale's, since people read the answer, not the
 * agent.  Times are the agent host's local time.
 */
#ifndef AGENT_STATUS_H
#define AGENT_STATUS_H

#include <stdio.h>

#include "view.h"

struct agent;

/* How a device answers, for the status views and agent --once. */
enum agent_dev_health {
	AGENT_DEV_ANSWERING,
	AGENT_DEV_FAILING,       /* it answers, but every unit has a fault */
	AGENT_DEV_NOT_ANSWERING
};

enum agent_dev_health agent_device_health(struct agent *a, int d);
/* "answering", "failing" or "not_answering": the JSON forms. */
const char *agent_device_code(enum agent_dev_health h);
/* The same for a person, in language l. */
const char *agent_device_words(enum view_lang l, enum agent_dev_health h);

/* "ok\n" and the answer to f, or "error: ...\n"; args is after "status". */
void agent_status_answer(FILE *f, struct agent *a, const char *args);

#endif
