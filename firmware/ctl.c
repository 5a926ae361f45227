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

static int connect_to(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (make_addr(path, &sa) != VG_OK) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
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

static void print_time(FILE *f, int64_t t)
{
	char buf[VG_TIME_LEN];

	if (vg_time_format(t, buf, sizeof(buf)) < 0)
		vg_strlcpy(buf, "?", sizeof(buf));
	fputs(buf, f);
}

static void status_link(FILE *f, struct agent *a,
			const struct agent_mqtt_state *st)
{
	int unacked, dirty;
	bool degraded;

	fprintf(f, "broker  %s:%d%s: %s since ", a->cfg.host, a->cfg.port,
		a->cfg.tls ? " (TLS)" : "",
		st->connected ? "connected" : "DISCONNECTED");
	print_time(f, st->since);
	if (!st->connected)
		fprintf(f, ", last error: %s", st->error);
	fprintf(f, " (%u connects; MQTT %s, session %lld)\n", st->connects,
		st->protocol == MQTT_PROTOCOL_V311 ? "3.1.1" : "5",
		(long long)st->session);
	agent_outbox_counts(&a->ob, &unacked, &dirty, &degraded);
	fprintf(f, "outbox  %d record(s) awaiting acknowledgement, %d in "
		"flight, %d removal(s) pending\n", unacked, st->inflight,
		agent_outbox_removals(&a->ob));
	fprintf(f, "storage %s/units: %s", a->cfg.data_dir,
		degraded ? "DEGRADED (disk refuses writes)" : "ok");
	if (dirty)
		fprintf(f, ", %d record(s) held in memory only", dirty);
	fputc('\n', f);
}

/* Publishes refused since start, and the receipt line mark --wait reads. */
static void status_trust(FILE *f, const struct agent_mqtt_state *st)
{
	char why[64];

	if (st->refused) {
		agent_mqtt_reason(st->refused_rc, why, sizeof(why));
		fprintf(f, "refused %lld publish(es) refused by the broker: %s "
			"(last at ", (long long)st->refused, why);
		print_time(f, st->refused_at);
		fputs("); check [broker] username: the broker lets a site "
		      "write only its own topics\n", f);
	}
	if (!st->receipt) {
		fputs("noc     no receipt from the NOC yet\n", f);
		return;
	}
	fprintf(f, "noc     received up to seq=%lld (NOC time ",
		(long long)st->receipt_seq);
	print_time(f, st->receipt_ts);
	fputs(")\n", f);
}

static void status_devices(FILE *f, struct agent *a)
{
	for (int d = 0; d < a->cfg.ndevices; d++) {
		const struct agent_device *dev = &a->cfg.devices[d];
		int requests;
		bool dead;

		agent_modbus_device_stats(&a->mb, d, &requests, &dead);
		fprintf(f, "device  %s ", dev->name);
		if (dev->transport == AGENT_TCP)
			fprintf(f, "tcp %s:%d", dev->host, dev->port);
		else
			fprintf(f, "rtu %s", dev->serial);
		/* a device whose every unit faults is not "answering",
		 * whatever the reason (refused, unmapped, timed out) */
		fprintf(f, " slave %d: %d request(s) planned per poll, %d in "
			"the last, %s\n", dev->slave, a->mb.plan.dev_nreq[d],
			requests, dead ? "NOT ANSWERING" :
			agent_outbox_device_failing(&a->ob, d) ?
			"FAILING (every unit has a read fault)" : "answering");
	}
}

enum delivery { DL_NOC, DL_BROKER, DL_WAITING, DL_REFUSED, DL_COUNT };

/* Where a unit's current record is: NOC, broker, outbox or refused. */
static enum delivery delivery_of(int64_t seq, uint8_t flags, int refusal,
				 const struct agent_mqtt_state *st)
{
	if (flags & REC_UNACKED)
		return refusal ? DL_REFUSED : DL_WAITING;
	if (st->receipt && seq <= st->receipt_seq)
		return DL_NOC;
	return DL_BROKER;
}

static void delivery_text(enum delivery d, int rc, char *buf, size_t size)
{
	static const char *const text[] = {
		"received by the NOC", "at the broker, awaiting the NOC",
		"awaiting the broker"
	};
	char why[64];

	if (d != DL_REFUSED) {
		vg_strlcpy(buf, text[d], size);
		return;
	}
	agent_mqtt_reason(rc, why, sizeof(why));
	snprintf(buf, size, "refused by the broker: %s", why);
}

static void status_unit(FILE *f, struct agent *a, int i,
			const struct agent_mqtt_state *st, int *count)
{
	struct vg_unit_status us;
	char where[96];
	enum delivery d;
	uint8_t flags;
	int refusal;

	if (agent_outbox_status(&a->ob, i, &us, &flags) != VG_OK)
		return;
	refusal = agent_outbox_refusal(&a->ob, i);
	d = delivery_of(us.seq, flags, refusal, st);
	count[d]++;
	fprintf(f, "%-20s %-6s %-10s %-7s ", us.unit,
		vg_program_name(us.program), vg_state_name(us.state),
		us.source ? vg_source_name(us.source) : "-");
	print_time(f, us.since);
	fprintf(f, " seq=%lld", (long long)us.seq);
	if (flags & REC_UNACKED)
		fputs(" unacked", f);
	if (us.fault[0])
		fprintf(f, " fault=\"%s\"", us.fault);
	if (us.tech[0])
		fprintf(f, " tech=%s", us.tech);
	delivery_text(d, refusal, where, sizeof(where));
	fprintf(f, "; %s\n", where);
}

static void status_units(FILE *f, struct agent *a,
			 const struct agent_mqtt_state *st)
{
	int count[DL_COUNT] = { 0 };
	char why[64] = "";

	fprintf(f, "%-20s %-6s %-10s %-7s %-21s %s\n", "UNIT", "PROG",
		"STATE", "SOURCE", "SINCE", "DETAIL; DELIVERY");
	for (int i = 0; i < a->cfg.nunits; i++)
		status_unit(f, a, i, st, count);
	if (count[DL_REFUSED])
		agent_mqtt_reason(st->refused_rc, why, sizeof(why));
	fprintf(f, "delivery %d received by the NOC, %d at the broker "
		"awaiting the NOC, %d awaiting the broker, %d refused by the "
		"broker%s%s\n", count[DL_NOC], count[DL_BROKER],
		count[DL_WAITING], count[DL_REFUSED], why[0] ? ": " : "", why);
}

static void cmd_status(FILE *f, struct agent *a)
{
	struct agent_mqtt_state st;

	agent_mqtt_state(&a->mq, &st);
	fprintf(f, "ok\nsite    %s, region %s %s, vigie-agent %s (%s), "
		"config %s\n", a->cfg.site, vg_region_code(a->cfg.region),
		vg_region_name(a->cfg.region), VG_VERSION, VG_BOARD,
		a->cfg.hash);
	status_link(f, a, &st);
	status_trust(f, &st);
	status_devices(f, a);
	status_units(f, a, &st);
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
 * Why "mark" must be refused, written to f, or -1 if it may go ahead; on
 * success *unit is the unit's index and *st the state.  Every check runs
 * before the store is touched: a refused mark leaves no trace.
 */
static int mark_refused(FILE *f, struct agent *a, const char *unit,
			const char *state, const char *tech, const char *note,
			int *st)
{
	int i;

	if ((i = agent_config_unit_find(&a->cfg, unit)) < 0) {
		fprintf(f, "error: unknown unit '%s'", unit);
		return -1;
	}
	*st = vg_state_parse(state, strlen(state));
	if (*st < 0 || *st == VG_STATE_UNKNOWN) {
		fprintf(f, "error: bad state '%s' (pending, migrating, "
			"migrated or retired)", state);
		return -1;
	}
	if (!vg_ident_valid(tech, strlen(tech))) {
		fprintf(f, "error: bad technician id '%s' (1-48 characters of "
			"[A-Za-z0-9._-])", tech);
		return -1;
	}
	if (note && note_refused(f, note))
		return -1;
	if (!a->cfg.units[i].manual) {
		fprintf(f, "error: unit '%s' is read over Modbus; only units "
			"with source = manual can be marked", unit);
		return -1;
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
		cmd_status(f, a);
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
		return -1;
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

/* "seq=N" on the status line starting with "noc "; -1 when none. */
static int64_t receipt_seq(const char *status)
{
	const char *line = strstr(status, "\nnoc ");
	const char *eol, *seq;

	if (!line)
		return -1;
	eol = strchr(line + 1, '\n');
	seq = strstr(line, "seq=");
	if (!seq || (eol && seq > eol))
		return -1;
	return strtoll(seq + 4, NULL, 10);
}

/* The delivery part ("; ...") of unit's line in a status answer. */
static void unit_delivery(const char *status, const char *unit, char *buf,
			  size_t size)
{
	size_t n = strlen(unit);

	vg_strlcpy(buf, "unknown", size);
	for (const char *l = status; l; l = strchr(l, '\n')) {
		const char *eol, *semi;
		size_t len;

		l += *l == '\n';
		len = strcspn(l, " \n");
		if (len != n || strncmp(l, unit, len) != 0)
			continue;
		eol = strchr(l, '\n');
		semi = strstr(l, "; ");
		if (semi && (!eol || semi < eol)) {
			n = eol ? (size_t)(eol - semi - 2) : strlen(semi + 2);
			snprintf(buf, size, "%.*s", (int)n, semi + 2);
		}
		return;
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
		if ((rc = fetch(path, "status", &status)) != 0)
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
