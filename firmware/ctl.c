/*
 * Control socket, both ends.  The server is a small non-blocking state
 * machine per client (reading the request, then sending the answer built
 * in memory), driven by the main thread's poll(): a client that trickles
 * its request or never reads its answer costs a slot until its deadline,
 * never a wait, so the watchdog, signals and other clients carry on (the
 * data path lives in other threads anyway).  One thread keeps "status"
 * and "mark" free of new locking against reloads.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mosquitto.h>

#include "agent.h"
#include "status.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/region.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return VG_ERR_RANGE;
	vg_strlcpy(sa->sun_path, path, sizeof(sa->sun_path));
	return VG_OK;
}

/* A connected socket to the agent at path, or VG_ERR_IO (errno says). */
static int connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (make_addr(path, &sa) != VG_OK) {
		errno = ENAMETOOLONG;
		return VG_ERR_IO;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return VG_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return VG_ERR_IO;
	}
	return fd;
}

static void client_reset(struct agent_ctl_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

int agent_ctl_listen(struct agent_ctl *ctl, const char *path)
{
	struct sockaddr_un sa;
	int s, probe;

	memset(ctl, 0, sizeof(*ctl));
	ctl->fd = -1;
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++)
		ctl->c[k].fd = -1;
	vg_ratelimit_init(&ctl->rl, 60000, 1);
	if (make_addr(path, &sa) != VG_OK) {
		vg_log(VG_LOG_ERR, "control socket path too long: %s", path);
		return VG_ERR_RANGE;
	}
	probe = connect_to(path);
	if (probe >= 0) {
		close(probe);
		vg_log(VG_LOG_ERR, "%s: another agent is answering there",
		       path);
		return VG_ERR_IO;
	}
	unlink(path); /* stale, from a crash */
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(s, 8) != 0) {
		vg_log(VG_LOG_ERR, "control socket %s: %s", path,
		       strerror(errno));
		if (s >= 0)
			close(s);
		return VG_ERR_IO;
	}
	ctl->fd = s;
	return VG_OK;
}

void agent_ctl_close(struct agent_ctl *ctl, const char *path)
{
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++)
		client_reset(&ctl->c[k]);
	if (ctl->fd < 0)
		return;
	close(ctl->fd);
	ctl->fd = -1;
	unlink(path);
}

/* Printable, one line, UTF-8, short enough to be published whole; else
 * says why to f. */
static bool note_refused(FILE *f, const char *note)
{
	for (const unsigned char *p = (const unsigned char *)note; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputs("error: the note must be one line of printable "
			      "text", f);
			return true;
		}
	}
	if (strlen(note) > VG_NOTE_MAX) {
		fprintf(f, "error: the note is longer than %d bytes",
			VG_NOTE_MAX);
		return true;
	}
	if (!vg_utf8_valid(note, strlen(note))) {
		fputs("error: the note is not valid UTF-8 (check the "
		      "terminal's character set)", f);
		return true;
	}
	return false;
}

/*
 * Whether "mark" may go ahead: the unit's index (and its state in *st),
 * or VG_ERR_INVAL with the reason written to f.  Every check runs before
 * the store is touched: a refused mark leaves no trace.
 */
static int mark_refused(FILE *f, struct agent *a, const char *unit,
			const char *state, const char *tech, const char *note,
			int *st)
{
	int i;

	if ((i = agent_config_unit_find(&a->cfg, unit)) < 0) {
		fprintf(f, "error: unknown unit '%s'", unit);
		return VG_ERR_INVAL;
	}
	*st = vg_state_parse(state, strlen(state));
	if (*st < 0 || *st == VG_STATE_UNKNOWN) {
		fprintf(f, "error: bad state '%s' (pending, migrating, "
			"migrated or retired)", state);
		return VG_ERR_INVAL;
	}
	if (!vg_ident_valid(tech, strlen(tech))) {
		fprintf(f, "error: bad technician id '%s' (1-48 characters of "
			"[A-Za-z0-9._-])", tech);
		return VG_ERR_INVAL;
	}
	if (note && note_refused(f, note))
		return VG_ERR_INVAL;
	if (!a->cfg.units[i].manual) {
		fprintf(f, "error: unit '%s' is read over Modbus; only units "
			"with source = manual can be marked", unit);
		return VG_ERR_INVAL;
	}
	return i;
}

/*
 * What happens to a mark next.  Never "published": the broker may refuse
 * it, and only a receipt says the NOC has it.
 */
