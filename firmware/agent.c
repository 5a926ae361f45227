/*
 * Lifecycle of the agent.  The main thread owns the signals (signalfd),
 * the control socket's clients (non-blocking, see ctl.h), the storage
 * retry timer and the systemd watchdog, so none of them waits on another;
 * the data path runs in the bus threads and the MQTT thread.  A reload
 * parses the new file first and changes nothing unless it is valid.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mosquitto.h>

#include "ctl.h"
#include "status.h"
#include "view.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/str.h"
#include "vigie/timeutil.h"
#include "vigie/topic.h"

#define TICK_MS 1000
/* heap bytes freed since the last trim past which the main loop gives
 * pages back */
#define TRIM_SLACK ((size_t)16 * 1024)

/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd;

	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path))
		return;
	vg_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   len) < 0)
		vg_log(VG_LOG_DEBUG, "sd_notify: %s", strerror(errno));
	close(fd);
}

/*
 * One agent per data directory: two would fight over the records.  The
 * lock's descriptor, VG_ERR_BUSY when another agent holds it, or
 * VG_ERR_IO when it cannot be opened.
 */
static int lock_data_dir(const struct agent_config *cfg)
{
	char path[AGENT_PATH_MAX + 16];
	int fd;

	agent_private_dir(cfg->data_dir); /* failing that, the store says */
	snprintf(path, sizeof(path), "%s/agent.lock", cfg->data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return VG_ERR_IO;
	if (fchmod(fd, 0640) != 0)
		vg_log(VG_LOG_WARN, "%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return VG_ERR_BUSY;
	}
	return fd;
}

/* Store, pollers, MQTT and control socket for a.cfg. */
static int start_all(struct agent *a)
{
	int rc = agent_outbox_open(&a->ob, &a->cfg, a->cfg.data_dir);

	if (rc == VG_ERR_IO) {
		vg_log(VG_LOG_ERR, "storage: %s unusable; running from memory "
		       "only: a restart now would lose unpublished state",
		       a->cfg.data_dir);
		rc = agent_outbox_open(&a->ob, &a->cfg, NULL);
		a->ob.degraded = true;
	}
	if (rc)
		return rc;
	if ((rc = agent_mqtt_init(&a->mq, &a->cfg, &a->ob)) != VG_OK)
		return rc;
	a->ob.notify = agent_mqtt_wake;
	a->ob.notify_arg = &a->mq;
	if ((rc = agent_modbus_init(&a->mb, &a->cfg, &a->ob)) != VG_OK)
		return rc;
	if ((rc = agent_ctl_listen(&a->ctl, a->cfg.control)) != VG_OK)
		return rc;
	if ((rc = agent_mqtt_start(&a->mq)) != VG_OK)
		return rc;
	return agent_modbus_start(&a->mb);
}

static void stop_all(struct agent *a)
{
	agent_modbus_free(&a->mb);
	agent_mqtt_free(&a->mq);
	agent_ctl_close(&a->ctl, a->cfg.control);
	agent_outbox_flush(&a->ob);
	agent_outbox_close(&a->ob);
}

/*
 * glibc's malloc tuned for a small long-running daemon, before any thread
 * or allocation (docs/BENCHMARKS.md, "Where the agent's memory goes"):
 * - one arena: by default each thread that allocates gets its own (the
 *   MQTT and bus threads), each holding freed memory of its own;
 * - fixed mmap and trim thresholds: by default, freeing the configuration
 *   file's buffer (mmap'd, up to 4 MiB) raises the mmap threshold to its
 *   size and the trim threshold to twice that, after which every large
 *   transient buffer (a status --json answer for 2,000 units) lands in
 *   the heap and the heap is never given back.  With them fixed, such
 *   buffers and the per-unit arrays get mappings of their own, returned
 *   whole on free, and the heap's free top is trimmed past 64 KiB.
 */
static void tune_malloc(void)
{
#ifdef __GLIBC__
	if (!mallopt(M_ARENA_MAX, 1) ||
	    !mallopt(M_MMAP_THRESHOLD, 64 * 1024) ||
	    !mallopt(M_TRIM_THRESHOLD, 64 * 1024))
		vg_log(VG_LOG_DEBUG, "mallopt refused a setting");
#endif
}

/*
 * Give the heap's free pages back, after start and whenever 16 KiB more
 * of it is free than after the last trim: start-up work (parse, plan,
 * the units' arrays grown by doubling, one file per unit), a birth of
 * every unit queued in libmosquitto and a technician's status --json
 * (built in a growing buffer) leave free chunks below live ones, which
 * glibc does not trim (only the heap's top): 204 KiB resident for ~60 KiB
 * in use with 2,000 units, until the next store tick when it was trimmed
 * only there.  A few page faults when a burst comes again.
 */
static void trim_heap(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

static void reload(struct agent *a)
{
	struct agent_config next;
	char err[AGENT_ERR_MAX];
	int unacked, dirty;
	bool degraded;

	if (agent_config_load(&next, a->cfg_path, err, sizeof(err))) {
		vg_log(VG_LOG_ERR, "reload refused, keeping the running "
		       "configuration: %s", err);
		return;
	}
	agent_outbox_flush(&a->ob);
	agent_outbox_counts(&a->ob, &unacked, &dirty, &degraded);
	if (dirty || strcmp(next.data_dir, a->cfg.data_dir) != 0) {
		vg_log(VG_LOG_ERR, "reload refused: %s", dirty ?
		       "records are waiting for the disk" :
		       "data_dir cannot change without a restart");
		agent_config_free(&next);
		return;
	}
	stop_all(a);
	agent_config_free(&a->cfg);
	a->cfg = next;
	vg_log_set_level(a->cfg.log_level);
	if (start_all(a) != VG_OK) {
		vg_log(VG_LOG_ERR, "reload: cannot restart; exiting");
		exit(1);
	}
	trim_heap();
	vg_log(VG_LOG_INFO, "configuration reloaded: %d devices, %d units",
	       a->cfg.ndevices, a->cfg.nunits);
}

static int open_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* before any thread exists, so every thread inherits the mask */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* a file size limit makes writes fail (EFBIG), like a full disk */
	signal(SIGXFSZ, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* Returns false when asked to stop. */
static bool handle_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->sig_fd, &si, sizeof(si)) != sizeof(si))
		return true;
	if (si.ssi_signo == SIGHUP) {
		vg_log(VG_LOG_INFO, "SIGHUP: reloading %s", a->cfg_path);
		reload(a);
		return true;
	}
	vg_log(VG_LOG_INFO, "signal %u: stopping", si.ssi_signo);
	return false;
}

