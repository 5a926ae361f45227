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

struct agent;

/* "ok\n" and the answer to f, or "error: ...\n"; args is after "status". */
void agent_status_answer(FILE *f, struct agent *a, const char *args);

#endif
