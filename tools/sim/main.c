/*
 * vigie-sim [--tcp PORT | --rtu] [--slaves LIST] [--size N]
 * One select loop over stdin (commands) and the transport; exits on
 * "quit" or when stdin closes, so a test that dies takes it along.
 */
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct args {
	bool rtu;
	int port;
	const char *slaves;
	int size;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	*a = (struct args){ .slaves = "1", .size = 1000 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--rtu"))
			a->rtu = true;
		else if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
			a->port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--slaves") && i + 1 < argc)
			a->slaves = argv[++i];
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			a->size = atoi(argv[++i]);
		else
			return -1;
	}
	return a->size > 0 && a->size <= 65536 ? 0 : -1;
}

/* Read what stdin has and run each complete line; false on EOF/quit. */
static bool commands(struct sim *s)
{
	static char buf[4096];
	static size_t len;
	ssize_t n = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len);
	char *line, *nl;

	if (n <= 0)
		return n < 0 && errno == EINTR;
	len += (size_t)n;
	buf[len] = '\0';
	line = buf;
	while ((nl = strchr(line, '\n'))) {
		*nl = '\0';
		if (!sim_cmd_exec(s, line))
			return false;
		line = nl + 1;
	}
	len = strlen(line);
	memmove(buf, line, len + 1);
	if (len == sizeof(buf) - 1)
		len = 0; /* an absurd line: drop it */
	return true;
}

static void loop(struct sim *s, struct sim_transport *tr)
{
	for (;;) {
		struct timeval tv = { 0, 100000 };
		fd_set rd;
		int maxfd;

		FD_ZERO(&rd);
		FD_SET(STDIN_FILENO, &rd);
		maxfd = tr->fill(tr->t, &rd, STDIN_FILENO);
		if (select(maxfd + 1, &rd, NULL, NULL, &tv) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (FD_ISSET(STDIN_FILENO, &rd) && !commands(s))
			return;
		tr->serve(tr->t, &rd, s);
	}
}

int main(int argc, char **argv)
{
	struct sim s = { .out = stdout };
	struct sim_transport tr;
	struct args a;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &a) != 0) {
		fputs("usage: vigie-sim [--tcp PORT | --rtu] [--slaves 1-3,7] "
		      "[--size N]\n", stderr);
		return 2;
	}
	if (sim_slaves_create(&s, a.slaves, a.size) != 0) {
		fprintf(stderr, "vigie-sim: bad slave list '%s'\n", a.slaves);
		return 2;
	}
	rc = a.rtu ? sim_rtu_open(&tr, stdout) :
		     sim_tcp_open(&tr, "127.0.0.1", a.port, stdout);
	if (rc == 0)
		loop(&s, &tr);
	sim_slaves_free(&s);
	return rc == 0 ? 0 : 1;
}