static void mark_outlook(FILE *f, struct agent *a)
{
	struct agent_mqtt_state st;
	char why[64];

	agent_mqtt_state(&a->mq, &st);
	if (st.refused_rc && agent_outbox_refused_count(&a->ob) > 0) {
		agent_mqtt_reason(st.refused_rc, why, sizeof(why));
		fprintf(f, "; but the broker refuses this agent's publishes "
			"(%s): it stays in the outbox until [broker] username "
			"and password are fixed\n", why);
	} else if (st.connected) {
		fputs("; it is on its way to the broker (status or mark "
		      "--wait tells when the NOC has it)\n", f);
	} else {
		fputs("; the broker is unreachable: it stays in the outbox "
		      "and goes out when the link is back\n", f);
	}
}

static void mark_recorded(FILE *f, struct agent *a, int i, const char *state,
			  const char *tech, int64_t seq)
{
	struct vg_unit_status st;
	uint8_t flags = 0;
	const char *unit = a->cfg.units[i].id;

	vg_log(VG_LOG_INFO, "unit %s marked %s by %s (seq %lld)", unit, state,
	       tech, (long long)seq);
	fprintf(f, "ok\nunit %s marked %s by %s (seq %lld)", unit, state,
		tech, (long long)seq);
	mark_outlook(f, a);
	agent_outbox_status(&a->ob, i, &st, &flags);
	if ((flags & REC_DIRTY) || !a->ob.durable)
		fputs("warning: the disk refuses writes: this mark is held in "
		      "memory only until it takes it again (a restart before "
		      "then loses it); see `vigie-agent status`\n", f);
}

/* "mark UNIT STATE TECH [NOTE...]" */
static void cmd_mark(FILE *f, struct agent *a, char *args)
{
	char *save = NULL, *unit, *state, *tech, *note;
	int i, st, rc = VG_OK;
	int64_t seq;

	unit = strtok_r(args, " ", &save);
	state = strtok_r(NULL, " ", &save);
	tech = strtok_r(NULL, " ", &save);
	note = strtok_r(NULL, "", &save);
	if (!unit || !state || !tech) {
		fputs("error: usage: mark UNIT STATE TECH [NOTE]\n", f);
		return;
	}
	i = mark_refused(f, a, unit, state, tech, note, &st);
	if (i >= 0 &&
	    (rc = agent_outbox_mark(&a->ob, i, st, tech, note, &seq)) != VG_OK)
		fprintf(f, "error: the mark could not be recorded (%s)",
			vg_strerror(rc));
	if (i < 0 || rc != VG_OK) {
		fputs("; nothing was changed\n", f);
		return;
	}
	mark_recorded(f, a, i, state, tech, seq);
}

void agent_ctl_pollfds(const struct agent_ctl *ctl, struct pollfd *p)
{
	p[0] = (struct pollfd){ ctl->fd, POLLIN, 0 };
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++) {
		const struct agent_ctl_client *cl = &ctl->c[k];

		p[k + 1] = (struct pollfd){ cl->fd, cl->out ? POLLOUT : POLLIN,
					    0 };
	}
}

int agent_ctl_timeout(const struct agent_ctl *ctl, int max_ms)
{
	int64_t now = vg_mono_ms(), wait = max_ms;

	for (int k = 0; k < AGENT_CTL_CLIENTS; k++) {
		if (ctl->c[k].fd >= 0 && ctl->c[k].deadline - now < wait)
			wait = ctl->c[k].deadline - now;
	}
	return wait < 0 ? 0 : (int)wait;
}

/* The answer to a complete request line, in memory (NULL: out of it). */
static void answer(struct agent_ctl_client *cl, struct agent *a)
{
	FILE *f = open_memstream(&cl->out, &cl->outlen);

	if (!f)
		return;
	if (strcmp(cl->line, "status") == 0)
		agent_status_answer(f, a, "");
	else if (strncmp(cl->line, "status ", 7) == 0)
		agent_status_answer(f, a, cl->line + 7);
	else if (strncmp(cl->line, "mark ", 5) == 0)
		cmd_mark(f, a, cl->line + 5);
	else
		fprintf(f, "error: unknown request '%.40s'\n", cl->line);
	if (fclose(f) != 0) {
		free(cl->out);
		cl->out = NULL;
	}
}

static void refuse(struct agent_ctl_client *cl, const char *why)
{
	FILE *f = open_memstream(&cl->out, &cl->outlen);

	if (f) {
		fprintf(f, "error: %s\n", why);
		fclose(f);
	}
}

