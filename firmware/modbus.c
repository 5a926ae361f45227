/*
 * Bus threads on libmodbus.  Error policy, per request: an exception that
 * says the request itself is wrong (illegal address, function, value) is
 * never retried; "busy" is retried after a short pause; a timeout or a
 * garbled frame is followed by modbus_flush so a late answer cannot be
 * taken for the next one, and is retried only while the slave is healthy
 * (a dead slave gets one try per poll, so it cannot eat the bus).  Anything
 * that smells of a broken link closes the connection; the next poll
 * reconnects.
 */
#include "modbus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <modbus.h>

#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/timeutil.h"
#include "vigie/str.h"

#define BUSY_PAUSE_MS 50

struct agent_modbus_bus {
	struct agent_modbus *m;
	int ndev;
	int dev[AGENT_DEVICES_MAX];       /* device indices on this bus */
	int64_t due[AGENT_DEVICES_MAX];   /* next poll, monotonic ms */
	modbus_t *ctx;                    /* owned */
	uint16_t *words;                  /* a poll's reads; owned */
	int *status;                      /* each request's errno or 0; owned */
	bool connected;
	pthread_t thread;
	struct vg_ratelimit rl;
};

static void group_buses(struct agent_modbus *m)
{
	const struct agent_config *c = m->cfg;

	for (int d = 0; d < c->ndevices; d++) {
		int b = 0;

		while (b < m->nbus &&
		       !agent_device_same_bus(&c->devices[m->bus[b].dev[0]],
				 &c->devices[d]))
			b++;
		if (b == m->nbus) {
			m->bus[b].m = m;
			vg_ratelimit_init(&m->bus[b].rl, 60000, 2);
			m->nbus++;
		}
		m->bus[b].dev[m->bus[b].ndev++] = d;
	}
}

/* Each bus's poll buffers, as large as its largest device needs. */
static int bus_buffers(struct agent_modbus *m)
{
	for (int b = 0; b < m->nbus; b++) {
		struct agent_modbus_bus *bus = &m->bus[b];
		int words = 1, nreq = 1;

		for (int k = 0; k < bus->ndev; k++) {
			int d = bus->dev[k];

			if (m->plan.dev_words[d] > words)
				words = m->plan.dev_words[d];
			if (m->plan.dev_nreq[d] > nreq)
				nreq = m->plan.dev_nreq[d];
		}
		bus->words = malloc(sizeof(uint16_t) * (size_t)words);
		bus->status = malloc(sizeof(int) * (size_t)nreq);
		if (!bus->words || !bus->status)
			return VG_ERR_NOMEM;
	}
	return VG_OK;
}

int agent_modbus_init(struct agent_modbus *m, const struct agent_config *cfg,
		      struct agent_outbox *ob)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->ob = ob;
	rc = agent_modbus_plan_build(&m->plan, cfg);
	if (rc)
		return rc;
	m->bus = calloc((size_t)cfg->ndevices + 1, sizeof(*m->bus));
	if (!m->bus) {
		agent_modbus_plan_free(&m->plan);
		return VG_ERR_NOMEM;
	}
	group_buses(m);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	rc = bus_buffers(m);
	if (rc != VG_OK)
		agent_modbus_free(m);
	return rc;
}

static void set_timeout(modbus_t *ctx, int ms,
			int (*set)(modbus_t *, uint32_t, uint32_t))
{
	set(ctx, (uint32_t)(ms / 1000), (uint32_t)(ms % 1000) * 1000u);
}

static modbus_t *new_ctx(const struct agent_device *d)
{
	char port[8];

	if (d->transport == AGENT_RTU)
		return modbus_new_rtu(d->serial, d->baud, d->parity,
				      d->data_bits, d->stop_bits);
	snprintf(port, sizeof(port), "%d", d->port);
	return modbus_new_tcp_pi(d->host, port);
}

static const char *bus_name(const struct agent_device *d, char *buf,
			    size_t size)
{
	if (d->transport == AGENT_RTU)
		snprintf(buf, size, "rtu %s", d->serial);
	else
		snprintf(buf, size, "tcp %s:%d", d->host, d->port);
	return buf;
}

