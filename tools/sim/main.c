/*
 * vigie-sim [--tcp PORT | --rtu] [--slaves LIST] [--size N]
 *           [--units FILE [--site ID] [--region RR] [--seed N]
 *            [--tick-ms N] [--rates START,FINISH,RETIRE] [--truth FILE]]
 * One select loop over stdin (commands), the transport and the migration
 * ticks; exits on "quit" or when stdin closes, so a test that dies takes
 * it along.
 */
#include "sim.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigie/str.h"
#include "vigie/timeutil.h"

struct args {
	bool rtu;
	int port;
	const char *slaves;
	int size;
	const char *units;
	unsigned long long seed;
};

static const char usage[] =
	"usage: vigie-sim [--tcp PORT | --rtu] [--slaves 1-3,7] [--size N]\n"
	"       [--units FILE] [--site ID] [--region RR] [--seed N]\n"
	"       [--tick-ms N] [--rates START,FINISH,RETIRE] [--truth FILE]\n"
	"       vigie-sim --help\n"
	"FILE lines: UNIT PROGRAM SLAVE ADDRESS STATE [plain|radio|cpe|model]\n"
	"(the kinds of equipment: tools/sim/equip.c); rates are chances per\n"
	"tick in parts per million (default 4000,50000,100); --tick-ms 0\n"
	"(default) runs no dynamics but the step command.\n";

static bool parse_rates(const char *v, struct sim_rates *r)
{
	char tail;

	return sscanf(v, "%ld,%ld,%ld%c", &r->start, &r->finish, &r->retire,
		      &tail) == 3 &&
	       r->start >= 0 && r->start <= SIM_PPM && r->finish >= 0 &&
	       r->finish <= SIM_PPM && r->retire >= 0 && r->retire <= SIM_PPM;
}

/*
 * Options of the migration dynamics: VG_OK when argv[*i] was one (its
 * value taken), VG_ERR_NOTFOUND when not, VG_ERR_INVAL when its value is bad.
 */
static int parse_migrate(int argc, char **argv, int *i, struct args *a,
			 struct sim *s)
{
	const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;

	if (!v)
		return VG_ERR_NOTFOUND;
	if (!strcmp(o, "--units"))
		a->units = v;
	else if (!strcmp(o, "--seed"))
		a->seed = strtoull(v, NULL, 0);
	else if (!strcmp(o, "--tick-ms"))
		s->tick_ms = atoi(v);
	else if (!strcmp(o, "--truth"))
		s->truth_path = v;
	else if (!strcmp(o, "--rates"))
		return parse_rates(v, &s->rates) ? (++*i, VG_OK) : VG_ERR_INVAL;
	else if (!strcmp(o, "--site") && vg_ident_valid(v, strlen(v)))
		vg_strlcpy(s->site, v, sizeof(s->site));
	else if (!strcmp(o, "--region") && strlen(v) == 2 &&
		 v[0] >= '0' && v[0] <= '9' && v[1] >= '0' && v[1] <= '9')
		vg_strlcpy(s->region, v, sizeof(s->region));
	else
		return VG_ERR_NOTFOUND;
	++*i;
	return VG_OK;
}

/* VG_OK, VG_ERR_INVAL (usage on stderr) or VG_ERR_NOTFOUND for --help. */
static int parse_args(int argc, char **argv, struct args *a, struct sim *s)
{
	*a = (struct args){ .slaves = "1", .size = 1000, .seed = 1 };
	s->rates = (struct sim_rates){ 4000, 50000, 100 };
	for (int i = 1; i < argc; i++) {
		int m = parse_migrate(argc, argv, &i, a, s);

		if (m == VG_ERR_INVAL)
			return VG_ERR_INVAL;
		if (m == VG_OK)
			continue;
		if (!strcmp(argv[i], "--help"))
			return VG_ERR_NOTFOUND; /* not an error: usage on stdout */
		if (!strcmp(argv[i], "--rtu"))
			a->rtu = true;
		else if (!strcmp(argv[i], "--tcp") && i + 1 < argc)
			a->port = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--slaves") && i + 1 < argc)
			a->slaves = argv[++i];
		else if (!strcmp(argv[i], "--size") && i + 1 < argc)
			a->size = atoi(argv[++i]);
		else
			return VG_ERR_INVAL;
	}
	return a->size > 0 && a->size <= 65536 && s->tick_ms >= 0 ? VG_OK : VG_ERR_INVAL;
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
		/* short enough for the ticks to keep their pace */
		struct timeval tv = { 0, 20000 };
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
		sim_slaves_late_poll(s, vg_mono_ms());
		sim_migrate_poll(s, vg_mono_ms());
	}
}

int main(int argc, char **argv)
{
	struct sim s = { .out = stdout };
	struct sim_transport tr;
	struct args a;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rc = parse_args(argc, argv, &a, &s);
	if (rc != VG_OK) {
		fputs(usage, rc == VG_ERR_NOTFOUND ? stdout : stderr);
		return rc == VG_ERR_NOTFOUND ? 0 : 2;
	}
	if (sim_slaves_create(&s, a.slaves, a.size) != VG_OK) {
		fprintf(stderr, "vigie-sim: bad slave list '%s'\n", a.slaves);
		return 2;
	}
	sim_seed(&s, a.seed);
	if (a.units && sim_units_load(&s, a.units) != VG_OK) {
		sim_units_free(&s);
		sim_slaves_free(&s);
		return 2;
	}
	if (s.truth_path && sim_truth_file(&s, s.truth_path) != VG_OK)
		fprintf(stderr, "vigie-sim: cannot write %s\n", s.truth_path);
	rc = a.rtu ? sim_rtu_open(&tr, stdout) :
		     sim_tcp_open(&tr, "127.0.0.1", a.port, stdout);
	if (rc == VG_OK)
		loop(&s, &tr);
	sim_units_free(&s);
	sim_slaves_free(&s);
	return rc == VG_OK ? 0 : 1;
}