static int64_t watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC");

	return usec ? atoll(usec) / 2000 : 0;
}

/*
 * At each turn of the main loop: trim when TRIM_SLACK more bytes are free
 * than at the lowest since the last trim (free chunks too small to give a
 * page back would otherwise trigger a trim at every turn).  *floor: that
 * lowest, the caller's.
 */
static void trim_heap_slack(size_t *floor)
{
#ifdef __GLIBC__
	size_t free_now = mallinfo2().fordblks;

	if (free_now < *floor)
		*floor = free_now;
	if (free_now > *floor + TRIM_SLACK) {
		trim_heap();
		*floor = mallinfo2().fordblks;
	}
#else
	(void)floor;
#endif
}

static void main_loop(struct agent *a)
{
	int64_t wd = watchdog_ms(), last_wd = 0, last_flush = vg_mono_ms();
	size_t heap_floor = 0;

	for (;;) {
		struct pollfd p[1 + AGENT_CTL_POLLFDS];
		int64_t now;

		p[0] = (struct pollfd){ a->sig_fd, POLLIN, 0 };
		agent_ctl_pollfds(&a->ctl, p + 1);
		if (poll(p, 1 + AGENT_CTL_POLLFDS,
			 agent_ctl_timeout(&a->ctl, TICK_MS)) < 0 &&
		    errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			if (!handle_signal(a))
				break;
			/* a reload replaced the control socket: p is stale */
		} else {
			agent_ctl_serve(&a->ctl, p + 1, a);
		}
		now = vg_mono_ms();
		trim_heap_slack(&heap_floor);
		if (now - last_flush >= 5000) {
			agent_outbox_flush(&a->ob);
			last_flush = now;
		}
		if (wd > 0 && now - last_wd >= wd) {
			notify_systemd("WATCHDOG=1");
			last_wd = now;
		}
	}
}

