/*
 * The simulated site: one libmodbus mapping per slave id, created from a
 * list, and the policy of how each slave answers (alive, busy, dead, late,
 * garbled).
 */
#include "sim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vigie/timeutil.h"

int sim_slave_add(struct sim *s, int id)
{
	struct sim_slave *sl;

	if (id < 0 || id > SIM_SLAVE_MAX || s->slave[id])
		return id < 0 || id > SIM_SLAVE_MAX ? VG_ERR_RANGE : VG_OK;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return VG_ERR_NOMEM;
	sl->id = id;
	sl->alive = true;
	sl->map = modbus_mapping_new(s->size, s->size, s->size, s->size);
	if (!sl->map) {
		free(sl);
		return VG_ERR_NOMEM;
	}
	s->slave[id] = sl;
	return VG_OK;
}

int sim_slaves_create(struct sim *s, const char *spec, int size)
{
	const char *p = spec;

	s->size = size;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return VG_ERR_INVAL;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long id = a; id <= b; id++) {
			if (sim_slave_add(s, (int)id) != VG_OK)
				return VG_ERR_INVAL;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return VG_ERR_INVAL;
		p = end;
	}
	return VG_OK;
}

void sim_slaves_free(struct sim *s)
{
	for (int i = 0; i <= SIM_SLAVE_MAX; i++) {
		if (!s->slave[i])
			continue;
		modbus_mapping_free(s->slave[i]->map);
		free(s->slave[i]);
		s->slave[i] = NULL;
	}
}

struct sim_slave *sim_slave_get(struct sim *s, int id)
{
	return id >= 0 && id <= SIM_SLAVE_MAX ? s->slave[id] : NULL;
}

/*
 * Line noise: on RTU a byte in the middle of the frame, so its CRC no
 * longer matches; on TCP (no CRC) the transaction id, so the answer
 * matches no request.  Either way the master must reject it.
 */
static void garble(uint8_t *buf, size_t n, int header_len)
{
	size_t at = header_len > 1 ? 1 : n / 2;

	if (at < n)
		buf[at] ^= 0x5A;
}

static void hold_late(struct sim *s, int fd, const uint8_t *buf, size_t n,
		      int ms)
{
	for (int i = 0; i < SIM_LATE_MAX; i++) {
		struct sim_late *l = &s->late[i];

		if (l->len)
			continue;
		l->fd = fd;
		l->due = vg_mono_ms() + ms;
		l->len = n;
		memcpy(l->buf, buf, n);
		return;
	}
	/* all slots taken: this answer is lost, as a late one may be */
}

/*
 * The reply, or the exception, as libmodbus writes it; when it is to be
 * garbled or held back, written first into a socket pair to capture its
 * bytes (libmodbus has no other way to hand them over).
 */
static void reply(struct sim *s, struct sim_slave *sl, modbus_t *ctx,
		  const uint8_t *req, int len, int exception)
{
	uint8_t buf[MODBUS_MAX_ADU_LENGTH];
	int fd = modbus_get_socket(ctx), sp[2];
	ssize_t n;

	if (sl->corrupt <= 0 && sl->late <= 0) {
		if (exception)
			modbus_reply_exception(ctx, req, (unsigned)exception);
		else
			modbus_reply(ctx, req, len, sl->map);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) != 0)
		return;
	modbus_set_socket(ctx, sp[0]);
	if (exception)
		modbus_reply_exception(ctx, req, (unsigned)exception);
	else
		modbus_reply(ctx, req, len, sl->map);
	modbus_set_socket(ctx, fd);
	n = recv(sp[1], buf, sizeof(buf), MSG_DONTWAIT);
	close(sp[0]);
	close(sp[1]);
	if (n <= 0)
		return;
	if (sl->corrupt > 0) {
		sl->corrupt--;
		garble(buf, (size_t)n, modbus_get_header_length(ctx));
	}
	if (sl->late > 0) {
		sl->late--;
		hold_late(s, fd, buf, (size_t)n, sl->late_ms);
	} else if (write(fd, buf, (size_t)n) < 0) {
		return; /* the master went away */
	}
}

void sim_slaves_late_poll(struct sim *s, int64_t now_ms)
{
	for (int i = 0; i < SIM_LATE_MAX; i++) {
		struct sim_late *l = &s->late[i];

		if (!l->len || now_ms < l->due)
			continue;
		/* a master that went away gets nothing: nothing to do */
		ssize_t w = write(l->fd, l->buf, l->len);

		(void)w;
		l->len = 0;
	}
}

void sim_slaves_answer(struct sim *s, modbus_t *ctx, const uint8_t *req,
		       int len)
{
	int hl = modbus_get_header_length(ctx);
	struct sim_slave *sl;

	if (len <= hl)
		return;
	sl = sim_slave_get(s, req[hl - 1]);
	if (!sl)
		return;
	sl->requests++;
	if (!sl->alive)
		return;
	if (sl->busy > 0) {
		sl->busy--;
		reply(s, sl, ctx, req, len,
		      MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
		return;
	}
	reply(s, sl, ctx, req, len, 0);
}
