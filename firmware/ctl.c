/*
 * Control socket, both ends.  The server runs in the main thread and gives
 * each client a short receive timeout, so a stuck client can delay a
 * technician's view by at most that long and never the data path (which
 * lives in other threads).
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

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

static void status_link(FILE *f, struct agent *a)
{
	struct agent_mqtt_state st;
	int unacked, dirty;
	bool degraded;

	agent_mqtt_state(&a->mq, &st);
	fprintf(f, "broker  %s:%d%s: %s since ", a->cfg.host, a->cfg.port,
		a->cfg.tls ? " (TLS)" : "",
		st.connected ? "connected" : "DISCONNECTED");
	print_time(f, st.since);
	if (!st.connected)
		fprintf(f, ", last error: %s", st.error);
	fprintf(f, " (%u connects)\n", st.connects);
	agent_outbox_counts(&a->ob, &unacked, &dirty, &degraded);
	fprintf(f, "outbox  %d record(s) awaiting acknowledgement, %d in "
		"flight, %d removal(s) pending\n", unacked, st.inflight,
		agent_outbox_removals(&a->ob));
	fprintf(f, "storage %s/units: %s", a->cfg.data_dir,
		degraded ? "DEGRADED (disk refuses writes)" : "ok");
	if (dirty)
		fprintf(f, ", %d record(s) held in memory only", dirty);
	fputc('\n', f);
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
		fprintf(f, " slave %d: %d request(s) planned per poll, %d in "
			"the last, %s\n", dev->slave, a->mb.plan.dev_nreq[d],
			a->mb.requests[d],
			a->mb.dead[d] ? "NOT ANSWERING" : "answering");
	}
}

static void status_units(FILE *f, struct agent *a)
{
	struct vg_unit_status st;
	uint8_t flags;

	fprintf(f, "%-20s %-6s %-10s %-7s %-21s %s\n", "UNIT", "PROG",
		"STATE", "SOURCE", "SINCE", "DETAIL");
	for (int i = 0; i < a->cfg.nunits; i++) {
		if (agent_outbox_status(&a->ob, i, &st, &flags) != VG_OK)
			continue;
		fprintf(f, "%-20s %-6s %-10s %-7s ", st.unit,
			vg_program_name(st.program), vg_state_name(st.state),
			st.source ? vg_source_name(st.source) : "-");
		print_time(f, st.since);
		fprintf(f, " seq=%lld", (long long)st.seq);
		if (flags & REC_UNACKED)
			fputs(" unacked", f);
		if (st.fault[0])
			fprintf(f, " fault=\"%s\"", st.fault);
		if (st.tech[0])
			fprintf(f, " tech=%s", st.tech);
		fputc('\n', f);
	}
}

static void cmd_status(FILE *f, struct agent *a)
{
	fprintf(f, "ok\nsite    %s, region %s %s, vigie-agent %s (%s)\n",
		a->cfg.site, vg_region_code(a->cfg.region),
		vg_region_name(a->cfg.region), VG_VERSION, VG_BOARD);
	status_link(f, a);
	status_devices(f, a);
	status_units(f, a);
}

static bool note_ok(const char *note)
{
	for (const unsigned char *p = (const unsigned char *)note; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return strlen(note) <= VG_NOTE_MAX;
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
	fprintf(f, "ok\nunit %s marked %s by %s (seq %lld); it is published "
		"as soon as the broker is reachable\n", unit, state, tech,
		(long long)seq);
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
