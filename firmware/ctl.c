/*
 * Control socket, both ends.  The server runs in the main thread and gives
 * each client a short receive timeout, so a stuck client can delay a
 * technician's view by at most that long and never the data path (which
 * lives in other threads).
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

int agent_ctl_listen(const char *path, int *fd)
{
	struct sockaddr_un sa;
	int s, probe;

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
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(s, 8) != 0) {
		vg_log(VG_LOG_ERR, "control socket %s: %s", path,
		       strerror(errno));
		if (s >= 0)
			close(s);
		return VG_ERR_IO;
	}
	*fd = s;
	return VG_OK;
}

void agent_ctl_close(int fd, const char *path)
{
	if (fd < 0)
		return;
	close(fd);
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

		fprintf(f, "device  %s ", dev->name);
		if (dev->transport == AGENT_TCP)
			fprintf(f, "tcp %s:%d", dev->host, dev->port);
		else
			fprintf(f, "rtu %s", dev->serial);
		/* a device whose every unit faults is not "answering",
		 * whatever the reason (refused, unmapped, timed out) */
		fprintf(f, " slave %d: %d request(s) planned per poll, %d in "
			"the last, %s\n", dev->slave, a->mb.plan.dev_nreq[d],
			a->mb.requests[d],
			a->mb.dead[d] ? "NOT ANSWERING" :
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

static bool note_ok(const char *note)
{
	for (const unsigned char *p = (const unsigned char *)note; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return strlen(note) <= VG_NOTE_MAX;
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

/* "mark UNIT STATE TECH [NOTE...]" */
static void cmd_mark(FILE *f, struct agent *a, char *args)
{
	char *save = NULL, *unit, *state, *tech, *note;
	int i, st;
	int64_t seq;

	unit = strtok_r(args, " ", &save);
	state = strtok_r(NULL, " ", &save);
	tech = strtok_r(NULL, " ", &save);
	note = strtok_r(NULL, "", &save);
	if (!unit || !state || !tech) {
		fputs("error: usage: mark UNIT STATE TECH [NOTE]\n", f);
		return;
	}
	if ((i = agent_config_unit_find(&a->cfg, unit)) < 0) {
		fprintf(f, "error: unknown unit '%s'\n", unit);
		return;
	}
	st = vg_state_parse(state, strlen(state));
	if (st < 0 || st == VG_STATE_UNKNOWN) {
		fprintf(f, "error: bad state '%s' (pending, migrating, "
			"migrated or retired)\n", state);
		return;
	}
	if (!vg_ident_valid(tech, strlen(tech))) {
		fprintf(f, "error: bad technician id '%s' (1-48 characters of "
			"[A-Za-z0-9._-])\n", tech);
		return;
	}
	if (note && !note_ok(note)) {
		fprintf(f, "error: note must be at most %d characters of "
			"printable text\n", VG_NOTE_MAX);
		return;
	}
	if (!a->cfg.units[i].manual) {
		fprintf(f, "error: unit '%s' is read over Modbus; only units "
			"with source = manual can be marked\n", unit);
		return;
	}
	if (agent_outbox_mark(&a->ob, i, st, tech, note, &seq) != VG_OK) {
		fputs("error: the mark could not be recorded\n", f);
		return;
	}
	vg_log(VG_LOG_INFO, "unit %s marked %s by %s (seq %lld)", unit, state,
	       tech, (long long)seq);
	fprintf(f, "ok\nunit %s marked %s by %s (seq %lld)", unit, state,
		tech, (long long)seq);
	mark_outlook(f, a);
}

static bool read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len + 1 < size) {
		ssize_t n = read(fd, buf + len, size - 1 - len);

		if (n <= 0)
			return false;
		len += (size_t)n;
		buf[len] = '\0';
		if (strchr(buf, '\n')) {
			*strchr(buf, '\n') = '\0';
			return true;
		}
	}
	return false;
}

void agent_ctl_serve(int fd, struct agent *a)
{
	struct timeval tv = { 2, 0 };
	char line[AGENT_CTL_LINE_MAX];
	FILE *f;
	int c = accept(fd, NULL, NULL);

	if (c < 0)
		return;
	fcntl(c, F_SETFD, FD_CLOEXEC);
	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	f = fdopen(c, "w");
	if (!f) {
		close(c);
		return;
	}
	if (!read_line(c, line, sizeof(line)))
		fputs("error: request too long or incomplete\n", f);
	else if (strcmp(line, "status") == 0)
		cmd_status(f, a);
	else if (strncmp(line, "mark ", 5) == 0)
		cmd_mark(f, a, line + 5);
	else
		fprintf(f, "error: unknown request '%.40s'\n", line);
	fclose(f);
}

int agent_ctl_request(const char *path, const char *request)
{
	char buf[4096];
	bool first = true, ok = false;
	FILE *in;
	int fd = connect_to(path);

	if (fd < 0) {
		fprintf(stderr, "vigie-agent: the agent is not running (no "
			"control socket at %s: %s)\n", path, strerror(errno));
		return 2;
	}
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