/* A fresh agent with the configuration at path: VG_OK or VG_ERR_*. */
static int load(struct agent *a, const char *path)
{
	char err[AGENT_ERR_MAX];
	int rc;

	memset(a, 0, sizeof(*a));
	a->cfg_path = path;
	a->ctl.fd = a->lock_fd = a->sig_fd = -1;
	for (int k = 0; k < AGENT_CTL_CLIENTS; k++)
		a->ctl.c[k].fd = -1;
	rc = agent_config_load(&a->cfg, path, err, sizeof(err));
	if (rc != VG_OK) {
		fprintf(stderr, "vigie-agent: %s\n", err);
		return rc;
	}
	vg_log_set_level(a->cfg.log_level);
	return VG_OK;
}

int agent_run(const char *cfg_path)
{
	struct agent a;
	int status = 1, rc;

	tune_malloc();
	if (load(&a, cfg_path) != VG_OK)
		return 1;
	a.lock_fd = lock_data_dir(&a.cfg);
	if (a.lock_fd == VG_ERR_BUSY) {
		vg_log(VG_LOG_ERR, "another vigie-agent uses %s",
		       a.cfg.data_dir);
		goto out;
	}
	if ((a.sig_fd = open_signals()) < 0)
		goto out;
	if ((rc = mosquitto_lib_init()) != MOSQ_ERR_SUCCESS) {
		vg_log(VG_LOG_ERR, "mosquitto_lib_init: %s",
		       mosquitto_strerror(rc));
		goto out;
	}
	if (start_all(&a) == VG_OK) {
		trim_heap();
		vg_log(VG_LOG_INFO, "site %s: %d devices, %d units, data in %s",
		       a.cfg.site, a.cfg.ndevices, a.cfg.nunits,
		       a.cfg.data_dir);
		notify_systemd("READY=1");
		main_loop(&a);
		status = 0;
	}
	notify_systemd("STOPPING=1");
	stop_all(&a);
	if ((rc = mosquitto_lib_cleanup()) != MOSQ_ERR_SUCCESS)
		vg_log(VG_LOG_WARN, "mosquitto_lib_cleanup: %s",
		       mosquitto_strerror(rc));
out:
	if (a.sig_fd >= 0)
		close(a.sig_fd);
	if (a.lock_fd >= 0)
		close(a.lock_fd);
	agent_config_free(&a.cfg);
	return status;
}

static void print_once(struct agent *a, int i)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];
	struct vg_unit_status st;
	const struct agent_unit *u = &a->cfg.units[i];

	if (agent_outbox_status(&a->ob, i, &st, NULL) != VG_OK ||
	    vg_topic_unit(topic, sizeof(topic), a->cfg.prefix, u->program,
			  a->cfg.region, a->cfg.site, u->id) < 0 ||
	    vg_unit_status_encode(&st, payload, sizeof(payload)) < 0)
		return;
	printf("{\"topic\":\"%s\",\"retain\":true,\"payload\":%s}\n", topic,
	       payload);
}

