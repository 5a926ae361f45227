/*
 * Configuration parser on libinih.  inih only reports the line of a syntax
 * error, so the text is fed through our own line reader: the handler then
 * knows the line of every key and can say "file:line: reason" for semantic
 * errors too.  Checks that span sections (a unit naming a device declared
 * further down) run after the parse, with the line of the section at fault.
 *
 * The file fails safe: what inih would quietly make of a slip is refused.
 * Our inih joins an indented line to the previous value (INI_ALLOW_MULTILINE
 * is fixed when inih is built: an indented "ca_file = ..." became part of
 * the user name and TLS went off), so the reader refuses indented lines;
 * the handler refuses a key given twice in a section, and an empty
 * [unit]/[device] section (inih never reports it) is caught from the
 * headers the reader sees.
 *
 * A [unit] section is checked as a whole when it ends (the reader sees the
 * next header, or the end): its typed values and rules may come in any
 * order, and every rule is typed against the values it names.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "vigie/err.h"
#include "vigie/file.h"
#include "vigie/log.h"
#include "vigie/region.h"
#include "vigie/secret.h"
#include "vigie/str.h"

#ifndef AGENT_DATADIR
#define AGENT_DATADIR "/var/lib/vigie"
#endif

#define CONFIG_FILE_MAX (4 << 20)

/* what struct agent_unit's narrow fields hold */
_Static_assert(AGENT_UNITS_MAX * AGENT_UNIT_VALUES_MAX <= 65536,
	       "value0 is 16 bits");
_Static_assert(AGENT_UNITS_MAX * AGENT_UNIT_RULES_MAX <= 65536,
	       "rule0 is 16 bits");
_Static_assert(AGENT_UNIT_RULES_MAX <= 7, "nrules is 3 bits");
_Static_assert(AGENT_DEVICES_MAX <= 127, "device is 8 bits");
_Static_assert(AGENT_UNIT_VALUES_MAX <= 15, "nvalues is 4 bits");
_Static_assert(sizeof(struct agent_unit) <= 16 + sizeof(void *),
	       "a unit is 24 bytes on 64-bit boards");

enum section { SEC_NONE, SEC_SITE, SEC_BROKER, SEC_AGENT, SEC_DEVICE,
	       SEC_UNIT };

/* What a unit section said that the struct does not keep. */
struct unit_extra {
	char devname[VG_IDENT_MAX + 1]; /* until resolved */
	bool address;                   /* an address = line was given */
	size_t id;                      /* the id's offset in the pool */
};

/* Keys seen in the current section, to refuse one given twice.  No valid
 * section has more distinct keys than this (an unknown key fails first). */
#define SECTION_KEYS_MAX 32
#define KEY_NAME_MAX 32

struct parse {
	struct agent_config *cfg;
	const char *name;
	const char *text;       /* not owned */
	const char *pos;
	int line;               /* line last handed to inih */
	int section_line;       /* line of the last [section] header */
	bool new_section;       /* a header was read since the last key */
	bool long_line;
	char section[AGENT_PATH_MAX];
	enum section kind;
	int index;              /* device or unit being filled */
	int cap;                /* allocated units */
	int dcap, mcap;         /* allocated devices, maps */
	struct unit_extra *extra;        /* per unit; owned */
	/* the last header the reader saw, and keys under it so far */
	bool header_named;               /* [unit X] or [device X] */
	int header_keys;
	char header[AGENT_PATH_MAX];
	int nkeys;
	char keys[SECTION_KEYS_MAX][KEY_NAME_MAX];
	int key_line[SECTION_KEYS_MAX];
	int single_line[3];              /* [site], [broker], [agent] */
	int tls_key;                     /* tls = : -1 not given, 0 off, 1 on */
	int tls_line;
	int host_line;
	/* the [unit] being read: its plain register's type keys, its
	 * default rule; room in the config's typed arrays */
	bool unit_open;
	struct agent_value uval;
	int default_line;
	int vcap, rcap, ccap;
	size_t scap;
	char *err;
	size_t errlen;
	bool failed;
	int fail_line;
};

/* Record the first error only: later ones are usually its echo. */
static bool fail(struct parse *p, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static bool fail(struct parse *p, int line, const char *fmt, ...)
{
	char msg[AGENT_ERR_MAX];
	va_list ap;

	if (p->failed)
		return false;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->name, line, msg);
	p->failed = true;
	p->fail_line = line;
	return false;
}

static int end_unit(struct parse *p);

/* The header before this one, or the last, had no key under it. */
static void check_empty(struct parse *p)
{
	if (p->header_named && p->header_keys == 0)
		fail(p, p->section_line, "[%s] is empty: a unit needs at "
		     "least a program, a device at least tcp or rtu",
		     p->header);
}

/* A [section] header line: remember it for check_empty. */
static void saw_header(struct parse *p, const char *line, size_t len)
{
	const char *end = memchr(line, ']', len);
	size_t n = end ? (size_t)(end - line) - 1 : 0;

	end_unit(p);
	check_empty(p);
	p->section_line = p->line;
	p->new_section = true;
	p->header_keys = 0;
	if (n >= sizeof(p->header))
		n = sizeof(p->header) - 1; /* a long name: its start will do */
	vg_strslice(p->header, sizeof(p->header), line + 1, n);
	p->header_named = !strncmp(p->header, "unit ", 5) ||
			  !strncmp(p->header, "device ", 7);
}

/*
 * An indented line that is not blank or a comment: inih would take it as
 * the continuation of the previous value, whatever it looks like.
 */
static void check_indent(struct parse *p, const char *line)
{
	size_t ws = strspn(line, " \t\v\f\r");
	int n = (int)strcspn(line + ws, "\r\n");

	if (ws > 0 && !strchr("\n;#", line[ws]))
		fail(p, p->line, "indented line: inih would add it to the "
		     "value above (\"%.*s%s\"); remove the indentation",
		     n > 32 ? 32 : n, line + ws, n > 32 ? "..." : "");
}