/* Connect if needed; returns 0 or an errno value for the fault text. */
static int bus_connect(struct agent_modbus_bus *b,
		       const struct agent_device *d)
{
	char name[AGENT_PATH_MAX + 8];
	uint32_t dropped;
	int err;

	if (b->connected)
		return 0;
	if (!b->ctx && !(b->ctx = new_ctx(d)))
		return errno ? errno : ENOMEM;
	set_timeout(b->ctx, d->response_timeout_ms,
		    modbus_set_response_timeout);
	if (modbus_connect(b->ctx) != 0)
		goto fail;
	if (d->transport == AGENT_RTU && d->rs485 &&
	    modbus_rtu_set_serial_mode(b->ctx, MODBUS_RTU_RS485) != 0) {
		modbus_close(b->ctx);
		goto fail;
	}
	b->connected = true;
	vg_log(VG_LOG_INFO, "modbus: %s connected",
	       bus_name(d, name, sizeof(name)));
	return 0;
fail:
	err = errno;
	if (vg_ratelimit_allow(&b->rl, vg_mono_ms(), &dropped))
		vg_log(VG_LOG_WARN, "modbus: %s: cannot connect: %s",
		       bus_name(d, name, sizeof(name)), modbus_strerror(err));
	return err;
}

static void bus_close(struct agent_modbus_bus *b)
{
	if (b->connected)
		modbus_close(b->ctx);
	b->connected = false;
}

/* One request into words (bits: one word each, 0 or 1). */
static int read_raw(modbus_t *ctx, const struct agent_modbus_req *q,
		    uint16_t *words)
{
	uint8_t bits[AGENT_PLAN_MAX_BITS];
	int n;

	if (q->reg == AGENT_REG_HOLDING)
		return modbus_read_registers(ctx, q->addr, q->count, words);
	if (q->reg == AGENT_REG_INPUT)
		return modbus_read_input_registers(ctx, q->addr, q->count,
						   words);
	n = q->reg == AGENT_REG_COIL ?
	    modbus_read_bits(ctx, q->addr, q->count, bits) :
	    modbus_read_input_bits(ctx, q->addr, q->count, bits);
	for (int k = 0; k < n; k++)
		words[k] = bits[k];
	return n;
}

static bool link_error(int e)
{
	return e == ECONNRESET || e == EPIPE || e == EBADF || e == ENOTCONN ||
	       e == ECONNREFUSED || e == EIO;
}

static void pause_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A device's figures for one poll, kept by its bus thread and published
 * under m->lock when the poll ends (the status view reads them). */
struct poll_stats {
	int requests;
	bool dead;
};

/* One request with the retry policy; 0 or the errno of the last try. */
static int read_req(struct agent_modbus_bus *b, const struct agent_device *dev,
		    const struct agent_modbus_req *q, struct poll_stats *ps)
{
	int err = 0;

	for (int attempt = 0; attempt <= dev->retries; attempt++) {
		if (dev->transport == AGENT_RTU && dev->frame_gap_ms)
			pause_ms(dev->frame_gap_ms);
		ps->requests++;
		if (read_raw(b->ctx, q, b->words + q->off) == q->count) {
			ps->dead = false;
			return 0;
		}
		err = errno;
		if (err == EMBXILADD || err == EMBXILFUN || err == EMBXILVAL ||
		    link_error(err))
			return err;
		if (err == EMBXSBUSY) {
			pause_ms(BUSY_PAUSE_MS * (attempt + 1));
			continue;
		}
		modbus_flush(b->ctx); /* timeout, bad CRC, stray data */
		if (err == ETIMEDOUT && ps->dead)
			break;
	}
	if (err == ETIMEDOUT)
		ps->dead = true;
	return err;
}

/* Unit i's values from the poll's buffer into d; 0 or the errno of the
 * first request of them that failed. */