/* Send what the socket takes now; false when the client is done. */
static bool send_some(struct agent_ctl_client *cl)
{
	ssize_t n;

	if (!cl->out)
		return false;
	n = send(cl->fd, cl->out + cl->sent, cl->outlen - cl->sent,
		 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	cl->sent += (size_t)n;
	return cl->sent < cl->outlen;
}

/* Read what has arrived; answer once the line is whole.  False: done. */
static bool read_some(struct agent_ctl_client *cl, struct agent *a)
{
	char *nl;
	ssize_t n = recv(cl->fd, cl->line + cl->len,
			 sizeof(cl->line) - 1 - cl->len, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
	cl->len += (size_t)n;
	cl->line[cl->len] = '\0';
	nl = memchr(cl->line, '\n', cl->len);
	if (nl) {
		*nl = '\0';
		answer(cl, a);
	} else if (n == 0) {
		refuse(cl, "incomplete request (no end of line)");
	} else if (cl->len + 1 >= sizeof(cl->line)) {
		refuse(cl, "request too long");
	} else {
		return true; /* more to come */
	}
	return send_some(cl);
}

static void accept_one(struct agent_ctl *ctl, int fd)
{
	struct agent_ctl_client *slot = &ctl->c[0];

	/* a free slot, else the oldest client: a crowd of slow clients
	 * cannot lock the technician out, only churn among themselves */
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++) {
		struct agent_ctl_client *cl = &ctl->c[k];

		if (cl->fd < 0 || (slot->fd >= 0 &&
				   cl->deadline < slot->deadline))
			slot = cl;
	}
	if (slot->fd >= 0)
		vg_log(VG_LOG_DEBUG, "control socket: %d clients already; "
		       "dropping the oldest", AGENT_CTL_CLIENTS);
	client_reset(slot);
	slot->fd = fd;
	slot->deadline = vg_mono_ms() + AGENT_CTL_DEADLINE_MS;
}

static void accept_all(struct agent_ctl *ctl)
{
	/* bounded: one round of slots per poll, the rest wait in the backlog */
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++) {
		int fd = accept(ctl->fd, NULL, NULL);

		if (fd < 0)
			return;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
			close(fd);
			continue;
		}
		accept_one(ctl, fd);
	}
}

static void cut_off(struct agent_ctl *ctl, struct agent_ctl_client *cl)
{
	uint32_t dropped = 0;

	if (!cl->out) {
		/* unread bytes would turn our close into a reset that eats
		 * the reason: drop them (bounded, the socket is non-blocking) */
		for (int k = 0; k < 4 && recv(cl->fd, cl->line, sizeof(cl->line),
					      MSG_DONTWAIT) > 0; k++)
			;
		send(cl->fd, "error: request not complete in time\n", 36,
		     MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	if (vg_ratelimit_allow(&ctl->rl, vg_mono_ms(), &dropped))
		vg_log(VG_LOG_WARN, "control socket: a client did not %s "
		       "within %d ms; disconnected it (%u more not logged)",
		       cl->out ? "take its answer" : "send its request",
		       AGENT_CTL_DEADLINE_MS, dropped);
	client_reset(cl);
}

void agent_ctl_serve(struct agent_ctl *ctl, const struct pollfd *p,
		     struct agent *a)
{
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++) {
		struct agent_ctl_client *cl = &ctl->c[k];
		short ev = p[k + 1].revents;
		bool more = true;

		if (cl->fd < 0 || p[k + 1].fd != cl->fd)
			continue;
		if (ev & (POLLIN | POLLHUP | POLLERR))
			more = cl->out ? send_some(cl) : read_some(cl, a);
		else if (ev & POLLOUT)
			more = send_some(cl);
		if (!more)
			client_reset(cl);
		else if (vg_mono_ms() >= cl->deadline)
			cut_off(ctl, cl);
	}
	if (ctl->fd >= 0 && (p[0].revents & POLLIN))
		accept_all(ctl);
}

int agent_ctl_request(const char *path, const char *request)
{
	struct timeval tv = { 30, 0 };
	char buf[4096];
	bool first = true, ok = false;
	FILE *in;
	int fd = connect_to(path);

	if (fd < 0) {
		fprintf(stderr, "vigie-agent: the agent is not running (no "
			"control socket at %s: %s)\n", path, strerror(errno));
		return 2;
	}
	/* a wedged agent must not hang the technician's terminal for ever */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0) {
		fprintf(stderr, "vigie-agent: %s: %s\n", path, strerror(errno));
		close(fd);
		return 2;
	}
	shutdown(fd, SHUT_WR);
	in = fdopen(fd, "r");
	while (in && fgets(buf, sizeof(buf), in)) {
		if (first) {
			first = false;
			ok = strcmp(buf, "ok\n") == 0;
			if (ok)
				continue;
			fprintf(stderr, "vigie-agent: %s", buf);
			continue;
		}
		fputs(buf, ok ? stdout : stderr);
	}
	if (in)
		fclose(in);
	else
		close(fd);
	if (first)
		fprintf(stderr, "vigie-agent: no answer from the agent\n");
	return ok ? 0 : 1;
}