/* inih reader over memory, counting lines as it hands them out. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *nl;
	size_t len, take;

	if (!*p->pos) {
		end_unit(p);
		check_empty(p);
		p->header_named = false; /* inih may ask again */
		return NULL;
	}
	nl = strchr(p->pos, '\n');
	len = nl ? (size_t)(nl - p->pos) + 1 : strlen(p->pos);
	take = len < (size_t)num - 1 ? len : (size_t)num - 1;
	p->line++;
	check_indent(p, p->pos);
	if (p->pos[0] == '[')
		saw_header(p, p->pos, len);
	if (take < len && !p->long_line) {
		p->long_line = true;
		fail(p, p->line, "line longer than %d characters", num - 2);
	}
	vg_strslice(str, (size_t)num, p->pos, take);
	p->pos += len;
	return str;
}

static bool copy(char *dst, size_t size, const char *v)
{
	return vg_strslice(dst, size, v, strlen(v));
}

static bool parse_int(const char *v, long min, long max, int *out)
{
	long long n;

	if (vg_int_parse(v, min, max, &n) != VG_OK)
		return false;
	*out = (int)n;
	return true;
}

/* yes/true/on/1 or no/false/off/0 into *out; false for anything else. */
static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1", NULL };
	static const char *const no[] = { "no", "false", "off", "0", NULL };

	for (int i = 0; yes[i]; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*out = strcmp(v, yes[i]) == 0;
			return true;
		}
	}
	return false;
}

#define INT_KEY(k, field, lo, hi)                                            \
	if (strcmp(key, k) == 0) {                                           \
		if (!parse_int(v, lo, hi, &(field)))                         \
			return fail(p, p->line, "%s must be an integer in "  \
				    "%d..%d", k, lo, hi);                    \
		return true;                                                 \
	}
#define STR_KEY(k, field)                                                    \
	if (strcmp(key, k) == 0) {                                           \
		if (!copy(field, sizeof(field), v))                          \
			return fail(p, p->line, "%s is too long", k);        \
		return true;                                                 \
	}

static bool unknown(struct parse *p, const char *key)
{
	return fail(p, p->line, "unknown key '%s' in [%s]", key, p->section);
}

static bool site_key(struct parse *p, const char *key, const char *v)
{
	struct agent_config *c = p->cfg;

	if (strcmp(key, "id") == 0) {
		if (!vg_ident_valid(v, strlen(v)))
			return fail(p, p->line, "site id '%s' must be 1-48 "
				    "characters of [A-Za-z0-9._-]", v);
		vg_strlcpy(c->site, v, sizeof(c->site));
		return true;
	}
	if (strcmp(key, "region") == 0) {
		c->region = vg_region_parse(v, strlen(v));
		if (c->region < 1)
			return fail(p, p->line, "region must be 01..17, not "
				    "'%s'", v);
		return true;
	}
	return unknown(p, key);
}

static bool broker_tls(struct parse *p, const char *v)
{
	bool b;

	if (!parse_bool(v, &b))
		return fail(p, p->line, "tls must be yes or no (on or off)");
	p->cfg->tls = b;
	p->tls_key = b;
	p->tls_line = p->line;
	return true;
}

/* 5 by default; 3.1.1 only for a broker that mishandles MQTT 5. */
static bool broker_version(struct parse *p, const char *v)
{
	if (strcmp(v, "5") != 0 && strcmp(v, "3.1.1") != 0)
		return fail(p, p->line, "mqtt_version must be 5 or 3.1.1");
	p->cfg->mqtt_v311 = strcmp(v, "3.1.1") == 0;
	return true;
}

/*
 * One address or a comma-separated list of them (failover, in this
 * order).  Ports left out are filled from port = in finish(), which may
 * come after this line.
 */
static bool broker_host(struct parse *p, const char *v)
{
	char why[AGENT_ERR_MAX / 2];

	p->host_line = p->line;
	if (vg_broker_list_parse(v, p->cfg->brokers, &p->cfg->nbrokers,
				 VG_BROKERS_MAX, why, sizeof(why)) != VG_OK)
		return fail(p, p->line, "[broker] host: %s", why);
	return true;
}

static bool broker_key(struct parse *p, const char *key, const char *v)
{
	struct agent_config *c = p->cfg;

	if (strcmp(key, "host") == 0)
		return broker_host(p, v);
	INT_KEY("port", c->port, 1, 65535);
	INT_KEY("keepalive", c->keepalive, 5, 3600);
	STR_KEY("username", c->username);
	STR_KEY("password", c->password);
	STR_KEY("password_file", c->password_file);
	STR_KEY("ca_file", c->ca_file);
	STR_KEY("ca_path", c->ca_path);
	STR_KEY("cert_file", c->cert_file);
	STR_KEY("key_file", c->key_file);
	if (strcmp(key, "client_id") == 0) {
		if (!vg_ident_valid(v, strlen(v)))
			return fail(p, p->line, "client_id must be 1-48 "
				    "characters of [A-Za-z0-9._-]");
		vg_strlcpy(c->client_id, v, sizeof(c->client_id));
		return true;
	}
	if (strcmp(key, "prefix") == 0) {
		if (strlen(v) > VG_PREFIX_MAX || !vg_prefix_valid(v))
			return fail(p, p->line, "prefix '%s' is not a valid "
				    "topic prefix", v);
		vg_strlcpy(c->prefix, v, sizeof(c->prefix));
		return true;
	}
	if (strcmp(key, "tls") == 0)
		return broker_tls(p, v);
	if (strcmp(key, "mqtt_version") == 0)
		return broker_version(p, v);
	return unknown(p, key);
}

static bool agent_key(struct parse *p, const char *key, const char *v)
{
	struct agent_config *c = p->cfg;

	STR_KEY("data_dir", c->data_dir);
	STR_KEY("control_socket", c->control);
	if (strcmp(key, "log_level") == 0) {
		c->log_level = vg_log_level_parse(v);
		if (c->log_level < 0)
			return fail(p, p->line, "log_level must be error, "
				    "warn, info or debug");
		return true;
	}
	return unknown(p, key);
}

/* "host:port" for Modbus TCP; the port defaults to 502. */
static bool device_tcp(struct parse *p, struct agent_device *d, const char *v)
{
	const char *colon = strrchr(v, ':');
	size_t hl = colon ? (size_t)(colon - v) : strlen(v);

	d->transport = AGENT_TCP;
	if (hl == 0 || !vg_strslice(d->host, sizeof(d->host), v, hl))
		return fail(p, p->line, "tcp must be HOST:PORT");
	d->port = 502;
	if (colon && !parse_int(colon + 1, 1, 65535, &d->port))
		return fail(p, p->line, "bad TCP port in '%s'", v);
	return true;
}

