/*
 * Modbus RTU transport over a pseudo-terminal pair created here (no socat
 * needed): the agent opens the slave side, whose path is reported as
 * "ready PTY /dev/pts/N"; we serve the master side.  libmodbus's own RTU
 * receive answers a single slave id, so frames are cut here (by function
 * code and length, checked by CRC) and each is answered by the slave its
 * address names, as a whole RS-485 bus of slaves would.
 */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, ptsname */

#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "vigie/str.h"
#include "vigie/timeutil.h"

#define FRAME_STALE_MS 200

struct sim_rtu {
	modbus_t *ctx;            /* only for modbus_reply; never connected */
	int master;
	int slave_fd;             /* kept open so the master never sees EOF */
	uint8_t buf[MODBUS_RTU_MAX_ADU_LENGTH * 2];
	size_t len;
	int64_t last_ms;
};

static uint16_t crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xFFFF;

	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
	}
	return crc;
}

/* Length of the request starting buf, 0 if unknown yet, VG_ERR_PARSE if
 * garbage. */
static int frame_len(const uint8_t *b, size_t n)
{
	if (n < 2)
		return 0;
	switch (b[1]) {
	case 1: case 2: case 3: case 4: case 5: case 6:
		return 8;
	case 15: case 16:
		return n < 7 ? 0 : 9 + b[6];
	default:
		return VG_ERR_PARSE;
	}
}

static void consume(struct sim_rtu *r, size_t n)
{
	memmove(r->buf, r->buf + n, r->len - n);
	r->len -= n;
}

static void frames(struct sim_rtu *r, struct sim *s)
{
	for (;;) {
		int n = frame_len(r->buf, r->len);
		uint16_t crc;

		if (n < 0) {
			consume(r, 1); /* resynchronise */
			continue;
		}
		if (n == 0 || r->len < (size_t)n)
			return;
		crc = crc16(r->buf, (size_t)n - 2);
		if (r->buf[n - 2] != (crc & 0xFF) || r->buf[n - 1] != crc >> 8) {
			consume(r, 1);
			continue;
		}
		sim_slaves_answer(s, r->ctx, r->buf, n);
		consume(r, (size_t)n);
	}
}

static int rtu_fill(void *t, fd_set *rd, int maxfd)
{
	struct sim_rtu *r = t;

	FD_SET(r->master, rd);
	return r->master > maxfd ? r->master : maxfd;
}

static void rtu_serve(void *t, fd_set *rd, struct sim *s)
{
	struct sim_rtu *r = t;
	int64_t now = vg_mono_ms();
	ssize_t n;

	if (r->len && now - r->last_ms > FRAME_STALE_MS)
		r->len = 0; /* a frame cut short long ago: drop it */
	if (!FD_ISSET(r->master, rd))
		return;
	n = read(r->master, r->buf + r->len, sizeof(r->buf) - r->len);
	if (n <= 0)
		return;
	r->len += (size_t)n;
	r->last_ms = now;
	frames(r, s);
	if (r->len == sizeof(r->buf))
		r->len = 0;
}

static int open_pty(struct sim_rtu *r, char *path, size_t size)
{
	struct termios tio;
	const char *name;

	r->master = posix_openpt(O_RDWR | O_NOCTTY);
	if (r->master < 0 || grantpt(r->master) || unlockpt(r->master))
		return VG_ERR_IO;
	name = ptsname(r->master);
	if (!name || strlen(name) >= size)
		return VG_ERR_IO;
	vg_strlcpy(path, name, size);
	r->slave_fd = open(path, O_RDWR | O_NOCTTY);
	if (r->slave_fd < 0 || tcgetattr(r->slave_fd, &tio))
		return VG_ERR_IO;
	cfmakeraw(&tio);
	tcsetattr(r->slave_fd, TCSANOW, &tio);
	if (tcgetattr(r->master, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(r->master, TCSANOW, &tio);
	}
	return VG_OK;
}

int sim_rtu_open(struct sim_transport *tr, FILE *out)
{
	struct sim_rtu *r = calloc(1, sizeof(*r));
	char path[64];

	if (!r)
		return VG_ERR_NOMEM;
	if (open_pty(r, path, sizeof(path)) != VG_OK) {
		fprintf(stderr, "vigie-sim: pty: %s\n", strerror(errno));
		free(r);
		return VG_ERR_IO;
	}
	r->ctx = modbus_new_rtu(path, 19200, 'N', 8, 1);
	if (!r->ctx) {
		free(r);
		return VG_ERR_IO;
	}
	modbus_set_socket(r->ctx, r->master);
	tr->fill = rtu_fill;
	tr->serve = rtu_serve;
	tr->t = r;
	fprintf(out, "ready PTY %s\n", path);
	fflush(out);
	return VG_OK;
}