static int unit_values(struct agent_modbus *m, struct agent_modbus_bus *b,
		       int dev, int i, struct agent_datum *d)
{
	const struct agent_unit *u = &m->cfg->units[i];

	for (int k = 0; k < agent_config_nvalues(u); k++) {
		struct agent_value tmp;
		const struct agent_value *v =
			agent_config_value(m->cfg, u, k, &tmp);
		int r = agent_modbus_plan_find(&m->plan, dev, v);
		const struct agent_modbus_req *q = &m->plan.req[r < 0 ? 0 : r];

		if (r < 0)
			return EINVAL; /* a plan that misses a value: a bug */
		if (b->status[r - m->plan.dev_first[dev]])
			return b->status[r - m->plan.dev_first[dev]];
		agent_value_decode(v, b->words + q->off + (v->address - q->addr),
				   &d[k]);
	}
	return 0;
}

/* Decide unit i from what the poll read, into the store. */
static void apply(struct agent_modbus *m, struct agent_modbus_bus *b,
		  int dev, int i)
{
	const struct agent_unit *u = &m->cfg->units[i];
	struct agent_datum d[AGENT_UNIT_VALUES_MAX];
	char fault[AGENT_FAULT_MAX + 1];
	int err, rule, st = -1;

	memset(d, 0, sizeof(d[0])); /* a unit reads one value at least */
	err = unit_values(m, b, dev, i, d);

	if (!err)
		st = agent_rule_decide(m->cfg, u, d, &rule);
	if (m->explain)
		m->explain(m->explain_arg, i, err ? NULL : d, st,
			   err ? modbus_strerror(err) : NULL);
	if (st >= 0) {
		agent_outbox_read_ok(m->ob, i, st);
		return;
	}
	/* a fault that does not change with the value: one record, not one
	 * per poll, while a value matches nothing */
	if (err)
		vg_strlcpy(fault, modbus_strerror(err), sizeof(fault));
	else if (u->nrules)
		snprintf(fault, sizeof(fault), "no rule matched");
	else if (d[0].kind == AGENT_K_INT)
		snprintf(fault, sizeof(fault), "unmapped value %lld",
			 (long long)d[0].n.i);
	else
		snprintf(fault, sizeof(fault), "unmapped value %llu",
			 (unsigned long long)d[0].n.u);
	agent_outbox_read_fault(m->ob, i, fault);
}

static void publish_stats(struct agent_modbus *m, int d,
			  const struct poll_stats *ps)
{
	pthread_mutex_lock(&m->lock);
	m->requests[d] = ps->requests;
	m->dead[d] = ps->dead;
	pthread_mutex_unlock(&m->lock);
}

/* Every request of device d into the bus's buffer, each one's outcome in
 * b->status (a broken link fails the rest unread). */
static void read_device(struct agent_modbus *m, struct agent_modbus_bus *b,
			int d, struct poll_stats *ps)
{
	const struct agent_device *dev = &m->cfg->devices[d];
	int first = m->plan.dev_first[d], n = m->plan.dev_nreq[d];
	int err = bus_connect(b, dev);
	bool up = err == 0;

	if (up) {
		modbus_set_slave(b->ctx, dev->slave);
		set_timeout(b->ctx, dev->response_timeout_ms,
			    modbus_set_response_timeout);
		set_timeout(b->ctx, dev->byte_timeout_ms,
			    modbus_set_byte_timeout);
	}
	for (int r = 0; r < n; r++) {
		if (up)
			err = read_req(b, dev, &m->plan.req[first + r], ps);
		b->status[r] = err;
		if (up && link_error(err)) {
			bus_close(b);
			up = false;
		}
	}
}

static void poll_requests(struct agent_modbus *m, struct agent_modbus_bus *b,
			  int d, struct poll_stats *ps)
{
	if (m->plan.dev_nreq[d] == 0)
		return;
	read_device(m, b, d, ps);
	for (int k = 0; k < m->plan.dev_nunits[d]; k++)
		apply(m, b, d, m->plan.order[m->plan.dev_unit0[d] + k]);
}