static bool device_parity(struct parse *p, struct agent_device *d,
			 const char *v)
{
	if (!strcmp(v, "N") || !strcmp(v, "none"))
		d->parity = 'N';
	else if (!strcmp(v, "E") || !strcmp(v, "even"))
		d->parity = 'E';
	else if (!strcmp(v, "O") || !strcmp(v, "odd"))
		d->parity = 'O';
	else
		return fail(p, p->line, "parity must be none, even or odd");
	return true;
}

static bool device_key(struct parse *p, const char *key, const char *v)
{
	struct agent_device *d = &p->cfg->devices[p->index];

	if (strcmp(key, "tcp") == 0)
		return device_tcp(p, d, v);
	if (strcmp(key, "rtu") == 0) {
		d->transport = AGENT_RTU;
		STR_KEY("rtu", d->serial);
	}
	if (strcmp(key, "parity") == 0)
		return device_parity(p, d, v);
	if (strcmp(key, "rs485") == 0) {
		if (!parse_bool(v, &d->rs485))
			return fail(p, p->line, "rs485 must be yes or no");
		return true;
	}
	INT_KEY("baud", d->baud, 300, 4000000);
	INT_KEY("data_bits", d->data_bits, 5, 8);
	INT_KEY("stop_bits", d->stop_bits, 1, 2);
	INT_KEY("slave", d->slave, 0, 255);
	INT_KEY("response_timeout_ms", d->response_timeout_ms, 10, 60000);
	INT_KEY("byte_timeout_ms", d->byte_timeout_ms, 1, 60000);
	INT_KEY("retries", d->retries, 0, 10);
	INT_KEY("poll_interval_ms", d->poll_interval_ms, 100, 86400000);
	INT_KEY("frame_gap_ms", d->frame_gap_ms, 0, 1000);
	return unknown(p, key);
}

static bool unit_reg(struct parse *p, struct agent_unit *u, const char *v)
{
	for (int r = 0; r < AGENT_REG_COUNT; r++) {
		if (strcmp(v, agent_config_reg_name(r)) == 0) {
			u->reg = r;
			return true;
		}
	}
	return fail(p, p->line, "register must be holding, input, coil or "
		    "discrete, not '%s'", v);
}

/* Room for n elements of size in arr (capacity *cap): arr or its move. */
static void *grown(struct parse *p, void *arr, int n, int *cap, size_t size)
{
	int want = *cap ? *cap : 16;
	void *g;

	if (n <= *cap)
		return arr;
	while (want < n)
		want *= 2;
	g = realloc(arr, (size_t)want * size);
	if (!g) {
		fail(p, p->line, "out of memory");
		return NULL;
	}
	*cap = want;
	return g;
}

/* text into the config's string pool: its offset, or -1. */
static long pool_add(struct parse *p, const char *text)
{
	struct agent_config *c = p->cfg;
	size_t n = strlen(text) + 1, want = p->scap ? p->scap : 1024;
	char *g;

	while (want < c->nstrs + n)
		want *= 2;
	if (want > p->scap) {
		if (!(g = realloc(c->strs, want))) {
			fail(p, p->line, "out of memory");
			return -1;
		}
		c->strs = g;
		p->scap = want;
		/* the pool moved: units' ids point into it */
		for (int i = 0; i < c->nunits; i++)
			c->units[i].id = g + p->extra[i].id;
	}
	memcpy(c->strs + c->nstrs, text, n);
	c->nstrs += n;
	return (long)(c->nstrs - n);
}

static bool map_equal(const struct agent_map *a, const struct agent_map *b)
{
	return a->n == b->n && memcmp(a->state, b->state, a->n) == 0 &&
	       memcmp(a->value, b->value, a->n * sizeof(a->value[0])) == 0;
}

/* m as u's map: the config's equal entry, or a new one. */
static bool map_intern(struct parse *p, struct agent_unit *u,
		       const struct agent_map *m)
{
	struct agent_config *c = p->cfg;
	struct agent_map *g;
	int i;

	for (i = 0; i < c->nmaps && !map_equal(&c->maps[i], m); i++)
		;
	if (i == c->nmaps) {
		if (!(g = grown(p, c->maps, c->nmaps + 1, &p->mcap,
				sizeof(*g))))
			return false;
		c->maps = g;
		c->maps[c->nmaps++] = *m;
	}
	u->map = (uint16_t)(i + 1);
	return true;
}