/* Send request; the agent's whole answer, read into mem. */
static ssize_t exchange(int fd, const char *request, FILE *mem)
{
	char buf[4096];
	ssize_t n;

	if (write(fd, request, strlen(request)) < 0 || write(fd, "\n", 1) < 0)
		return VG_ERR_IO;
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, mem);
	return n;
}

/* The agent's whole answer to request in *out (malloc'd); exit status. */
static int fetch(const char *path, const char *request, char **out)
{
	size_t len = 0;
	FILE *mem;
	ssize_t n;
	int fd = connect_to(path);

	if (fd < 0) {
		fprintf(stderr, "vigie-agent: the agent is not running (no "
			"control socket at %s: %s)\n", path, strerror(errno));
		return 2;
	}
	mem = open_memstream(out, &len);
	if (!mem) {
		close(fd);
		return 2;
	}
	n = exchange(fd, request, mem);
	close(fd);
	fclose(mem);
	if (n < 0 || len == 0) {
		fprintf(stderr, "vigie-agent: no answer from the agent\n");
		return 2;
	}
	return 0;
}

/*
 * The NOC's receipt seq in a "status json" answer; VG_ERR_NOTFOUND when
 * none.  The
 * document is the agent's own, fixed in shape: a key search is enough.
 */
static int64_t receipt_seq(const char *status)
{
	const char *noc = strstr(status, "\"noc\":{");
	const char *seq = noc ? strstr(noc, "\"seq\":") : NULL;

	if (!seq || seq[6] < '0' || seq[6] > '9')
		return VG_ERR_NOTFOUND;
	return strtoll(seq + 6, NULL, 10);
}

/* Where unit's record is, in words, from a "status json" answer. */
static void unit_delivery(const char *status, const char *unit, char *buf,
			  size_t size)
{
	static const char *const code[] = { "noc", "broker", "waiting",
					     "refused" };
	static const char *const text[] = {
		"received by the NOC", "at the broker, awaiting the NOC",
		"awaiting the broker", "refused by the broker"
	};
	char key[VG_IDENT_MAX + 16];
	const char *u, *d, *why;

	vg_strlcpy(buf, "unknown", size);
	snprintf(key, sizeof(key), "{\"unit\":\"%s\",", unit);
	u = strstr(status, key);
	d = u ? strstr(u, "\"delivery\":\"") : NULL;
	if (!d)
		return;
	d += 12;
	for (size_t k = 0; k < sizeof(code) / sizeof(code[0]); k++) {
		if (strncmp(d, code[k], strlen(code[k])) == 0 &&
		    d[strlen(code[k])] == '"')
			vg_strlcpy(buf, text[k], size);
	}
	/* the reason follows: "refusal":"not authorized" */
	why = strstr(d, "\"refusal\":\"");
	if (why && strncmp(d, "refused\"", 8) == 0) {
		why += 11;
		snprintf(buf, size, "refused by the broker: %.*s",
			 (int)strcspn(why, "\""), why);
	}
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Poll status until the receipt covers seq; 0 or an exit status. */
static int wait_receipt(const char *path, const char *unit, int64_t seq,
			int seconds)
{
	int64_t deadline = vg_mono_ms() + (int64_t)seconds * 1000;
	char where[128];
	char *status = NULL;
	int rc;

	for (;;) {
		free(status);
		status = NULL;
		if ((rc = fetch(path, "status json", &status)) != 0)
			return rc;
		if (receipt_seq(status) >= seq) {
			printf("unit %s: received by the NOC (seq %lld)\n",
			       unit, (long long)seq);
			free(status);
			return 0;
		}
		if (vg_mono_ms() >= deadline)
			break;
		pause_ms(500);
	}
	unit_delivery(status, unit, where, sizeof(where));
	free(status);
	fprintf(stderr, "vigie-agent: not yet confirmed: the NOC has not "
		"acknowledged the mark of unit %s (seq %lld) within %d s; the "
		"agent keeps it and goes on trying (now: %s)\n", unit,
		(long long)seq, seconds, where);
	return AGENT_CTL_UNCONFIRMED;
}

int agent_ctl_mark_wait(const char *path, const char *request,
			const char *unit, int seconds)
{
	char *answer = NULL;
	const char *seq;
	int rc = fetch(path, request, &answer);

	if (rc != 0)
		return rc;
	if (strncmp(answer, "ok\n", 3) != 0) {
		fprintf(stderr, "vigie-agent: %s", answer);
		free(answer);
		return 1;
	}
	fputs(answer + 3, stdout);
	fflush(stdout);
	seq = strstr(answer, "(seq ");
	rc = seq ? wait_receipt(path, unit, strtoll(seq + 5, NULL, 10),
				seconds) : 1;
	free(answer);
	return rc;
}
