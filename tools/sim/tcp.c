/*
 * Modbus TCP transport: one listening socket on loopback (port 0 picks a
 * free one, reported as "ready PORT") and any number of clients served
 * from the main select loop.  The unit id of each request picks the slave,
 * as a TCP-to-RTU gateway would.
 */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS_MAX 32

struct sim_tcp {
	modbus_t *ctx;
	int listen_fd;
	int client[CLIENTS_MAX];
};

static int tcp_fill(void *t, fd_set *rd, int maxfd)
{
	struct sim_tcp *tcp = t;

	FD_SET(tcp->listen_fd, rd);
	if (tcp->listen_fd > maxfd)
		maxfd = tcp->listen_fd;
	for (int i = 0; i < CLIENTS_MAX; i++) {
		if (tcp->client[i] < 0)
			continue;
		FD_SET(tcp->client[i], rd);
		if (tcp->client[i] > maxfd)
			maxfd = tcp->client[i];
	}
	return maxfd;
}

static void tcp_accept(struct sim_tcp *tcp)
{
	int fd = accept(tcp->listen_fd, NULL, NULL);

	if (fd < 0)
		return;
	for (int i = 0; i < CLIENTS_MAX; i++) {
		if (tcp->client[i] < 0) {
			tcp->client[i] = fd;
			return;
		}
	}
	close(fd); /* full: the client will retry */
}

static void tcp_serve(void *t, fd_set *rd, struct sim *s)
{
	struct sim_tcp *tcp = t;
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];

	if (FD_ISSET(tcp->listen_fd, rd))
		tcp_accept(tcp);
	for (int i = 0; i < CLIENTS_MAX; i++) {
		int rc;

		if (tcp->client[i] < 0 || !FD_ISSET(tcp->client[i], rd))
			continue;
		modbus_set_socket(tcp->ctx, tcp->client[i]);
		rc = modbus_receive(tcp->ctx, req);
		if (rc > 0) {
			sim_slaves_answer(s, tcp->ctx, req, rc);
		} else if (rc < 0) {
			close(tcp->client[i]);
			tcp->client[i] = -1;
		}
	}
}

int sim_tcp_open(struct sim_transport *tr, const char *addr, int port,
		 FILE *out)
{
	struct sim_tcp *tcp = calloc(1, sizeof(*tcp));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	if (!tcp)
		return VG_ERR_NOMEM;
	for (int i = 0; i < CLIENTS_MAX; i++)
		tcp->client[i] = -1;
	tcp->ctx = modbus_new_tcp(addr, port);
	if (!tcp->ctx)
		goto fail;
	tcp->listen_fd = modbus_tcp_listen(tcp->ctx, 16);
	if (tcp->listen_fd < 0 ||
	    getsockname(tcp->listen_fd, (struct sockaddr *)&sa, &len) != 0)
		goto fail;
	tr->fill = tcp_fill;
	tr->serve = tcp_serve;
	tr->t = tcp;
	fprintf(out, "ready %d\n", ntohs(sa.sin_port));
	fflush(out);
	return VG_OK;
fail:
	fprintf(stderr, "vigie-sim: tcp %s:%d: %s\n", addr, port,
		modbus_strerror(errno));
	if (tcp->ctx)
		modbus_free(tcp->ctx);
	free(tcp);
	return VG_ERR_IO;
}