/* "0=pending 1=migrating 2=migrated 3=retired" */
static bool unit_map(struct parse *p, struct agent_unit *u, const char *v)
{
	char buf[AGENT_PATH_MAX], *save = NULL, *tok;
	struct agent_map m;
	int value, st;

	if (!copy(buf, sizeof(buf), v))
		return fail(p, p->line, "map is too long");
	memset(&m, 0, sizeof(m));
	for (tok = strtok_r(buf, " \t,", &save); tok;
	     tok = strtok_r(NULL, " \t,", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			return fail(p, p->line, "map entry '%s' is not "
				    "VALUE=STATE", tok);
		*eq = '\0';
		st = vg_state_parse(eq + 1, strlen(eq + 1));
		if (!parse_int(tok, 0, 65535, &value))
			return fail(p, p->line, "map value '%s' is not "
				    "0..65535", tok);
		if (st < 0 || st == VG_STATE_UNKNOWN)
			return fail(p, p->line, "map state '%s' is not pending,"
				    " migrating, migrated or retired", eq + 1);
		if (m.n == AGENT_MAP_MAX)
			return fail(p, p->line, "at most %d map entries",
				    AGENT_MAP_MAX);
		m.value[m.n] = (uint16_t)value;
		m.state[m.n++] = (uint8_t)st;
	}
	u->map = 0;             /* none given: the default map, later */
	return m.n == 0 || map_intern(p, u, &m);
}

static bool value_name_ok(const char *s)
{
	size_t n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_");

	return s[0] >= 'a' && s[0] <= 'z' && !s[n] &&
	       n <= AGENT_VALUE_NAME_MAX && strcmp(s, "and") != 0 &&
	       strcmp(s, "or") != 0 && strcmp(s, "in") != 0;
}

/* "value NAME = REGISTER ADDRESS [TYPE] [KEY=VALUE]..." */
static int unit_value(struct parse *p, struct agent_unit *u, const char *name,
		      const char *spec)
{
	struct agent_config *c = p->cfg;
	char why[AGENT_ERR_MAX / 2];
	struct agent_value *v;
	void *g;

	if (!value_name_ok(name))
		return fail(p, p->line, "value name '%s' must be 1-%d of a-z "
			    "0-9 _ from a letter, not and, or, in", name,
			    AGENT_VALUE_NAME_MAX);
	if (u->nvalues == AGENT_UNIT_VALUES_MAX)
		return fail(p, p->line, "at most %d values in a unit",
			    AGENT_UNIT_VALUES_MAX);
	g = grown(p, c->values, c->nvalues + 1, &p->vcap, sizeof(*c->values));
	if (!g)
		return 0;
	c->values = g;
	v = &c->values[c->nvalues];
	memset(v, 0, sizeof(*v));
	vg_strlcpy(v->name, name, sizeof(v->name));
	if (agent_value_spec(v, spec, why, sizeof(why)) != VG_OK ||
	    agent_value_check(v, why, sizeof(why)))
		return fail(p, p->line, "value %s: %s", name, why);
	if (u->nvalues++ == 0)
		u->value0 = c->nvalues;
	c->nvalues++;
	p->extra[p->index].address = true;
	return 1;
}

/*
 * "STATE = CONDITIONS" or "default = STATE", in the order of the file:
 * kept as text until the section ends and every value is known.
 */
static int unit_rule(struct parse *p, struct agent_unit *u, const char *key,
		     const char *v)
{
	struct agent_config *c = p->cfg;
	bool dflt = strcmp(key, "default") == 0;
	int st = vg_state_parse(dflt ? v : key, strlen(dflt ? v : key));
	long text;
	void *g;

	if (p->default_line)
		return fail(p, p->line, "%s after default (line %d) can never "
			    "apply: default goes last", key, p->default_line);
	if (st < 0 || st == VG_STATE_UNKNOWN)
		return fail(p, p->line, "default must be pending, migrating, "
			    "migrated or retired, not '%s'", v);
	g = grown(p, c->rules, c->nrules + 1, &p->rcap, sizeof(*c->rules));
	if (!g)
		return 0;
	c->rules = g;
	if ((text = pool_add(p, v)) < 0)
		return 0;
	c->rules[c->nrules] = (struct agent_rule){ .text = (uint32_t)text,
		.line = p->line, .state = (uint8_t)st, .cond0 = dflt ? -1 : 0 };
	if (u->nrules++ == 0)
		u->rule0 = c->nrules;
	c->nrules++;
	if (dflt)
		p->default_line = p->line;
	return 1;
}

/* A rule's key: a state a rule gives, or default. */
static bool rule_key(const char *key)
{
	int st = vg_state_parse(key, strlen(key));

	return !strcmp(key, "default") || (st >= 0 && st != VG_STATE_UNKNOWN);
}

static bool unit_key(struct parse *p, const char *key, const char *v)
{
	struct agent_unit *u = &p->cfg->units[p->index];
	char why[AGENT_ERR_MAX / 2];
	int n;

	if (strcmp(key, "program") == 0) {
		if ((n = vg_program_parse(v, strlen(v))) < 0)
			return fail(p, p->line, "program must be renir or rgt,"
				    " not '%s'", v);
		u->program = (uint8_t)n;
		return true;
	}
	if (strcmp(key, "source") == 0) {
		if (strcmp(v, "manual") != 0 && strcmp(v, "modbus") != 0)
			return fail(p, p->line, "source must be modbus or "
				    "manual");
		u->manual = strcmp(v, "manual") == 0;
		return true;
	}
	if (strcmp(key, "device") == 0) {
		if (!vg_ident_valid(v, strlen(v)))
			return fail(p, p->line, "bad device name '%s'", v);
		vg_strlcpy(p->extra[p->index].devname, v,
			   sizeof(p->extra[p->index].devname));
		return true;
	}
	if (strcmp(key, "register") == 0)
		return unit_reg(p, u, v);
	if (strcmp(key, "address") == 0) {
		if (!parse_int(v, 0, 65535, &n))
			return fail(p, p->line, "address must be 0..65535");
		u->address = (uint16_t)n;
		p->extra[p->index].address = true;
		return true;
	}
	if (strcmp(key, "map") == 0)
		return unit_map(p, u, v);
	if (strncmp(key, "value ", 6) == 0)
		return unit_value(p, u, key + 6, v);
	if (rule_key(key))
		return unit_rule(p, u, key, v);
	n = agent_value_key(&p->uval, key, v, why, sizeof(why));
	if (n != VG_ERR_NOTFOUND)
		return n == VG_OK ? 1 : fail(p, p->line, "%s", why);
	return unknown(p, key);
}

/* The line of key in the section being read, or dflt. */
static int key_line(const struct parse *p, const char *key, int dflt)
{
	for (int k = 0; k < p->nkeys; k++) {
		if (strcmp(p->keys[k], key) == 0)
			return p->key_line[k];
	}
	return dflt;
}

/* Type keys or rules on the plain register: it is the value "value". */
static int plain_value(struct parse *p, struct agent_unit *u)
{
	struct agent_config *c = p->cfg;
	char why[AGENT_ERR_MAX / 2];
	const char *key;
	void *g = grown(p, c->values, c->nvalues + 1, &p->vcap,
			sizeof(*c->values));

	if (!g)
		return 0;
	c->values = g;
	p->uval.reg = (uint8_t)u->reg;
	p->uval.address = u->address;
	vg_strlcpy(p->uval.name, "value", sizeof(p->uval.name));
	if ((key = agent_value_check(&p->uval, why, sizeof(why))))
		return fail(p, key_line(p, key, u->line), "%s", why);
	c->values[c->nvalues] = p->uval;
	u->value0 = c->nvalues++;
	u->nvalues = 1;
	return 1;
}

/* Values of a unit share registers only as one span (bit fields). */
static int check_overlap(struct parse *p, const struct agent_unit *u)
{
	const struct agent_value *v;
	char key[KEY_NAME_MAX];

	if (u->nvalues < 2)
		return 1;
	v = &p->cfg->values[u->value0];
	for (int a = 1; a < u->nvalues; a++) {
		for (int b = 0; b < a; b++) {
			if (v[a].reg != v[b].reg ||
			    (v[a].address == v[b].address &&
			     v[a].nregs == v[b].nregs) ||
			    v[a].address >= v[b].address + v[b].nregs ||
			    v[b].address >= v[a].address + v[a].nregs)
				continue;
			snprintf(key, sizeof(key), "value %s", v[a].name);
			return fail(p, key_line(p, key, u->line), "value %s "
				    "overlaps value %s: values share registers "
				    "only as the same span (bit fields of one "
				    "word)", v[a].name, v[b].name);
		}
	}
	return 1;
}

/* Each rule's conditions, typed against the unit's values. */
static int parse_rules(struct parse *p, const struct agent_unit *u)
{
	struct agent_config *c = p->cfg;
	char why[AGENT_ERR_MAX / 2];

	for (int k = 0; k < u->nrules; k++) {
		struct agent_rule *r = &c->rules[u->rule0 + k];
		void *g;
		int n = 0;

		if (r->cond0 < 0) { /* default */
			r->cond0 = c->nconds;
			continue;
		}
		g = grown(p, c->conds, c->nconds + AGENT_RULE_CONDS_MAX,
			  &p->ccap, sizeof(*c->conds));
		if (!g)
			return 0;
		c->conds = g;
		if (agent_rule_parse(c->strs + r->text, &c->values[u->value0],
				     u->nvalues, &c->conds[c->nconds], &n, why,
				     sizeof(why)) != VG_OK)
			return fail(p, r->line, "%s", why);
		r->cond0 = c->nconds;
		r->ncond = (uint8_t)n;
		c->nconds += n;
	}
	return 1;
}

/* A [unit] section ended: its values and rules as a whole. */
static int end_unit(struct parse *p)
{
	static const char *const where[] = { "register", "address", "type",
		"byte_order", "word_order", "mask", "shift", "length" };
	struct agent_unit *u;
	const char *key = NULL;

	if (!p->unit_open || p->failed)
		return 0;
	p->unit_open = false;
	u = &p->cfg->units[p->index];
	for (int k = 0; k < 8 && !key; k++)
		key = key_line(p, where[k], 0) ? where[k] : NULL;
	if (u->manual && (p->uval.keys || u->nvalues || u->nrules))
		return fail(p, u->line, "unit '%s' is manual: it has no "
			    "values, types or rules", u->id);
	if (u->nvalues && key)
		return fail(p, key_line(p, key, u->line), "%s in a unit with "
			    "value lines: each value line says where and how "
			    "it is read", key);
	if (!u->nvalues && (p->uval.keys || u->nrules) && !plain_value(p, u))
		return 0;
	if (!check_overlap(p, u))
		return 0;
	if (u->nrules && u->map)
		return fail(p, key_line(p, "map", u->line), "map and rules: "
			    "give one or the other (map 2=migrated is the rule "
			    "migrated = value == 2)");
	if (u->nvalues && !u->nrules && (u->nvalues > 1 ||
	    agent_value_kind(&p->cfg->values[u->value0]) > AGENT_K_UINT))
		return fail(p, u->line, "unit '%s' needs rules (migrated = "
			    "...): a map reads one whole number", u->id);
	return parse_rules(p, u);
}

static void device_defaults(struct agent_device *d, int line)
{
	memset(d, 0, sizeof(*d));
	d->transport = -1;
	d->baud = 19200;
	d->parity = 'N';
	d->data_bits = 8;
	d->stop_bits = 1;
	d->slave = 1;
	d->response_timeout_ms = 500;
	d->byte_timeout_ms = 100;
	d->retries = 1;
	d->poll_interval_ms = 1000;
	d->frame_gap_ms = 5;
	d->line = line;
}

static bool new_device(struct parse *p, const char *name)
{
	struct agent_config *c = p->cfg;
	struct agent_device *g;

	if (!vg_ident_valid(name, strlen(name)))
		return fail(p, p->section_line, "bad device name '%s'", name);
	for (int i = 0; i < c->ndevices; i++) {
		if (strcmp(c->devices[i].name, name) == 0)
			return fail(p, p->section_line, "device '%s' already declared"
				    " at line %d", name, c->devices[i].line);
	}
	if (c->ndevices == AGENT_DEVICES_MAX)
		return fail(p, p->section_line, "more than %d devices",
			    AGENT_DEVICES_MAX);
	g = grown(p, c->devices, c->ndevices + 1, &p->dcap, sizeof(*g));
	if (!g)
		return false;
	c->devices = g;
	p->index = c->ndevices++;
	device_defaults(&c->devices[p->index], p->section_line);
	vg_strlcpy(c->devices[p->index].name, name, sizeof(c->devices[p->index].name));
	p->kind = SEC_DEVICE;
	return true;
}

static bool grow_units(struct parse *p)
{
	int cap = p->cap ? p->cap * 2 : 64;
	void *u, *d;

	u = realloc(p->cfg->units, (size_t)cap * sizeof(*p->cfg->units));
	if (u)
		p->cfg->units = u;
	d = realloc(p->extra, (size_t)cap * sizeof(*p->extra));
	if (d)
		p->extra = d;
	if (!u || !d)
		return fail(p, p->section_line, "out of memory");
	p->cap = cap;
	return true;
}

static bool new_unit(struct parse *p, const char *id)
{
	struct agent_config *c = p->cfg;
	struct agent_unit *u;
	long off;
	int prev;

	if (!vg_ident_valid(id, strlen(id)))
		return fail(p, p->section_line, "unit id '%s' must be 1-48 characters"
			    " of [A-Za-z0-9._-]", id);
	if ((prev = agent_config_unit_find(c, id)) >= 0)
		return fail(p, p->section_line, "unit '%s' already declared at line "
			    "%d", id, c->units[prev].line);
	if (c->nunits == AGENT_UNITS_MAX)
		return fail(p, p->section_line, "more than %d units", AGENT_UNITS_MAX);
	if (c->nunits == p->cap && !grow_units(p))
		return false;
	p->index = c->nunits++;
	u = &c->units[p->index];
	memset(u, 0, sizeof(*u));
	memset(&p->extra[p->index], 0, sizeof(p->extra[p->index]));
	u->program = AGENT_PROGRAM_UNSET;
	u->device = -1;
	u->line = p->section_line;
	if ((off = pool_add(p, id)) < 0)
		return false;
	p->extra[p->index].id = (size_t)off;
	u->id = c->strs + off;
	memset(&p->uval, 0, sizeof(p->uval));
	p->default_line = 0;
	p->unit_open = true;
	p->kind = SEC_UNIT;
	return true;
}

/* [site], [broker] or [agent]: once each, or keys would merge unseen. */
static bool enter_single(struct parse *p, const char *section)
{
	static const char *const names[] = { "site", "broker", "agent" };

	for (int k = 0; k < 3; k++) {
		if (strcmp(section, names[k]) != 0)
			continue;
		if (p->single_line[k])
			return fail(p, p->section_line, "[%s] already given at "
				    "line %d", section, p->single_line[k]);
		p->single_line[k] = p->section_line;
		p->kind = (enum section)(SEC_SITE + k);
		return true;
	}
	return fail(p, p->section_line, "unknown section [%s]", section);
}

/* A new [section] header: decide its kind once. */
static bool enter_section(struct parse *p, const char *section)
{
	const char *arg = strchr(section, ' ');

	copy(p->section, sizeof(p->section), section);
	p->kind = SEC_NONE;
	if (!section[0])
		return fail(p, p->line, "key outside any [section]");
	if (!arg)
		return enter_single(p, section);
	while (*arg == ' ')
		arg++;
	if (!strncmp(section, "device ", 7))
		return new_device(p, arg);
	if (!strncmp(section, "unit ", 5))
		return new_unit(p, arg);
	return fail(p, p->section_line, "unknown section [%s]", section);
}

/* A key given twice in one section: which one was meant is anyone's guess. */
static bool first_time(struct parse *p, const char *key)
{
	for (int k = 0; k < p->nkeys; k++) {
		if (strcmp(p->keys[k], key) == 0) {
			fail(p, p->line, "%s given twice in [%s] (first at "
			     "line %d)", key, p->section, p->key_line[k]);
			return false;
		}
	}
	if (p->nkeys < SECTION_KEYS_MAX && strlen(key) < KEY_NAME_MAX) {
		vg_strlcpy(p->keys[p->nkeys], key, KEY_NAME_MAX);
		p->key_line[p->nkeys++] = p->line;
	}
	return true;
}

/* One key = value line of the current section (errors go into p). */
static void handle(struct parse *p, const char *section, const char *key,
		   const char *value)
{
	static bool (*const keys[])(struct parse *, const char *,
				    const char *) = {
		[SEC_SITE] = site_key, [SEC_BROKER] = broker_key,
		[SEC_AGENT] = agent_key, [SEC_DEVICE] = device_key,
		[SEC_UNIT] = unit_key,
	};

	p->header_keys++;
	if (p->new_section || strcmp(section, p->section) != 0) {
		p->new_section = false; /* "[unit A]" twice is two sections */
		p->nkeys = 0;
		if (!enter_section(p, section))
			return;
	}
	if (first_time(p, key) && p->kind != SEC_NONE)
		keys[p->kind](p, key, value);
}

/*
 * inih's callback, whose contract is nonzero to go on: it always goes on.
 * The first error is kept in p (later ones are mostly its echo), and a
 * syntax error inih finds further down is weighed against it by line in
 * agent_config_parse.
 */
static int handler(void *user, const char *section, const char *key,
		   const char *value)
{
	struct parse *p = user;

	if (!p->failed)
		handle(p, section, key, value);
	return 1;
}

static bool check_device(struct parse *p, const struct agent_device *d)
{
	if ((int)d->transport < 0)
		return fail(p, d->line, "device '%s' needs tcp = HOST:PORT or "
			    "rtu = SERIAL-DEVICE", d->name);
	if (d->transport == AGENT_RTU && (d->slave < 1 || d->slave > 247))
		return fail(p, d->line, "device '%s': an RTU slave id is "
			    "1..247", d->name);
	return true;
}

static bool resolve_unit(struct parse *p, int i)
{
	struct agent_config *c = p->cfg;
	struct agent_unit *u = &c->units[i];

	if (u->program == AGENT_PROGRAM_UNSET)
		return fail(p, u->line, "unit '%s' needs a program (renir or "
			    "rgt)", u->id);
	if (u->manual)
		return true;
	for (int d = 0; d < c->ndevices; d++) {
		if (strcmp(c->devices[d].name, p->extra[i].devname) == 0)
			u->device = (int8_t)d;
	}
	if (!p->extra[i].devname[0])
		return fail(p, u->line, "unit '%s' needs a device (or source "
			    "= manual)", u->id);
	if (u->device < 0)
		return fail(p, u->line, "unit '%s': no device named '%s'",
			    u->id, p->extra[i].devname);
	if (!p->extra[i].address)
		return fail(p, u->line, "unit '%s' needs an address (the "
			    "register it is read from)", u->id);
	if (u->map == 0 && u->nrules == 0) {
		/* bits: 0 = still on the old network, 1 = migrated */
		static const uint8_t reg[] = { VG_STATE_PENDING,
			VG_STATE_MIGRATING, VG_STATE_MIGRATED,
			VG_STATE_RETIRED };
		struct agent_value tmp;
		struct agent_map m;
		bool bit = agent_config_value(c, u, 0, &tmp)->type ==
			   AGENT_T_BIT;

		memset(&m, 0, sizeof(m));
		m.n = bit ? 2 : 4;
		for (int k = 0; k < m.n; k++) {
			m.value[k] = (uint16_t)k;
			m.state[k] = bit && k ? VG_STATE_MIGRATED : reg[k];
		}
		return map_intern(p, u, &m);
	}
	return true;
}

/* 127.0.0.0/8, ::1 (also v4-mapped) or "localhost": no resolver asked. */
static bool host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return false;
	return IN6_IS_ADDR_LOOPBACK(&a6) ||
	       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
}

