/* Broker address lists and the failover cursor (see vigie/broker.h). */
#include "vigie/broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "vigie/err.h"

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

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Digits only, 1..65535: no sign, no blank, nothing after. */
static int port_parse(const char *s, size_t len)
{
	long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

/* Split s into host and port text: brackets, one colon, or bare IPv6. */
static const char *split(const char *s, size_t len, const char **host,
			 size_t *hl, const char **port, size_t *pl)
{
	const char *colon = memchr(s, ':', len);
	const char *end = s + len, *close;

	*host = s;
	*hl = len;
	*port = NULL;
	*pl = 0;
	if (s[0] == '[') {
		close = memchr(s, ']', len);
		if (!close)
			return "a '[' without its ']'";
		*host = s + 1;
		*hl = (size_t)(close - s) - 1;
		if (!ipv6_valid(*host, *hl))
			return "brackets hold an IPv6 address";
		if (close + 1 < end && close[1] != ':')
			return "only :PORT may follow ']'";
		colon = close + 1 < end ? close + 1 : NULL;
	} else if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1))) {
		/* two colons or more: an IPv6 address, never with a port */
		return ipv6_valid(s, len) ? NULL :
		       "not an IPv6 address (with a port it goes in brackets: "
		       "[ADDR]:PORT)";
	} else if (colon) {
		*hl = (size_t)(colon - s);
	}
	if (colon) {
		*port = colon + 1;
		*pl = (size_t)(end - colon - 1);
	}
	return NULL;
}

int vg_broker_parse(const char *s, size_t len, struct vg_broker *out,
		    char *why, size_t whylen)
{
	const char *host = s, *port = NULL, *err = NULL;
	size_t hl = len, pl = 0;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		err = "empty address";
	if (!err)
		err = split(s, len, &host, &hl, &port, &pl);
	if (!err && s[0] != '[' && !memchr(host, ':', hl) &&
	    !name_valid(host, hl))
		err = "a host is a name or address of [A-Za-z0-9._-], at most "
		      "127 characters";
	if (!err && port && (out->port = port_parse(port, pl)) < 0)
		err = "the port must be 1..65535";
	if (!err && hl >= sizeof(out->host))
		err = "the host is too long";
	if (err) {
		snprintf(why, whylen, "%s", err);
		memset(out, 0, sizeof(*out));
	} else {
		memcpy(out->host, host, hl);
		out->host[hl] = '\0';
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
