/*
 * The technician's view: a UNIX stream socket (mode 0660) taking one
 * request line per connection ("status", "mark UNIT STATE TECH [NOTE]")
 * and answering with "ok" or "error: reason" followed by text for a
 * person.  The same binary is the client (vigie-agent status / mark).
 */
#ifndef AGENT_CTL_H
#define AGENT_CTL_H

struct agent;

#define AGENT_CTL_LINE_MAX 512

/* Bind path (replacing a stale socket); *fd receives the listener. */
int agent_ctl_listen(const char *path, int *fd);
void agent_ctl_close(int fd, const char *path);
/* Accept one client on fd and answer its request. */
void agent_ctl_serve(int fd, struct agent *a);
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