/*
 * Plain text only to this machine's own broker, or where the file says
 * tls = off in so many words: a lost ca_file line must not quietly send
 * credentials and states across the network in clear.
 */
static bool check_plaintext(struct parse *p)
{
	struct agent_config *c = p->cfg;

	if (p->tls_key == 0 && (c->ca_file[0] || c->ca_path[0] ||
				c->cert_file[0]))
		return fail(p, p->tls_line, "tls = off, yet ca_file, ca_path "
			    "or cert_file is set: say which is meant");
	if (c->tls || p->tls_key == 0)
		return true;
	for (int i = 0; i < c->nbrokers; i++) {
		if (!host_is_loopback(c->brokers[i].host))
			return fail(p, p->host_line ? p->host_line : p->line,
				    "[broker] host %s is not this machine and "
				    "TLS is off: set ca_file (TLS), or tls = "
				    "off to send in clear on purpose",
				    c->brokers[i].host);
	}
	return true;
}

/* No host line: this machine's broker.  Then ports, then repeats. */
static bool finish_brokers(struct parse *p)
{
	struct agent_config *c = p->cfg;
	char why[AGENT_ERR_MAX / 2];

	if (c->nbrokers == 0) {
		vg_strlcpy(c->brokers[0].host, "127.0.0.1",
			   sizeof(c->brokers[0].host));
		c->nbrokers = 1;
	}
	if (vg_broker_list_finish(c->brokers, c->nbrokers, c->port, why,
				  sizeof(why)) != VG_OK)
		return fail(p, p->host_line, "[broker] host: %s", why);
	return true;
}