/* Only d's bus thread writes its figures, so it may read them unlocked. */
static void poll_device(struct agent_modbus *m, struct agent_modbus_bus *b,
			int d)
{
	struct poll_stats ps = { 0, m->dead[d] };

	poll_requests(m, b, d, &ps);
	publish_stats(m, d, &ps);
}

static bool wait_until(struct agent_modbus *m, int64_t due)
{
	bool stop;

	pthread_mutex_lock(&m->lock);
	while (!m->stop) {
		int64_t left = due - vg_mono_ms();
		struct timespec ts;

		if (left <= 0)
			break;
		vg_deadline(CLOCK_REALTIME, left, &ts);
		pthread_cond_timedwait(&m->cond, &m->lock, &ts);
	}
	stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return !stop;
}

/* Earliest-due device first; a late poll is not caught up in a burst. */
static void *bus_thread(void *arg)
{
	struct agent_modbus_bus *b = arg;
	struct agent_modbus *m = b->m;

	/* named for top -H and /proc/PID/task/TID/comm */
	prctl(PR_SET_NAME, "vigie-bus", 0, 0, 0);
	for (int k = 0; k < b->ndev; k++)
		b->due[k] = vg_mono_ms();
	for (;;) {
		int next = 0;
		int64_t now;

		for (int k = 1; k < b->ndev; k++) {
			if (b->due[k] < b->due[next])
				next = k;
		}
		if (!wait_until(m, b->due[next]))
			break;
		poll_device(m, b, b->dev[next]);
		now = vg_mono_ms();
		b->due[next] += m->cfg->devices[b->dev[next]].poll_interval_ms;
		if (b->due[next] < now)
			b->due[next] = now;
	}
	return NULL;
}

int agent_modbus_start(struct agent_modbus *m)
{
	pthread_attr_t attr;
	int rc = VG_OK;

	pthread_attr_init(&attr);
	/* 2 x 2 KiB read buffers and libmodbus frames: 256 KiB is ample */
	pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
	m->stop = false;
	for (int b = 0; b < m->nbus; b++) {
		if (pthread_create(&m->bus[b].thread, &attr, bus_thread,
				   &m->bus[b]) != 0) {
			m->nbus = b;
			rc = VG_ERR_NOMEM;
			break;
		}
	}
	pthread_attr_destroy(&attr);
	m->started = true;
	return rc;
}

void agent_modbus_stop(struct agent_modbus *m)
{
	if (!m->started)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	for (int b = 0; b < m->nbus; b++)
		pthread_join(m->bus[b].thread, NULL);
	m->started = false;
}

void agent_modbus_poll_once(struct agent_modbus *m)
{
	for (int b = 0; b < m->nbus; b++) {
		for (int k = 0; k < m->bus[b].ndev; k++)
			poll_device(m, &m->bus[b], m->bus[b].dev[k]);
	}
}

void agent_modbus_device_stats(struct agent_modbus *m, int d, int *requests,
				bool *dead)
{
	pthread_mutex_lock(&m->lock);
	*requests = m->requests[d];
	*dead = m->dead[d];
	pthread_mutex_unlock(&m->lock);
}

bool agent_modbus_dead(struct agent_modbus *m, int d)
{
	int requests;
	bool dead;

	agent_modbus_device_stats(m, d, &requests, &dead);
	return dead;
}

int agent_modbus_requests(struct agent_modbus *m, int d)
{
	int requests;
	bool dead;

	agent_modbus_device_stats(m, d, &requests, &dead);
	return requests;
}

void agent_modbus_free(struct agent_modbus *m)
{
	agent_modbus_stop(m);
	for (int b = 0; b < m->nbus; b++) {
		bus_close(&m->bus[b]);
		if (m->bus[b].ctx)
			modbus_free(m->bus[b].ctx);
		free(m->bus[b].words);
		free(m->bus[b].status);
	}
	free(m->bus);
	m->bus = NULL;
	agent_modbus_plan_free(&m->plan);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
}
