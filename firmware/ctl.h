/*
 * The technician's view: a UNIX stream socket (mode 0660) taking one
 * request line per connection ("status [VIEW] [LANG]", see status.h;
 * "mark UNIT STATE TECH [NOTE]")
 * and answering with "ok" or "error: reason" followed by text for a
 * person.  The same binary is the client (vigie-agent status / mark).
 *
 * The server never blocks: the listener and every client are non-blocking
 * and multiplexed in the main thread's poll(), next to the signals and the
 * systemd watchdog.  A connection gets AGENT_CTL_DEADLINE_MS from accept to
 * send its request and take the whole answer, then it is closed; at most
 * AGENT_CTL_CLIENTS are open at once, and a new one evicts the oldest.
 */
#ifndef AGENT_CTL_H
#define AGENT_CTL_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "vigie/log.h"

struct agent;

#define AGENT_CTL_LINE_MAX 512
#define AGENT_CTL_CLIENTS 8
#define AGENT_CTL_DEADLINE_MS 5000
/* pollfd entries agent_ctl_pollfds fills: the listener and each client */
#define AGENT_CTL_POLLFDS (1 + AGENT_CTL_CLIENTS)

struct agent_ctl_client {
	int fd;                        /* -1: free slot */
	int64_t deadline;              /* vg_mono_ms() when it is cut off */
	size_t len;                    /* request bytes read so far */
	char line[AGENT_CTL_LINE_MAX];
	char *out;                     /* the answer, once known; owned */
	size_t outlen;
	size_t sent;
};

struct agent_ctl {
	int fd;                        /* listener, or -1 */
	struct agent_ctl_client c[AGENT_CTL_CLIENTS];
	struct vg_ratelimit rl;        /* "client cut off" warnings */
};

/* Bind path (replacing a stale socket) and listen, non-blocking. */
int agent_ctl_listen(struct agent_ctl *ctl, const char *path);
/* Drop every client, close the listener and remove path. */
void agent_ctl_close(struct agent_ctl *ctl, const char *path);
/* Fill p[0..AGENT_CTL_POLLFDS) for poll() (unused slots get fd -1). */
void agent_ctl_pollfds(const struct agent_ctl *ctl, struct pollfd *p);
/* Milliseconds until the nearest client deadline, at most max_ms. */
int agent_ctl_timeout(const struct agent_ctl *ctl, int max_ms);
/*
 * After poll() on agent_ctl_pollfds' entries: accept, read, answer, and
 * cut off clients past their deadline.  Never waits.
 */
void agent_ctl_serve(struct agent_ctl *ctl, const struct pollfd *p,
		     struct agent *a);
/* Client: send request, print the answer; returns an exit status. */
int agent_ctl_request(const char *path, const char *request);
/*
 * Client: send a mark request, then ask for status until the NOC's receipt
 * covers the mark's seq or seconds pass.  Returns 0 when the NOC has it,
 * AGENT_CTL_UNCONFIRMED when not (yet), otherwise as agent_ctl_request.
 * The agent is only ever asked for status: its main loop never waits.
 */
#define AGENT_CTL_UNCONFIRMED 3
int agent_ctl_mark_wait(const char *path, const char *request,
			const char *unit, int seconds);

#endif