static bool check_tls(struct parse *p)
{
	struct agent_config *c = p->cfg;

	if (c->ca_file[0] || c->ca_path[0] || c->cert_file[0])
		c->tls = true;
	if (!check_plaintext(p))
		return false;
	if (c->tls && !c->ca_file[0] && !c->ca_path[0])
		return fail(p, p->line, "[broker] tls needs ca_file or "
			    "ca_path: the broker is always verified");
	if (!c->cert_file[0] != !c->key_file[0])
		return fail(p, p->line, "[broker] cert_file and key_file go "
			    "together");
	if (c->password[0] && c->password_file[0])
		return fail(p, p->line, "[broker] password and password_file:"
			    " give one or the other");
	return true;
}


bool agent_device_same_bus(const struct agent_device *a,
			   const struct agent_device *b)
{
	if (a->transport != b->transport)
		return false;
	if (a->transport == AGENT_TCP)
		return a->port == b->port && strcmp(a->host, b->host) == 0;
	return strcmp(a->serial, b->serial) == 0;
}

static bool same_slave(const struct agent_device *a,
		       const struct agent_device *b)
{
	return a->slave == b->slave && agent_device_same_bus(a, b);
}

/* Every register span each Modbus unit reads, into r; how many. */
static int reg_refs(const struct agent_config *c, struct agent_reg_ref *r)
{
	int n = 0;

	for (int i = 0; i < c->nunits; i++) {
		const struct agent_unit *u = &c->units[i];
		int d = 0;

		if (u->manual)
			continue;
		while (!same_slave(&c->devices[d], &c->devices[u->device]))
			d++; /* ends at u->device at the latest */
		for (int k = 0; k < agent_config_nvalues(u); k++) {
			struct agent_value tmp;
			const struct agent_value *v =
				agent_config_value(c, u, k, &tmp);

			r[n++] = (struct agent_reg_ref){ d, v->reg, v->address,
						   v->address + v->nregs, i };
		}
	}
	return n;
}