/* --once's device verdict: 0 answering, 1 failing, 2 not answering. */
/* --once for a person: one line per unit, then one per device. */
static void once_table(struct agent *a, enum view_lang l)
{
	struct vg_unit_status st;

	fputs(VW(l, "UNIT                 PROG   STATE      SOURCE  DETAIL\n",
		 "UNITÉ                PROG   ÉTAT       SOURCE  DÉTAIL\n"),
	      stdout);
	for (int i = 0; i < a->cfg.nunits; i++) {
		if (agent_outbox_status(&a->ob, i, &st, NULL) != VG_OK)
			continue;
		printf("%-20s %-6s %-10s %-7s", st.unit,
		       vg_program_name(st.program), vg_state_name(st.state),
		       st.source ? vg_source_name(st.source) : "-");
		if (st.fault[0])
			printf(" fault=\"%s\"", st.fault);
		if (st.tech[0])
			printf(" tech=%s", st.tech);
		putchar('\n');
	}
	for (int d = 0; d < a->cfg.ndevices; d++) {
		printf(VW(l, "device %s: %s (%d request(s) planned, %d sent)\n",
			  "appareil %s : %s (%d requête(s) prévue(s), %d "
			  "envoyée(s))\n"), a->cfg.devices[d].name,
		       agent_device_words(l, agent_device_health(a, d)),
		       a->mb.plan.dev_nreq[d],
		       agent_modbus_requests(&a->mb, d));
	}
}

/* What a broker would receive, one JSON line per message. */
static void once_json(struct agent *a)
{
	char topic[VG_TOPIC_MAX], payload[VG_PAYLOAD_MAX];

	vg_topic_agent(topic, sizeof(topic), a->cfg.prefix, a->cfg.site);
	if (agent_mqtt_presence(&a->cfg, true, 0, NULL, payload,
				sizeof(payload)) > 0)
		printf("{\"topic\":\"%s\",\"retain\":true,\"payload\":%s}\n",
		       topic, payload);
	for (int i = 0; i < a->cfg.nunits; i++)
		print_once(a, i);
	for (int d = 0; d < a->cfg.ndevices; d++)
		fprintf(stderr, "device %s: %d request(s) planned, %d sent\n",
			a->cfg.devices[d].name, a->mb.plan.dev_nreq[d],
			agent_modbus_requests(&a->mb, d));
}

/* Every device failed: --once's exit status says so to scripts. */
static bool once_all_failed(struct agent *a)
{
	for (int d = 0; d < a->cfg.ndevices; d++) {
		if (agent_device_health(a, d) == AGENT_DEV_ANSWERING)
			return false;
	}
	return a->cfg.ndevices > 0;
}

/* --once --explain's explanations: where they go (stdout is JSON's). */
struct once_explain {
	const struct agent *a;
	FILE *f;
};

/* A unit's values and the rule that decided. */
static void once_explain(void *arg, int unit, const struct agent_datum *d,
			 int state, const char *fault)
{
	const struct once_explain *x = arg;
	const struct agent_config *c = &x->a->cfg;

	if (fault)
		fprintf(x->f, "unit %s (line %d): read fault: %s\n",
			c->units[unit].id, c->units[unit].line, fault);
	else
		agent_rule_explain(x->f, c, &c->units[unit], d, state);
}

int agent_once(const char *cfg_path, bool json, bool explain, int lang)
{
	struct agent a;
	struct once_explain x = { &a, json ? stderr : stdout };
	bool failed;
	int rc;

	if (load(&a, cfg_path) != VG_OK)
		return 1;
	rc = agent_outbox_open(&a.ob, &a.cfg, NULL);
	if (rc == VG_OK)
		rc = agent_modbus_init(&a.mb, &a.cfg, &a.ob);
	if (rc != VG_OK) {
		fprintf(stderr, "vigie-agent: %s\n", vg_strerror(rc));
		agent_config_free(&a.cfg);
		return 1;
	}
	/* a manual unit's state is its last mark, which only the store has */
	agent_outbox_peek_marks(&a.ob, a.cfg.data_dir);
	if (explain) {
		a.mb.explain = once_explain;
		a.mb.explain_arg = &x;
	}
	agent_modbus_poll_once(&a.mb);
	if (json)
		once_json(&a);
	else
		once_table(&a, (enum view_lang)lang);
	failed = once_all_failed(&a);
	if (failed)
		fputs("vigie-agent: no device answered\n", stderr);
	agent_modbus_free(&a.mb);
	agent_outbox_close(&a.ob);
	agent_config_free(&a.cfg);
	return failed ? 1 : 0;
}
