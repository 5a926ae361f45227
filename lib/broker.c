/* Broker address lists and the failover cursor (see vigie/broker.h). */
#include "vigie/broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vigie/err.h"
#include "vigie/str.h"

/*
 * Host names as DNS has them (letters, digits, '-', '.'), and '_' which
 * some internal zones use; a leading '-' would read as an option.
 */
static bool name_valid(const char *s, size_t len)
{
	bool ok = len > 0 && len < VG_BROKER_HOST_MAX && s[0] != '-';

	for (size_t i = 0; ok && i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		     c == '_';
	}
	return ok;
}

static bool ipv6_valid(const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr a;
	bool ok = len > 0 && len < sizeof(buf);

	if (ok) {
		memcpy(buf, s, len);
		buf[len] = '\0';
		ok = inet_pton(AF_INET6, buf, &a) == 1;
	}
	return ok;
}

/* Digits only, 1..65535: no sign, no blank, nothing after; or -1. */
static int port_parse(const char *s, size_t len)
{
	bool ok = len > 0 && len <= 5;
	long v = 0;

	for (size_t i = 0; ok && i < len; i++) {
		ok = s[i] >= '0' && s[i] <= '9';
		v = v * 10 + (s[i] - '0');
	}
	return ok && v >= 1 && v <= 65535 ? (int)v : -1;
}

/* An address cut into its host and port texts (port NULL: not given). */
struct parts {
	const char *host, *port; /* point into the address */
	size_t hl, pl;
};

/* "[ADDR]" or "[ADDR]:PORT": NULL, or what is wrong. */
static const char *split_bracketed(const char *s, size_t len,
				   struct parts *p)
{
	const char *close = memchr(s, ']', len), *end = s + len;
	const char *err = NULL;

	if (!close) {
		err = "a '[' without its ']'";
	} else {
		p->host = s + 1;
		p->hl = (size_t)(close - s) - 1;
		if (!ipv6_valid(p->host, p->hl)) {
			err = "brackets hold an IPv6 address";
		} else if (close + 1 < end && close[1] != ':') {
			err = "only :PORT may follow ']'";
		} else if (close + 1 < end) {
			p->port = close + 2;
			p->pl = (size_t)(end - close) - 2;
		}
	}
	return err;
}

/*
 * Cut s into host and port: brackets, one colon, or none.  Two colons or
 * more without brackets make an IPv6 address, never with a port.
 */
static const char *split(const char *s, size_t len, struct parts *p)
{
	const char *colon = memchr(s, ':', len);
	const char *err = NULL;

	p->host = s;
	p->hl = len;
	p->port = NULL;
	p->pl = 0;
	if (s[0] == '[') {
		err = split_bracketed(s, len, p);
	} else if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) -
				   1)) {
		if (!ipv6_valid(s, len))
			err = "not an IPv6 address (with a port it goes in "
			      "brackets: [ADDR]:PORT)";
	} else if (colon) {
		p->hl = (size_t)(colon - s);
		p->port = colon + 1;
		p->pl = len - p->hl - 1;
	}
	return err;
}

int vg_broker_parse(const char *s, size_t len, struct vg_broker *out,
		    char *why, size_t whylen)
{
	const char *err = len == 0 ? "empty address" : NULL;
	struct parts p = { s, NULL, len, 0 };

	memset(out, 0, sizeof(*out));
	if (!err)
		err = split(s, len, &p);
	/* a host with a colon was checked as an IPv6 address */
	if (!err && !memchr(p.host, ':', p.hl) && !name_valid(p.host, p.hl))
		err = "a host is a name or address of [A-Za-z0-9._-], at most "
		      "127 characters";
	if (!err && p.port && (out->port = port_parse(p.port, p.pl)) < 0)
		err = "the port must be 1..65535";
	if (!err && p.hl >= sizeof(out->host))
		err = "the host is too long";
	if (err) {
		vg_strlcpy(why, err, whylen);
		memset(out, 0, sizeof(*out));
	} else {
		memcpy(out->host, p.host, p.hl);
		out->host[p.hl] = '\0';
	}
	return err ? VG_ERR_PARSE : VG_OK;
}

/* One entry of a list, between commas, without its blanks. */
static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

int vg_broker_list_parse(const char *s, struct vg_broker *list, int *n,
			 int max, char *why, size_t whylen)
{
	char reason[160];
	int k = *n, entry = 0, rc = VG_OK;

	for (const char *p = s; rc == VG_OK; entry++) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *e = p;

		trim(&e, &len);
		if (k == max) {
			snprintf(why, whylen, "more than %d broker addresses",
				 max);
			rc = VG_ERR_PARSE;
		} else if (len == 0) {
			snprintf(why, whylen, "address %d is empty (a comma "
				 "too many?)", entry + 1);
			rc = VG_ERR_PARSE;
		} else if (vg_broker_parse(e, len, &list[k], reason,
					   sizeof(reason)) != VG_OK) {
			snprintf(why, whylen, "address %d '%.*s': %s",
				 entry + 1, len > 64 ? 64 : (int)len, e,
				 reason);
			rc = VG_ERR_PARSE;
		} else {
			k++;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (rc == VG_OK)
		*n = k;
	return rc;
}

int vg_broker_list_finish(struct vg_broker *list, int n, int port,
			  char *why, size_t whylen)
{
	char addr[VG_BROKER_ADDR_MAX];
	int rc = VG_OK;

	for (int i = 0; i < n; i++) {
		if (list[i].port == 0)
			list[i].port = port;
	}
	for (int i = 1; i < n && rc == VG_OK; i++) {
		for (int j = 0; j < i && rc == VG_OK; j++) {
			if (list[i].port != list[j].port ||
			    strcasecmp(list[i].host, list[j].host) != 0)
				continue;
			vg_broker_format(&list[i], addr, sizeof(addr));
			snprintf(why, whylen, "%s is given twice (addresses %d "
				 "and %d)", addr, j + 1, i + 1);
			rc = VG_ERR_PARSE;
		}
	}
	return rc;
}

int vg_broker_format(const struct vg_broker *b, char *buf, size_t size)
{
	bool v6 = strchr(b->host, ':') != NULL;

	return snprintf(buf, size, "%s%s%s:%d", v6 ? "[" : "", b->host,
			v6 ? "]" : "", b->port);
}

void vg_failover_init(struct vg_failover *f, int n)
{
	f->n = n > 0 ? n : 1;
	f->cur = 0;
	f->failed = 0;
}

void vg_failover_ok(struct vg_failover *f)
{
	f->failed = 0;
}

bool vg_failover_failed(struct vg_failover *f)
{
	bool cycle;

	f->cur = (f->cur + 1) % f->n;
	f->failed++;
	cycle = f->failed >= f->n;
	if (cycle)
		f->failed = 0;
	return cycle;
}