/*
 * Two units on one register would always agree: a copy-paste slip.  A
 * unit's own values may share one (bit fields), checked in end_unit.
 */
static bool check_registers(struct parse *p)
{
	const struct agent_config *c = p->cfg;
	struct agent_reg_ref *r = calloc((size_t)c->nvalues +
					 (size_t)c->nunits + 1, sizeof(*r));
	bool ok = true;
	int n;

	if (!r)
		return fail(p, p->line, "out of memory");
	n = reg_refs(c, r);
	qsort(r, (size_t)n, sizeof(*r), agent_reg_ref_cmp);
	/* last: the span reaching furthest so far in its slave and table */
	for (int k = 1, last = 0; k < n && ok; k++) {
		const struct agent_unit *a = &c->units[r[last].unit];
		const struct agent_unit *b = &c->units[r[k].unit];
		bool group = r[last].dev == r[k].dev && r[last].reg == r[k].reg;

		if (!group || r[k].address >= r[last].end ||
		    r[last].unit == r[k].unit)
			last = !group || r[k].end > r[last].end ? k : last;
		else
			ok = fail(p, b->line, "unit '%s' reads the same %s "
				  "register %d of slave %d as unit '%s' (line "
				  "%d)", b->id, agent_config_reg_name(r[k].reg),
				  r[k].address, c->devices[b->device].slave,
				  a->id, a->line);
	}
	free(r);
	return ok;
}

/* Whole-file checks and defaults, once every section is known. */
/*
 * The units and devices cut to the file's count: they were grown by
 * doubling, and they stay resident as long as the agent runs.
 */
static void fit(struct agent_config *c)
{
	void *g;

	if (c->nunits && (g = realloc(c->units, (size_t)c->nunits *
				      sizeof(*c->units))))
		c->units = g;
	if (c->ndevices && (g = realloc(c->devices, (size_t)c->ndevices *
					sizeof(*c->devices))))
		c->devices = g;
}

