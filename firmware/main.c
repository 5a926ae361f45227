/*
 * vigie-agent's command line: the daemon, its dry runs (--check-config,
 * --once) and the technician's client (status, mark), all in one binary so
 * a field unit carries a single file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "ctl.h"
#include "view.h"
#include "vigie/err.h"
#include "vigie/log.h"
#include "vigie/str.h"

#ifndef AGENT_CONFIG_PATH
#define AGENT_CONFIG_PATH "/etc/vigie/vigie-agent.conf"
#endif

struct opts {
	const char *config;
	const char *socket;
	const char *tech;
	const char *note;
	int wait;                 /* mark --wait SECONDS; 0: do not wait */
	const char *view;         /* status: pending, faults, all; NULL */
	bool json;                /* status --json, --once --json */
	bool explain;             /* --check-config, --once: say why */
	int nargs;
	const char *args[4];
};

static void usage(FILE *f)
{
	fputs("usage: vigie-agent [-c FILE]                 run the agent\n"
	      "       vigie-agent --check-config FILE [--explain]  validate "
	      "a configuration\n"
	      "       vigie-agent --once [--json] [--explain] [-c FILE] poll "
	      "once, print what would be published\n"
	      "       vigie-agent [-c FILE|-s SOCK] status [--pending|--faults|"
	      "--all] [--json]\n"
	      "       vigie-agent [-c FILE|-s SOCK] mark UNIT STATE --tech ID "
	      "[--note TEXT] [--wait SECONDS]\n"
	      "       vigie-agent --version | -h | --help\n"
	      "-c, --config FILE  configuration (default "
	      AGENT_CONFIG_PATH ")\n"
	      "-s, --socket SOCK  control socket (default: the one FILE "
	      "names)\n", f);
}

/*
 * Valid but likely wrong: the broker binds a site's identity to its user
 * name and lets it write only its own topics, so any other name has every
 * publish refused.
 */
static void warn_identity(const char *path, const struct agent_config *c)
{
	if (c->username[0] && strcmp(c->username, c->site) != 0)
		fprintf(stderr, "%s: warning: [broker] username '%s' differs "
			"from the site id '%s': the broker lets a site write "
			"only its own topics, so it will refuse this agent's "
			"publishes\n", path, c->username, c->site);
	else if (!c->username[0] && !c->cert_file[0])
		fprintf(stderr, "%s: warning: no [broker] username nor "
			"cert_file: the broker cannot tell this site from any "
			"other\n", path);
	if (c->mqtt_v311)
		fprintf(stderr, "%s: warning: mqtt_version = 3.1.1: a publish "
			"the broker refuses looks delivered\n", path);
}