static bool finish(struct parse *p)
{
	struct agent_config *c = p->cfg;

	p->line++; /* errors about what is missing point past the end */
	if (!c->site[0])
		return fail(p, p->line, "[site] id is missing");
	if (!c->region)
		return fail(p, p->line, "[site] region is missing");
	if (!finish_brokers(p) || !check_tls(p))
		return false;
	for (int i = 0; i < c->ndevices; i++) {
		if (!check_device(p, &c->devices[i]))
			return false;
	}
	for (int i = 0; i < c->nunits; i++) {
		if (!resolve_unit(p, i))
			return false;
	}
	if (!check_registers(p))
		return false;
	/* brokers bind identity to the user name (use_username_as_clientid):
	 * say the client id they will use */
	if (!c->client_id[0] && c->username[0])
		vg_strlcpy(c->client_id, c->username, sizeof(c->client_id));
	if (!c->client_id[0])
		snprintf(c->client_id, sizeof(c->client_id), "vigie-agent-%s",
			 c->site);
	if (!c->control[0] &&
	    snprintf(c->control, sizeof(c->control), "%s/agent.sock",
		     c->data_dir) >= (int)sizeof(c->control))
		return fail(p, p->line, "data_dir is too long");
	return true;
}

static void defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->port = 1883; /* the host list defaults in finish_brokers */
	c->keepalive = 30;
	vg_strlcpy(c->data_dir, AGENT_DATADIR, sizeof(c->data_dir));
	c->log_level = VG_LOG_INFO;
}

/*
 * FNV-1a 64 of the file's bytes: enough to tell the NOC which of a few
 * configurations a site runs (not a security check), with no dependency.
 */
static void config_hash(const char *text, char *out, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
		h ^= *c;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, size, "%016llx", (unsigned long long)h);
}

int agent_config_parse(struct agent_config *cfg, const char *text,
		       const char *name, char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg, .name = name, .text = text,
			   .pos = text, .err = err, .errlen = errlen,
			   .tls_key = -1 };
	int rc;

	defaults(cfg);
	copy(cfg->path, sizeof(cfg->path), name);
	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc > 0 && (!p.failed || rc < p.fail_line)) {
		p.failed = false; /* a syntax error above wins */
		fail(&p, rc, "syntax error (expected [section] or key = "
		     "value)");
	} else if (rc < 0 && !p.failed)
		fail(&p, 0, "cannot parse");
	if (!p.failed && finish(&p))
		fit(cfg);
	free(p.extra);
	config_hash(text, cfg->hash, sizeof(cfg->hash));
	if (p.failed) {
		agent_config_free(cfg);
		return VG_ERR_PARSE;
	}
	return VG_OK;
}

/* File-system checks on the secrets a parsed config names. */
static int check_secrets(struct agent_config *c, const char *path,
			 char *err, size_t errlen)
{
	int rc = VG_OK;

	if (c->password[0])
		rc = vg_secret_check(path, "config file (it holds a password)",
				     err, errlen);
	if (rc == VG_OK && c->password_file[0])
		rc = vg_secret_read_line(c->password_file, "password_file",
					 c->password, sizeof(c->password),
					 err, errlen);
	if (rc == VG_OK && c->key_file[0])
		rc = vg_secret_check(c->key_file, "key_file", err, errlen);
	return rc;
}

static int parse_file(void *ctx, const char *text, size_t len,
		      const char *path, char *err, size_t errlen)
{
	/* inih reads a C string: a NUL byte would hide the rest */
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		return VG_ERR_PARSE;
	}
	return agent_config_parse(ctx, text, path, err, errlen);
}

int agent_config_load(struct agent_config *cfg, const char *path, char *err,
		      size_t errlen)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = vg_file_load(path, CONFIG_FILE_MAX, parse_file, cfg, err, errlen);
	if (rc == VG_OK) {
		rc = check_secrets(cfg, path, err, errlen);
		if (rc != VG_OK)
			agent_config_free(cfg);
	}
	return rc;
}

void agent_config_free(struct agent_config *cfg)
{
	free(cfg->devices);
	free(cfg->maps);
	free(cfg->units);
	free(cfg->values);
	free(cfg->rules);
	free(cfg->conds);
	free(cfg->strs);
	cfg->devices = NULL;
	cfg->maps = NULL;
	cfg->units = NULL;
	cfg->values = NULL;
	cfg->rules = NULL;
	cfg->conds = NULL;
	cfg->strs = NULL;
	cfg->ndevices = cfg->nmaps = 0;
	cfg->nunits = cfg->nvalues = cfg->nrules = cfg->nconds = 0;
}

int agent_config_unit_find(const struct agent_config *cfg, const char *id)
{
	for (int i = 0; i < cfg->nunits; i++) {
		if (strcmp(cfg->units[i].id, id) == 0)
			return i;
	}
	return VG_ERR_NOTFOUND;
}

int agent_reg_ref_cmp(const void *x, const void *y)
{
	const struct agent_reg_ref *a = x, *b = y;

	if (a->dev != b->dev)
		return a->dev < b->dev ? -1 : 1;
	if (a->reg != b->reg)
		return a->reg < b->reg ? -1 : 1;
	if (a->address != b->address)
		return a->address < b->address ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return a->unit < b->unit ? -1 : a->unit > b->unit;
}

const char *agent_config_reg_name(enum agent_reg r)
{
	static const char *const names[] = { "holding", "input", "coil",
					     "discrete" };

	return (unsigned)r < AGENT_REG_COUNT ? names[r] : NULL;
}

const struct agent_map *agent_config_unit_map(const struct agent_config *c,
					      const struct agent_unit *u)
{
	return u->map && u->map <= c->nmaps ? &c->maps[u->map - 1] : NULL;
}

int agent_config_map(const struct agent_config *c, const struct agent_unit *u,
		     uint16_t value)
{
	const struct agent_map *m = agent_config_unit_map(c, u);

	for (int i = 0; m && i < m->n; i++) {
		if (m->value[i] == value)
			return m->state[i];
	}
	return VG_ERR_NOTFOUND;
}

int agent_config_nvalues(const struct agent_unit *u)
{
	return u->manual ? 0 : u->nvalues ? u->nvalues : 1;
}

const struct agent_value *agent_config_value(const struct agent_config *c,
					     const struct agent_unit *u,
					     int k, struct agent_value *tmp)
{
	bool bit = u->reg == AGENT_REG_COIL || u->reg == AGENT_REG_DISCRETE;

	if (u->nvalues)
		return &c->values[u->value0 + k];
	*tmp = (struct agent_value){ .reg = (uint8_t)u->reg, .nregs = 1,
		.address = u->address, .name = "value",
		.type = bit ? AGENT_T_BIT : AGENT_T_U16 };
	return tmp;
}