static int check_config(const char *path, bool explain)
{
	struct agent_config cfg;
	char err[AGENT_ERR_MAX];
	int manual = 0;

	if (agent_config_load(&cfg, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 0; i < cfg.nunits; i++)
		manual += cfg.units[i].manual;
	warn_identity(path, &cfg);
	printf("%s: ok: site %s, %d device(s), %d unit(s) (%d manual)\n",
	       path, cfg.site, cfg.ndevices, cfg.nunits, manual);
	for (int i = 0; explain && i < cfg.nunits; i++) {
		if (!cfg.units[i].manual)
			agent_rule_explain(stdout, &cfg, &cfg.units[i], NULL,
					   -1);
	}
	agent_config_free(&cfg);
	return 0;
}

/* The control socket: -s, else the one the config file names. */
static int ask(const struct opts *o, const char *path, const char *request)
{
	if (o->wait > 0 && strncmp(request, "mark ", 5) == 0)
		return agent_ctl_mark_wait(path, request, o->args[1], o->wait);
	return agent_ctl_request(path, request);
}

static int client(const struct opts *o, const char *request)
{
	struct agent_config cfg;
	char err[AGENT_ERR_MAX], path[AGENT_PATH_MAX];
	int rc;

	if (o->socket)
		return ask(o, o->socket, request);
	if (agent_config_load(&cfg, o->config, err, sizeof(err)) != 0) {
		fprintf(stderr, "vigie-agent: %s (use -s SOCKET)\n", err);
		return 2;
	}
	vg_strlcpy(path, cfg.control, sizeof(path));
	agent_config_free(&cfg);
	rc = ask(o, path, request);
	return rc;
}

static int mark(const struct opts *o)
{
	char req[AGENT_CTL_LINE_MAX];

	if (o->nargs != 3 || !o->tech) {
		fputs("usage: vigie-agent mark UNIT STATE --tech ID "
		      "[--note TEXT] [--wait SECONDS]\n", stderr);
		return 2;
	}
	if (strchr(o->args[1], ' ') || strchr(o->args[2], ' ') ||
	    strchr(o->tech, ' ') || (o->note && strchr(o->note, '\n'))) {
		fputs("vigie-agent: unit, state and technician id contain no "
		      "spaces; the note is one line\n", stderr);
		return 2;
	}
	if (snprintf(req, sizeof(req), "mark %s %s %s%s%s", o->args[1],
		     o->args[2], o->tech, o->note ? " " : "",
		     o->note ? o->note : "") >= (int)sizeof(req)) {
		fputs("vigie-agent: request too long\n", stderr);
		return 2;
	}
	return client(o, req);
}

/*
 * "status VIEW LANG": the agent writes the text, in the language of the
 * person asking (this process's locale), not of the daemon.
 */
static int status(const struct opts *o)
{
	char req[64];

	snprintf(req, sizeof(req), "status %s %s", o->json ? "json" :
		 o->view ? o->view : "summary",
		 view_lang_code(view_lang_env()));
	return client(o, req);
}

/* 1..3600 seconds for mark --wait. */
static int wait_seconds(const char *v)
{
	long long n;

	if (vg_int_parse(v, 1, 3600, &n) != VG_OK) {
		fprintf(stderr, "vigie-agent: --wait takes 1..3600 seconds, "
			"not '%s'\n", v);
		exit(2);
	}
	return (int)n;
}

static const char *need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc) {
		fprintf(stderr, "vigie-agent: %s needs a value\n", argv[*i]);
		exit(2);
	}
	return argv[++*i];
}

int main(int argc, char **argv)
{
	struct opts o = { .config = AGENT_CONFIG_PATH };
	const char *check = NULL;
	bool once = false;

	vg_log_set_ident("vigie-agent");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-c") || !strcmp(a, "--config"))
			o.config = need(argc, argv, &i);
		else if (!strcmp(a, "-s") || !strcmp(a, "--socket"))
			o.socket = need(argc, argv, &i);
		else if (!strcmp(a, "--tech"))
			o.tech = need(argc, argv, &i);
		else if (!strcmp(a, "--note"))
			o.note = need(argc, argv, &i);
		else if (!strcmp(a, "--wait"))
			o.wait = wait_seconds(need(argc, argv, &i));
		else if (!strcmp(a, "--check-config"))
			check = need(argc, argv, &i);
		else if (!strcmp(a, "--explain"))
			o.explain = true;
		else if (!strcmp(a, "--once"))
			once = true;
		else if (!strcmp(a, "--json"))
			o.json = true;
		else if (!strcmp(a, "--pending") || !strcmp(a, "--faults") ||
			 !strcmp(a, "--all"))
			o.view = a + 2;
		else if (!strcmp(a, "--version")) {
			printf("vigie-agent %s (%s)\n", VG_VERSION, VG_BOARD);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (a[0] == '-' || o.nargs == 4) {
			usage(stderr);
			return 2;
		} else
			o.args[o.nargs++] = a;
	}
	if (check)
		return check_config(check, o.explain);
	if (once)
		return agent_once(o.config, o.json, o.explain, view_lang_env());
	if (o.nargs == 0)
		return agent_run(o.config);
	if (!strcmp(o.args[0], "status") && o.nargs == 1)
		return status(&o);
	if (!strcmp(o.args[0], "mark"))
		return mark(&o);
	usage(stderr);
	return 2;
}
